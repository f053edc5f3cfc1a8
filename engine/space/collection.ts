/**
 * A named collection of items inside a space. Thin: validation of the caller's input happens here
 * (so the error names the argument), writes go to the space's write path and reads to its views.
 */
import { errAsync, type ResultAsync } from 'neverthrow';
import { invalidInput, type WriteError } from '../errors.js';
import { checkFieldName, checkId } from '../facts/codec.js';
import type { FactType, JsonObject, JsonValue } from '../facts/types.js';
import type { Collection } from '../peer/types.js';
import type { ItemView } from '../state/view.js';

/** What a collection needs from its space. */
export interface CollectionHost {
  write(type: FactType, collection: string, item: string, data?: JsonObject): ResultAsync<void, WriteError>;
  /** An update of one field (`write('update', …, { [field]: value })` without building that object). */
  writeField(collection: string, item: string, field: string, value: JsonValue): ResultAsync<void, WriteError>;
  newItemId(): string;
  view(collection: string, item: string): ItemView | undefined;
  viewAll(collection: string): ItemView[];
}

export class CollectionImpl<T extends object> implements Collection<T> {
  readonly name: string;
  readonly #space: CollectionHost;
  readonly #badName: string | undefined;

  constructor(space: CollectionHost, name: string) {
    this.#space = space;
    this.name = name;
    this.#badName = checkId(name, 'collection name')?.message;
  }

  create(data: T, id?: string): ResultAsync<string, WriteError> {
    if (this.#badName !== undefined) return errAsync(invalidInput(this.#badName));
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      return errAsync(invalidInput('create takes a plain object'));
    }
    const itemId = id ?? this.#space.newItemId();
    return this.#space.write('create', this.name, itemId, data as JsonObject).map(() => itemId);
  }

  update<K extends keyof T & string>(id: string, field: K, value: T[K]): ResultAsync<void, WriteError> {
    if (this.#badName !== undefined) return errAsync(invalidInput(this.#badName));
    const badField = checkFieldName(field);
    if (badField !== undefined) return errAsync(invalidInput(badField.message));
    if (value === undefined) return errAsync(invalidInput(`value of ${field} is undefined (use null)`));
    return this.#space.writeField(this.name, id, field, value as JsonValue);
  }

  delete(id: string): ResultAsync<void, WriteError> {
    if (this.#badName !== undefined) return errAsync(invalidInput(this.#badName));
    return this.#space.write('delete', this.name, id);
  }

  get(id: string): ItemView<T> | undefined {
    if (this.#badName !== undefined || typeof id !== 'string') return undefined;
    return this.#space.view(this.name, id) as ItemView<T> | undefined;
  }

  all(): ItemView<T>[] {
    if (this.#badName !== undefined) return [];
    return this.#space.viewAll(this.name) as ItemView<T>[];
  }
}
