/**
 * Decoded facts frames, shared by content. Decoding is a pure function of the bytes, so a frame
 * seen twice (a duplicate delivery, two neighbours forwarding the same batch, or — in a simulation —
 * hundreds of peers in one process receiving the same push) is decoded, and its runs hashed
 * (engine/facts/run.ts `chainOf`), once. Everything decoded is immutable, so sharing it is safe.
 *
 * Only facts frames big enough for the lookup to pay off are cached; memory is bounded by
 * FRAME_CACHE_BYTES.
 */
import type { Result } from 'neverthrow';
import { toHex } from '../facts/bytes.js';
import { sha256 } from '../facts/hash.js';
import { decodeFrame, type DecodeError } from './codec.js';
import type { Message } from './messages.js';

/** Frames smaller than this are decoded every time (hashing them would cost as much). */
const MIN_CACHED_FRAME_BYTES = 128;
/** Bytes of frames whose decoding is kept. */
const FRAME_CACHE_BYTES = 32 * 1024 * 1024; // 32 MiB
const FACTS_TYPE_BYTE = 2;

const cache = new Map<string, { message: Result<Message, DecodeError>; bytes: number }>();
let cachedBytes = 0;

/** `decodeFrame`, sharing the result between identical facts frames. */
export function decodeFrameShared(frame: Uint8Array): Result<Message, DecodeError> {
  if (frame.length < MIN_CACHED_FRAME_BYTES || frame[0] !== FACTS_TYPE_BYTE) return decodeFrame(frame);
  const key = toHex(sha256(frame));
  const hit = cache.get(key);
  if (hit !== undefined) {
    // Refresh its place in the (insertion-ordered) map: least recently used goes first.
    cache.delete(key);
    cache.set(key, hit);
    return hit.message;
  }
  const message = decodeFrame(frame);
  cache.set(key, { message, bytes: frame.length });
  cachedBytes += frame.length;
  while (cachedBytes > FRAME_CACHE_BYTES) {
    const oldest = cache.entries().next();
    if (oldest.done === true) break;
    cache.delete(oldest.value[0]);
    cachedBytes -= oldest.value[1].bytes;
  }
  return message;
}
