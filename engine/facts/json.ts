/**
 * JSON values in Shoal's canonical binary form. One value has exactly one encoding: object keys in
 * ascending UTF-16 order, integers of magnitude below 2^52 as zigzag varints (so -0 is 0; their
 * zigzag stays a safe integer), every other number as float64.
 *
 *   0 null · 1 false · 2 true · 3 int · 4 float64 · 5 string · 6 array(count) · 7 object(count)
 *
 * Writing validates at the same time (finite numbers, well-formed strings, plain objects, no
 * `__proto__` key, bounded depth), so a local write pays one pass for both.
 */
import { MAX_ID_BYTES, MAX_ID_LENGTH, MAX_JSON_DEPTH, MAX_VALUE_BYTES } from '../limits.js';
import type { Reader, Writer } from './bytes.js';
import type { JsonObject, JsonValue } from './types.js';

const NULL = 0;
const FALSE = 1;
const TRUE = 2;
const INT = 3;
const FLOAT = 4;
const STRING = 5;
const ARRAY = 6;

/** Integers below this magnitude are varints: their zigzag (2|n| or 2|n| - 1) is a safe integer. */
const VARINT_LIMIT = 2 ** 52;

/** Whether `n` is written as a varint (else as float64): exactly one encoding per number. */
const isVarint = (n: number): boolean => Number.isInteger(n) && Math.abs(n) < VARINT_LIMIT;
const OBJECT = 7;

/** Where in a value a problem is: object keys and array indexes from the top. */
type Path = (string | number)[];

/** Why a value is not JSON, and where; `path` is built backwards while the recursion unwinds. */
interface Problem {
  readonly reversedPath: Path;
  readonly reason: string;
  /** Nested deeper than MAX_JSON_DEPTH: perhaps a cycle, which the caller looks for. */
  readonly deep?: true;
}

/**
 * Write `value`; returns why it is not JSON (naming where, e.g. `field "due": a Date is not a JSON
 * value…`), or undefined when written. `field` names the value in the message (an update's field).
 * On failure the writer holds a partial encoding: the caller discards it.
 */
export function writeJson(w: Writer, value: unknown, field?: string): string | undefined {
  const problem = writeValue(w, value, 0);
  return problem === undefined ? undefined : explain(value, problem, field === undefined ? [] : [field]);
}

/** Write a plain object (validated, keys sorted); returns why it is not JSON (its fields named), or undefined. */
export function writeObject(w: Writer, obj: Record<string, unknown>): string | undefined {
  const problem = writeObjectBody(w, obj, 0);
  return problem === undefined ? undefined : explain(obj, problem, []);
}

