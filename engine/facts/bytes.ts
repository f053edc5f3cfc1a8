/**
 * Byte writer and reader for Shoal's binary encodings (canonical fact encoding, at-rest entries,
 * wire messages, snapshots). Unsigned LEB128 varints, zigzag for signed integers, UTF-8 strings with
 * a varint byte length.
 *
 * The Reader never throws: reading past the end (or a malformed varint) sets `failed` and returns
 * zeros, and decoders check `failed` before trusting what they read. Lengths and counts are checked
 * against the bytes left before anything is allocated for them.
 */

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The value of a hex digit's character code ('0'–'9', 'a'–'f', 'A'–'F'). */
const hexDigit = (c: number): number => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);

/** A growable output buffer. `finish()` returns a copy; `view()` a view valid until the next write. */
export class Writer {
  #buf: Uint8Array;
  #view: DataView;
  #pos = 0;
  #lastView: Uint8Array | undefined;

  constructor(initialSize = 256) {
    this.#buf = new Uint8Array(initialSize);
    this.#view = new DataView(this.#buf.buffer);
  }

  get length(): number {
    return this.#pos;
  }

  /** Drop everything written after the first `length` bytes. */
  truncate(length: number): this {
    if (length < this.#pos) this.#pos = length;
    return this;
  }

  /** Forget the content, keep the memory. */
  reset(): this {
    this.#pos = 0;
    return this;
  }

  #reserve(n: number): void {
    const need = this.#pos + n;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  u8(n: number): this {
    this.#reserve(1);
    this.#buf[this.#pos++] = n;
    return this;
  }

