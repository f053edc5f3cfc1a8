/**
 * Catch-up progress for the CLI: how many facts the other peers announced that we do not hold yet.
 *
 * The public `space.status()` tells what *we* hold, not what the others hold, so the CLI learns the
 * latter the way the engine does: from the `hello` each peer sends when a link comes up (it carries
 * the sender's vector). A transport wrapper peeks at those frames on their way in.
 * TODO(engine): drop the peek once `status()` reports what remote peers announced.
 */
import cliProgress from 'cli-progress';
import type { Space } from '../../engine/index.js';
import type { Transport, TransportHandler } from '../../engine/transport.js';
import type { PeerId } from '../../engine/index.js';
import { decodeFrame } from '../../engine/sync/codec.js';
import { originKey } from '../../engine/sync/origin-key.js';

/** First byte of a `hello` frame (engine/sync/codec.ts: `frame := u8 type · …`, hello = 1). */
const HELLO_TYPE_BYTE = 1;

/** A catch-up shorter than this many facts gets no progress display. */
const MIN_FACTS_FOR_PROGRESS = 2000; // facts

/** How often the progress display is refreshed, in milliseconds. */
const REFRESH_MS = 200; // ms

/**
 * Remembers, per origin, the highest counter any remote announced for one space. Vectors on the
 * wire name origins by their short `originKey`, so ours are compared through the same key.
 */
export class AnnouncedVectors {
  readonly #space: string;
  readonly #counters = new Map<string, number>();
  /** Called after a hello was noted (the progress display looks at once, before facts arrive). */
  onAnnounce: (() => void) | undefined;

  constructor(spaceId: string) {
    this.#space = spaceId;
  }

  /** `transport`, with incoming `hello` frames noted on their way to the peer. */
  wrap(transport: Transport): Transport {
    return {
      start: (context, handler: TransportHandler) =>
        transport.start(context, {
          peerUp: (peer) => handler.peerUp(peer),
          peerDown: (peer) => handler.peerDown(peer),
          message: (from, frame) => {
            if (frame[0] === HELLO_TYPE_BYTE) this.#note(frame);
            handler.message(from, frame);
          },
        }),
      send: (to, frame) => transport.send(to, frame),
      disconnect: (peer) => transport.disconnect(peer),
      addresses: () => transport.addresses(),
      stop: () => transport.stop(),
    };
  }

  /** Facts we hold, and facts we know exist (ours plus what others announced beyond them). */
  progress(ours: Readonly<Record<string, number>>): { held: number; known: number } {
    let held = 0;
    let known = 0;
    const mineByKey = new Map<string, number>();
    for (const [origin, counter] of Object.entries(ours)) mineByKey.set(originKey(origin as PeerId), counter);
    for (const key of new Set([...mineByKey.keys(), ...this.#counters.keys()])) {
      const mine = mineByKey.get(key) ?? 0;
      held += mine;
      known += Math.max(mine, this.#counters.get(key) ?? 0);
    }
    return { held, known };
  }

  #note(frame: Uint8Array): void {
    const message = decodeFrame(frame);
    if (message.isErr() || message.value.type !== 'hello' || message.value.space !== this.#space) return;
    for (const [origin, counter] of message.value.vector) {
      if (counter > (this.#counters.get(origin) ?? 0)) this.#counters.set(origin, counter);
    }
    this.onAnnounce?.();
  }
}

/**
 * Show a progress bar (on a terminal) or two lines (otherwise) while the space catches up on more
 * than `MIN_FACTS_FOR_PROGRESS` facts. Returns the function that stops watching.
 */
export function showCatchUp(space: Space, announced: AnnouncedVectors, out: NodeJS.WriteStream): () => void {
  let run: { baseline: number; started: number; bar: cliProgress.SingleBar | undefined } | undefined;
  const tick = (): void => {
    const { held, known } = announced.progress(space.status().vector);
    if (run === undefined) {
      if (known - held < MIN_FACTS_FOR_PROGRESS) return;
      run = { baseline: held, started: Date.now(), bar: undefined };
      if (out.isTTY) {
        run.bar = new cliProgress.SingleBar(
          { format: 'catching up |{bar}| {value}/{total} facts · {eta_formatted} left', stream: out, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        run.bar.start(known - held, 0);
      } else {
        out.write(`catching up on ${(known - held).toLocaleString('en-US')} facts…\n`);
      }
      return;
    }
    run.bar?.setTotal(known - run.baseline);
    run.bar?.update(held - run.baseline);
    if (held >= known) {
      run.bar?.stop();
      const seconds = ((Date.now() - run.started) / 1000).toFixed(1);
      out.write(`caught up: ${(held - run.baseline).toLocaleString('en-US')} facts in ${seconds} s\n`);
      run = undefined;
    }
  };
  const interval = setInterval(tick, REFRESH_MS);
  announced.onAnnounce = tick;
  return () => {
    clearInterval(interval);
    announced.onAnnounce = undefined;
    run?.bar?.stop();
  };
}