function writeValue(w: Writer, value: unknown, depth: number): Problem | undefined {
  switch (typeof value) {
    case 'boolean':
      w.u8(value ? TRUE : FALSE);
      return undefined;
    case 'number':
      if (!Number.isFinite(value)) return problem(`${String(value)} is not a JSON number`);
      if (isVarint(value)) w.u8(INT).svarint(value);
      else w.u8(FLOAT).f64(value);
      return undefined;
    case 'string':
      if (!value.isWellFormed()) return problem('a string with a lone surrogate (not well-formed UTF-16)');
      w.u8(STRING).string(value);
      return undefined;
    case 'object': {
      if (value === null) {
        w.u8(NULL);
        return undefined;
      }
      if (depth >= MAX_JSON_DEPTH)
        return { reversedPath: [], reason: `nested deeper than ${MAX_JSON_DEPTH} levels`, deep: true };
      if (Array.isArray(value)) {
        w.u8(ARRAY).uvarint(value.length);
        for (let i = 0; i < value.length; i++) {
          // A sparse array's holes are not JSON values.
          if (!(i in value)) return within(i, problem('a hole in a sparse array'));
          const inner = writeValue(w, value[i], depth + 1);
          if (inner !== undefined) return within(i, inner);
        }
        return undefined;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return problem(notPlain(value));
      return writeObjectBody(w, value as Record<string, unknown>, depth);
    }
    case 'undefined':
      return problem('undefined is not a JSON value');
    case 'bigint':
      return problem('a bigint is not a JSON value (JSON numbers are doubles: store it as a string)');
    default:
      return problem(`a ${typeof value} is not a JSON value`);
  }
}

/** Up to this many items are sorted in place by insertion; more go through `Array.prototype.sort`. */
const INSERTION_SORT_MAX = 16;

/**
 * Sort `items` in place by `keyOf` ascending, in UTF-16 code-unit order (the order of a plain
 * `sort()` of the keys); keys are distinct, so stability does not matter. Objects in facts and an
 * item's fields are a few entries each, and V8's `sort` allocates a work area on every call (about
 * 700 B even for two): on the paths that hash every fact and every record, that was a large share of
 * the garbage, so those few go through an insertion sort.
 */
export function sortByKey<T>(items: T[], keyOf: (item: T) => string): T[] {
  const n = items.length;
  if (n > INSERTION_SORT_MAX) {
    return items.sort((a, b) => {
      const x = keyOf(a);
      const y = keyOf(b);
      return x < y ? -1 : x > y ? 1 : 0;
    });
  }
  for (let i = 1; i < n; i++) {
    const item = items[i]!;
    const key = keyOf(item);
    let j = i - 1;
    while (j >= 0 && keyOf(items[j]!) > key) {
      items[j + 1] = items[j]!;
      j--;
    }
    items[j + 1] = item;
  }
  return items;
}

const itself = (key: string): string => key;

/** Sort an object's `keys` in place, in the order of `keys.sort()`. */
export const sortKeys = (keys: string[]): string[] => sortByKey(keys, itself);

function writeObjectBody(w: Writer, obj: Record<string, unknown>, depth: number): Problem | undefined {
  const keys = sortKeys(Object.keys(obj));
  w.u8(OBJECT).uvarint(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const keyProblem = checkKey(key);
    if (keyProblem !== undefined) return problem(keyProblem);
    w.string(key);
    const inner = writeValue(w, obj[key], depth + 1);
    if (inner !== undefined) return within(key, inner);
  }
  return undefined;
}

const problem = (reason: string): Problem => ({ reversedPath: [], reason });

/** `inner` happened under `step` (the recursion unwinds: the path is kept backwards). */
function within(step: string | number, inner: Problem): Problem {
  inner.reversedPath.push(step);
  return inner;
}

/** What a non-plain object is, and what to do instead. */
function notPlain(value: object): string {
  if (value instanceof Date) return 'a Date is not a JSON value (store date.toISOString() or date.getTime())';
  const name = (value.constructor as { name?: unknown } | undefined)?.name;
  const what = typeof name === 'string' && name !== '' ? `a ${name}` : 'an object with a prototype';
  return `${what} is not a plain object or array`;
}

/** The message for `problem` found in `root`, whose own place is `at` (a field name, or nothing). */
function explain(root: unknown, found: Problem, at: Path): string {
  let path = [...at, ...found.reversedPath.reverse()];
  let reason = found.reason;
  if (found.deep === true) {
    // Nesting that deep is almost always a value that contains itself: say so, where it happens.
    const cycle = findCycle(root);
    if (cycle !== undefined) {
      path = [...at, ...cycle];
      reason = 'refers back to an object that contains it (a cycle): JSON values are trees';
    }
  }
  return path.length === 0 ? `the value: ${reason}` : `field ${JSON.stringify(pathText(path))}: ${reason}`;
}

/** `["a", 2, "b c"]` → `a[2]["b c"]`, cut short past 8 steps. */
function pathText(path: Path): string {
  const shown = path.slice(0, 8);
  const text = shown
    .map((step, i) => {
      if (typeof step === 'number') return `[${step}]`;
      if (i === 0) return step;
      return /^[A-Za-z_$][\w$]*$/.test(step) ? `.${step}` : `[${JSON.stringify(step)}]`;
    })
    .join('');
  return path.length > shown.length ? `${text}…` : text;
}

/** The path to the first reference in `root` back to an object that contains it, if any. */
function findCycle(root: unknown): Path | undefined {
  const ancestors: unknown[] = [];
  const path: Path = [];
  const visit = (value: unknown): boolean => {
    if (typeof value !== 'object' || value === null) return false;
    if (ancestors.includes(value)) return true;
    if (ancestors.length > MAX_JSON_DEPTH) return false;
    ancestors.push(value);
    const entries: [string | number, unknown][] = Array.isArray(value)
      ? value.map((v, i): [number, unknown] => [i, v])
      : Object.entries(value);
    for (const [step, child] of entries) {
      path.push(step);
      if (visit(child)) return true;
      path.pop();
    }
    ancestors.pop();
    return false;
  };
  return visit(root) ? path : undefined;
}

/** Why `key` cannot be an object key or field name, or undefined. */
export function checkKey(key: string): string | undefined {
  if (key === '__proto__') return 'the key "__proto__" is not allowed';
  if (key.length > MAX_ID_LENGTH) return `key longer than ${MAX_ID_LENGTH} characters`;
  if (!key.isWellFormed()) return 'key has a lone surrogate';
  return undefined;
}

/**
 * Read a value written by `writeJson`. Returns undefined and fails the reader on anything
 * malformed. The result is deep-frozen: state shares it with every reader.
 */
export function readJson(r: Reader, depth = 0): JsonValue | undefined {
  const tag = r.u8();
  switch (tag) {
    case NULL:
      return null;
    case FALSE:
      return false;
    case TRUE:
      return true;
    case INT: {
      const n = r.svarint();
      if (Math.abs(n) >= VARINT_LIMIT) {
        // Not canonical: -2^52 fits a zigzag varint but is written as float64.
        r.fail();
        return undefined;
      }
      return n;
    }
    case FLOAT: {
      const n = r.f64();
      if (!Number.isFinite(n) || isVarint(n)) {
        // Not canonical: integers below 2^52 are always varints.
        r.fail();
        return undefined;
      }
      return n;
    }
    case STRING:
      return r.string(MAX_VALUE_BYTES);
    case ARRAY: {
      if (depth >= MAX_JSON_DEPTH) break;
      const count = r.uvarint();
      if (count > r.remaining) break; // every element takes at least one byte
      const out: JsonValue[] = new Array<JsonValue>(count);
      for (let i = 0; i < count; i++) {
        const v = readJson(r, depth + 1);
        if (v === undefined) return undefined;
        out[i] = v;
      }
      return Object.freeze(out) as JsonValue[];
    }
    case OBJECT:
      if (depth >= MAX_JSON_DEPTH) break;
      return readObjectBody(r, depth);
    default:
      break;
  }
  r.fail();
  return undefined;
}

/** Read an object (tag included). */
export function readObject(r: Reader, depth = 0): JsonObject | undefined {
  if (r.u8() !== OBJECT) {
    r.fail();
    return undefined;
  }
  return readObjectBody(r, depth);
}

function readObjectBody(r: Reader, depth: number): JsonObject | undefined {
  const count = r.uvarint();
  if (count > r.remaining / 2) {
    // every entry takes at least two bytes
    r.fail();
    return undefined;
  }
  const out: JsonObject = {};
  let last: string | undefined;
  for (let i = 0; i < count; i++) {
    const key = r.string(MAX_ID_BYTES);
    if (r.failed || key === '__proto__' || (last !== undefined && !(last < key))) {
      r.fail();
      return undefined;
    }
    last = key;
    const v = readJson(r, depth + 1);
    if (v === undefined) return undefined;
    out[key] = v;
  }
  return Object.freeze(out);
}
