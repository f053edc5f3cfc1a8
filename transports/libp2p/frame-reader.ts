/**
 * Length-prefixed frames on a libp2p stream: an unsigned LEB128 varint length, then that many
 * bytes. `lpStream` from `@libp2p/utils` reads them too, but hides a frame that has begun and not
 * ended, which is what a read timeout needs to see: a remote that sends a length prefix and then
 * nothing more holds the link and its buffer for as long as nobody looks.
 */

/** Longest length prefix of a frame of at most `maxFrameBytes` (7 bits a byte). */
const prefixBytes = (maxFrameBytes: number): number => Math.max(1, Math.ceil(Math.log2(maxFrameBytes + 1) / 7));

/** The remote broke the framing: a length over the limit, or a length prefix longer than one can be. */
export interface FramingError {
  readonly error: string;
}

/** A frame that has begun and not ended. */
export interface FrameInProgress {
  /** When its first byte arrived (the reader's clock). */
  readonly startedAt: number;
  /** Its length, once the prefix is complete. */
  readonly length: number | undefined;
}

/**
 * Cuts the bytes of one stream into frames. Holds at most one frame in progress plus the rest of
 * the last chunk: complete frames are handed out as soon as they are whole.
 */
export class FrameReader {
  readonly #maxFrameBytes: number;
  readonly #maxPrefixBytes: number;
  readonly #clock: () => number;
  readonly #chunks: Uint8Array[] = [];
  #buffered = 0;
  /** The length of the frame in progress, once its prefix is read (the prefix is then consumed). */
  #length: number | undefined;
  #startedAt: number | undefined;

  constructor(maxFrameBytes: number, clock: () => number) {
    this.#maxFrameBytes = maxFrameBytes;
    this.#maxPrefixBytes = prefixBytes(maxFrameBytes);
    this.#clock = clock;
  }

  /** Add bytes that arrived; the frames they complete, in order, or how the framing broke. */
  push(chunk: Uint8Array): Uint8Array[] | FramingError {
    if (chunk.byteLength === 0) return [];
    if (this.#startedAt === undefined) this.#startedAt = this.#clock();
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.#length === undefined) {
        const prefix = this.#readPrefix();
        if (prefix === undefined) break;
        if (typeof prefix !== 'number') return prefix;
        this.#length = prefix;
      }
      if (this.#buffered < this.#length) break;
      frames.push(this.#take(this.#length));
      this.#length = undefined;
      // What is left is the start of the next frame.
      this.#startedAt = this.#buffered > 0 ? this.#clock() : undefined;
    }
    return frames;
  }

  /** The frame that has begun and not ended, if any. */
  inProgress(): FrameInProgress | undefined {
    if (this.#startedAt === undefined) return undefined;
    return { startedAt: this.#startedAt, length: this.#length };
  }

  /** The next length prefix, consumed; undefined while incomplete. */
  #readPrefix(): number | FramingError | undefined {
    let value = 0;
    let index = 0;
    for (const chunk of this.#chunks) {
      for (const byte of chunk) {
        value += (byte & 0x7f) * 2 ** (7 * index);
        index += 1;
        if ((byte & 0x80) === 0) {
          if (value > this.#maxFrameBytes) {
            return { error: `a frame of ${value} bytes is over the limit of ${this.#maxFrameBytes}` };
          }
          this.#take(index);
          return value;
        }
        if (index >= this.#maxPrefixBytes) {
          return { error: `a length prefix longer than ${this.#maxPrefixBytes} bytes` };
        }
      }
    }
    return undefined;
  }

  /** The first `length` buffered bytes, removed; no copy when they lie in one chunk. */
  #take(length: number): Uint8Array {
    this.#buffered -= length;
    const first = this.#chunks[0];
    if (first !== undefined && first.byteLength >= length) {
      const out = view(first.subarray(0, length));
      if (first.byteLength === length) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(length);
      return out;
    }
    const out = new Uint8Array(length);
    let offset = 0;
    while (offset < length) {
      const chunk = this.#chunks[0]!;
      const part = Math.min(chunk.byteLength, length - offset);
      out.set(chunk.subarray(0, part), offset);
      offset += part;
      if (part === chunk.byteLength) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part);
    }
    return out;
  }
}

/** The unsigned LEB128 length prefix of a frame of `length` bytes. */
export function lengthPrefix(length: number): Uint8Array {
  const out: number[] = [];
  let v = length;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** A plain Uint8Array over the same bytes (TCP hands out Node Buffers). */
function view(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
