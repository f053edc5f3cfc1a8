/**
 * The floor the design puts under ingesting signed updates: for each run, import its origin's
 * Ed25519 key, hash its facts along the chain and verify its one signature — nothing else (no log,
 * no state, no session). Measured in the same run as the systems, on the same frames, so Shoal's
 * per-update cost can be read against what any peer that checks every fact must pay, and the
 * difference is overhead (issue 15: "the remaining cost is the hash/signature floor").
 */
import { backend, publicKeyOfPeerId } from '../engine/facts/ed25519.js';
import { chainOf, type Run } from '../engine/facts/run.js';
import { decodeFrame } from '../engine/sync/codec.js';
import { collectGarbage, median } from './measure.js';

/** CPU time of each step of the floor over all frames, in ms (medians of `REPEATS`). */
export interface Floor {
  readonly keyImportMs: number;
  readonly hashMs: number;
  readonly verifyMs: number;
}

const REPEATS = 7;

/**
 * CPU time of `work` in ms, from getrusage: precise for steps of a millisecond, where the thread's
 * scheduler statistics only move at ticks. The floor runs on this thread alone.
 */
function cpuMs(work: () => void): number {
  collectGarbage();
  const before = process.cpuUsage();
  work();
  const spent = process.cpuUsage(before);
  return (spent.user + spent.system) / 1000;
}

/** The floor of ingesting `frames` (Shoal `facts` frames). */
export function signatureFloor(space: string, frames: readonly Uint8Array[]): Floor {
  const runs: Run[] = [];
  for (const frame of frames) {
    const message = decodeFrame(frame);
    if (message.isErr() || message.value.type !== 'facts') throw new Error('not a facts frame');
    runs.push(...message.value.runs);
  }
  const keyImport: number[] = [];
  const hash: number[] = [];
  const verify: number[] = [];
  for (let k = 0; k < REPEATS; k++) {
    // Fresh keys every time: a replica meets each origin once.
    let verifiers: ReturnType<typeof backend.verifier>[] = [];
    keyImport.push(
      cpuMs(() => (verifiers = runs.map((run) => backend.verifier(publicKeyOfPeerId(run.origin)._unsafeUnwrap())))),
    );
    hash.push(cpuMs(() => runs.forEach((run) => chainOf(space, run)._unsafeUnwrap())));
    let all = true;
    verify.push(
      cpuMs(() => {
        // node:crypto verifies synchronously; a backend that answers later is not a floor.
        for (let i = 0; i < runs.length; i++) all = verifiers[i]!(runs[i]!.hash, runs[i]!.sig) === true && all;
      }),
    );
    if (!all) throw new Error('a signature does not verify (or not synchronously)');
  }
  return { keyImportMs: median(keyImport), hashMs: median(hash), verifyMs: median(verify) };
}