  /** Unsigned varint for integers in [0, 2^53). */
  uvarint(n: number): this {
    this.#reserve(8);
    const buf = this.#buf;
    let pos = this.#pos;
    while (n >= 0x80) {
      buf[pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    buf[pos++] = n;
    this.#pos = pos;
    return this;
  }

  /** Signed varint (zigzag) for safe integers. */
  svarint(n: number): this {
    return this.uvarint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  f64(n: number): this {
    this.#reserve(8);
    this.#view.setFloat64(this.#pos, n, false);
    this.#pos += 8;
    return this;
  }

  /** Raw bytes, no length. */
  raw(bytes: Uint8Array): this {
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
    return this;
  }

  /**
   * The bytes a string of hex digits (an even number of them, either case) spells, no length: what
   * `raw(hexToBytes(hex))` writes, without a byte array for each.
   */
  hex(hex: string): this {
    const n = hex.length >> 1;
    this.#reserve(n);
    const buf = this.#buf;
    let pos = this.#pos;
    for (let i = 0; i < 2 * n; i += 2)
      buf[pos++] = (hexDigit(hex.charCodeAt(i)) << 4) | hexDigit(hex.charCodeAt(i + 1));
    this.#pos = pos;
    return this;
  }

  /** Bytes with a varint length. */
  bytes(bytes: Uint8Array): this {
    return this.uvarint(bytes.length).raw(bytes);
  }

  /** UTF-8 string with a varint byte length. */
  string(s: string): this {
    const n = s.length;
    if (n < 0x80) {
      // ASCII fast path: the byte length is the character count.
      this.#reserve(n + 1);
      const buf = this.#buf;
      const start = this.#pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + i] = c;
      }
      if (i === n) {
        buf[this.#pos] = n;
        this.#pos = start + n;
        return this;
      }
    }
    return this.bytes(utf8Encoder.encode(s));
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#pos);
  }

  /**
   * A view of what was written, valid until the next write or reset. Built on the buffer directly
   * (`#buf` always starts at offset 0 of its own ArrayBuffer): `subarray` looks up a species
   * constructor on every call, and every local write hashes a view.
   */
  view(): Uint8Array {
    // The last view again when it has the same length (a stream of same-sized facts hashed one by
    // one: no view object each); a view is only valid until the next write anyway.
    const last = this.#lastView;
    if (last !== undefined && last.length === this.#pos && last.buffer === this.#buf.buffer) return last;
    return (this.#lastView = new Uint8Array(this.#buf.buffer, 0, this.#pos));
  }
}

/**
 * Short ASCII strings decoded before, by content, in a fixed number of slots (a newer string takes
 * an older one's slot): a decoder that meets the same names again and again (collection, item and
 * field names replaying a log) hands out the string it made last time instead of a new one.
 */
export class StringTable {
  static readonly #SLOTS = 4096;
  readonly #slots: string[] = new Array<string>(StringTable.#SLOTS).fill('');

  /** The string of the bytes `buf[start, start + n)` (0 < n), or undefined when they are not all ASCII. */
  ascii(buf: Uint8Array, start: number, n: number): string | undefined {
    let h = n;
    for (let i = 0; i < n; i++) {
      const b = buf[start + i]!;
      if (b >= 0x80) return undefined;
      h = Math.imul(h ^ b, 0x01000193);
    }
    const slot = (h ^ (h >>> 15)) & (StringTable.#SLOTS - 1);
    const known = this.#slots[slot]!;
    if (known.length === n) {
      let i = 0;
      while (i < n && known.charCodeAt(i) === buf[start + i]) i++;
      if (i === n) return known;
    }
    const made = String.fromCharCode.apply(null, buf.subarray(start, start + n) as unknown as number[]);
    this.#slots[slot] = made;
    return made;
  }
}

/** Reads what a Writer wrote. Never throws; check `failed` (and `done`) after decoding. */
export class Reader {
  readonly #buf: Uint8Array;
  /** Made on first use: most readers never read a float. */
  #view: DataView | undefined;
  #pos: number;
  #end: number;
  /** Where short ASCII strings are looked up before one is made (when the caller gives one). */
  readonly #strings: StringTable | undefined;
  failed = false;

  constructor(buf: Uint8Array, start = 0, end = buf.length, strings?: StringTable) {
    // A Node Buffer (better-sqlite3's blobs, some streams) is read through a plain view: `raw(n)`
    // returns what the input is, and a Buffer's `slice()` is a view, so a caller's copy would alias
    // the input (and keep all of it alive).
    this.#buf = buf.constructor === Uint8Array ? buf : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#pos = start;
    this.#end = end;
    this.#strings = strings;
  }

  get position(): number {
    return this.#pos;
  }

  /** Read `buf[start, end)` next, from a clean state (one reader for many records of one buffer). */
  window(start: number, end: number): this {
    this.#pos = start;
    this.#end = Math.min(end, this.#buf.length);
    this.failed = false;
    return this;
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.#end - this.#pos;
  }

  /** True when everything was read and nothing failed. */
  get done(): boolean {
    return !this.failed && this.#pos === this.#end;
  }

  fail(): void {
    this.failed = true;
    this.#pos = this.#end;
  }

  u8(): number {
    if (this.#pos >= this.#end) {
      this.fail();
      return 0;
    }
    return this.#buf[this.#pos++]!;
  }

  uvarint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.#pos >= this.#end) {
        this.fail();
        return 0;
      }
      const b = this.#buf[this.#pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) break;
        return result;
      }
      scale *= 0x80;
    }
    this.fail();
    return 0;
  }

  svarint(): number {
    const z = this.uvarint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  f64(): number {
    if (this.remaining < 8) {
      this.fail();
      return 0;
    }
    this.#view ??= new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);
    const n = this.#view.getFloat64(this.#pos, false);
    this.#pos += 8;
    return n;
  }

  /** `n` raw bytes as a view into the input (copy it if it must outlive the input). */
  raw(n: number): Uint8Array {
    if (n > this.remaining) {
      this.fail();
      return new Uint8Array(0);
    }
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /** Length-prefixed bytes, at most `max` long. */
  bytes(max: number): Uint8Array {
    const n = this.uvarint();
    if (n > max) {
      this.fail();
      return new Uint8Array(0);
    }
    return this.raw(n);
  }

  /**
   * Length-prefixed UTF-8 string of at most `maxBytes`. Invalid UTF-8 fails the reader: a string
   * that does not round-trip would hash differently on each side.
   */
  string(maxBytes: number): string {
    const n = this.uvarint();
    if (n > maxBytes || n > this.remaining) {
      this.fail();
      return '';
    }
    const start = this.#pos;
    const buf = this.#buf;
    if (this.#strings !== undefined && n > 0 && n < 64) {
      const known = this.#strings.ascii(buf, start, n);
      if (known !== undefined) {
        this.#pos += n;
        return known;
      }
    }
    let ascii = n < 64;
    if (ascii) {
      for (let i = 0; i < n; i++) {
        if (buf[start + i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
    }
    this.#pos += n;
    if (ascii) {
      return n === 0 ? '' : String.fromCharCode.apply(null, buf.subarray(start, start + n) as unknown as number[]);
    }
    const slice = buf.subarray(start, start + n);
    const text = utf8Decoder.decode(slice);
    if (text.includes('\uFFFD') && !isStrictUtf8(slice)) {
      this.fail();
      return '';
    }
    return text;
  }
}

function isStrictUtf8(bytes: Uint8Array): boolean {
  // Only reached when the lenient decode produced U+FFFD: tell a real U+FFFD from a bad sequence.
  const decoded: { ok: boolean } = { ok: true };
  try {
    STRICT_UTF8.decode(bytes);
  } catch {
    // TextDecoder signals invalid UTF-8 only by throwing: this is the library edge.
    decoded.ok = false;
  }
  return decoded.ok;
}

/** Lowercase hex of bytes. */
/** Two ASCII hex digits per byte value (an immutable table). */
const HEX_PAIRS: readonly number[] = Array.from({ length: 256 }, (_, b) => {
  const digits = b.toString(16).padStart(2, '0');
  return digits.charCodeAt(0) | (digits.charCodeAt(1) << 8);
});
const ASCII = new TextDecoder('latin1');

/**
 * Lowercase hex of `bytes`, as one flat string (a string built digit by digit stays a rope of many
 * pieces in V8: as a map key that cost kilobytes per entry).
 */
export function toHex(bytes: Uint8Array): string {
  const out = new Uint8Array(bytes.length * 2);
  for (let i = 0; i < bytes.length; i++) {
    const pair = HEX_PAIRS[bytes[i]!]!;
    out[2 * i] = pair & 0xff;
    out[2 * i + 1] = pair >> 8;
  }
  return ASCII.decode(out);
}

/** Byte-wise equality. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic byte order: negative, zero or positive. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Base64url without padding (RFC 4648 §5): item ids, JWK key material. */
export function base64url(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64URL[(n >> 18) & 63]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]! + B64URL[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const n = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    out += B64URL[(n >> 18) & 63]! + B64URL[(n >> 12) & 63]!;
    if (rest === 2) out += B64URL[(n >> 6) & 63]!;
  }
  return out;
}
