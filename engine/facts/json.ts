/**
 * JSON values in Shoal's canonical binary form. One value has exactly one encoding: object keys in
 * ascending UTF-16 order, integers as zigzag varints (so -0 is 0), other numbers as float64.
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
const OBJECT = 7;

/**
 * Write `value`; returns why it is not JSON, or undefined when written. On failure the writer
 * holds a partial encoding: the caller discards it.
 */
export function writeJson(w: Writer, value: unknown, depth = 0): string | undefined {
  switch (typeof value) {
    case 'boolean':
      w.u8(value ? TRUE : FALSE);
      return undefined;
    case 'number':
      if (!Number.isFinite(value)) return `${String(value)} is not a JSON number`;
      if (Number.isSafeInteger(value)) w.u8(INT).svarint(value);
      else w.u8(FLOAT).f64(value);
      return undefined;
    case 'string':
      if (!value.isWellFormed()) return 'string has a lone surrogate';
      w.u8(STRING).string(value);
      return undefined;
    case 'object': {
      if (value === null) {
        w.u8(NULL);
        return undefined;
      }
      if (depth >= MAX_JSON_DEPTH) return `nested deeper than ${MAX_JSON_DEPTH}`;
      if (Array.isArray(value)) {
        w.u8(ARRAY).uvarint(value.length);
        for (let i = 0; i < value.length; i++) {
          // A sparse array's holes are not JSON values.
          if (!(i in value)) return 'array has a hole';
          const problem = writeJson(w, value[i], depth + 1);
          if (problem !== undefined) return problem;
        }
        return undefined;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return 'not a plain object';
      return writeObject(w, value as Record<string, unknown>, depth);
    }
    default:
      return `${typeof value} is not a JSON value`;
  }
}

/** Write a plain object (validated, keys sorted). */
export function writeObject(w: Writer, obj: Record<string, unknown>, depth = 0): string | undefined {
  const keys = Object.keys(obj);
  if (keys.length > 1) keys.sort();
  w.u8(OBJECT).uvarint(keys.length);
  for (const key of keys) {
    const problem = checkKey(key);
    if (problem !== undefined) return problem;
    w.string(key);
    const child = obj[key];
    if (child === undefined) return `field ${JSON.stringify(key)} is undefined`;
    const childProblem = writeJson(w, child, depth + 1);
    if (childProblem !== undefined) return childProblem;
  }
  return undefined;
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
    case INT:
      return r.svarint();
    case FLOAT: {
      const n = r.f64();
      if (!Number.isFinite(n) || Number.isSafeInteger(n)) {
        // Not canonical: integers are always varints.
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
