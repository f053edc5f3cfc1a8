/**
 * Checks shared by the durable backends before they write: what they cannot store faithfully is
 * refused up front, as a storage error, and nothing is written. The engine only hands over facts it
 * sealed or verified, so these are cheap structural checks, not a second fact validation.
 */
import { storageError, type StorageError } from '../errors.js';
import { HASH_BYTES, SIGNATURE_BYTES } from '../facts/codec.js';
import { MAX_ORIGIN_LENGTH } from '../limits.js';
import type { LogMetadata } from '../log/event-log.js';
import type { FactEntry } from '../log/fact-entry.js';

const isBytes = (b: unknown, length: number): boolean => b instanceof Uint8Array && b.length === length;

/** Why `metadata` cannot be stored, or undefined. */
export function metadataProblem(metadata: LogMetadata): string | undefined {
  for (const key of ['snapshot', 'history', 'pending'] as const) {
    const v = metadata[key];
    if (v !== undefined && typeof v !== 'string') return `${key} must be a string`;
  }
  return undefined;
}

/** Why `entry` cannot be stored, or undefined. */
function entryProblem(entry: FactEntry): string | undefined {
  if (typeof entry !== 'object' || entry === null) return 'not an object';
  const { origin, counter, prev, hash, sig } = entry;
  if (typeof origin !== 'string' || origin.length === 0 || origin.length > MAX_ORIGIN_LENGTH) return 'bad origin';
  if (!Number.isSafeInteger(counter) || counter < 1) return 'counter must be a positive integer';
  if (!isBytes(hash, HASH_BYTES)) return `hash must be ${HASH_BYTES} bytes`;
  if (sig !== undefined && !isBytes(sig, SIGNATURE_BYTES)) return `sig must be ${SIGNATURE_BYTES} bytes`;
  // Backends rely on this rule: a stored body without prev and a counter above 1 means "the
  // previous row's hash" (see sqlite/event-log.ts).
  if (counter === 1 ? prev !== null : !isBytes(prev, HASH_BYTES)) return 'prev must be null exactly for counter 1';
  if (typeof entry.hlc !== 'object' || entry.hlc === null) return 'missing hlc';
  return metadataProblem(entry);
}

/** A storage error naming the first entry of `entries` that cannot be stored, or undefined. */
export function checkStorable(entries: readonly FactEntry[]): StorageError | undefined {
  for (let i = 0; i < entries.length; i++) {
    const problem = entryProblem(entries[i]!);
    if (problem !== undefined)
      return storageError(`entry ${i} of the batch cannot be stored: ${problem}; nothing was written`);
  }
  return undefined;
}

/** The error of a log whose stored entries do not decode (`where` names the backend and file): never a guess. */
export const corruptLog = (where: string, space: string, problem: string): StorageError =>
  storageError(`${where}: corrupt log of space ${JSON.stringify(space)}: ${problem}`, undefined, 'corrupt');

/** The error every call on a closed storage returns. */
export const closedStorage = (name: string): StorageError => storageError(`${name} is closed`);
