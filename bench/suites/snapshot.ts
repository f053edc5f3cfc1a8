/**
 * Snapshot suite (issue 6): cold open with a snapshot next to a full replay, and bounded growth
 * with pruning. Only Shoal has these workloads (Yjs and Automerge keep every change).
 *
 * A writer on SQLite makes 1,000,000 field writes on 10,000 items, in bursts of 1,000 (each burst
 * issued in one go and awaited until durable and acknowledged), while a second peer acknowledges
 * them — so the writer may prune, as a peer with company does. History blobs go to an fsBlobStore
 * archive, so the database holds only live state and the tail; the archive's size is reported apart.
 *
 * Why bursts of 1,000: snapshot, history and prune work runs in slices between event-loop turns.
 * Bursts of 10,000 writes issued synchronously make turns of ~0.5 s on this machine, the workflow
 * then gets one slice per turn and falls behind (the log reached 890,000 entries before the writer
 * paused); with bursts of 1,000 it keeps the log under 2 × snapshotEvery at the same write rate.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPeer, limits, memoryStorage } from '../../engine/index.js';
import { fsBlobStore } from '../../engine/storage/fs-blobs.js';
import { sqliteStorage } from '../../engine/storage/sqlite/index.js';
import { MessageChannelNetworkAdapter } from '@automerge/automerge-repo-network-messagechannel';
import { automergeTransport } from '../../transports/automerge/index.js';
import type { Transport } from '../../engine/transport.js';
import { decodeFrame, frameType } from '../../engine/sync/codec.js';
import type { BenchContext, BenchSuite } from '../harness.js';
import { runWorkloads, type Measured, type Workload } from '../workload.js';

const WRITES = 1_000_000;
const ITEMS = 10_000;
const BATCH = 1_000;
const SPACE = 'bench';
const DEFAULT_SNAPSHOT_EVERY = limits.DEFAULT_SNAPSHOT_EVERY;

function bytesUnder(path: string): number {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat === undefined) return 0;
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, name) => sum + bytesUnder(join(path, name)), 0);
}

/** The database file with its WAL. */
const dbBytes = (file: string): number => bytesUnder(file) + bytesUnder(`${file}-wal`);

function rss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
}

/**
 * What attestation costs, seen on the wire: bytes of attest requests, attestations and the blob
 * requests and blobs that carry roots and tips to the attester (nobody catches up in this suite, so
 * every blob on the wire is an attestation probe), and for each attestation answered, the time from
 * its request arriving to the attestation leaving (the attester fetches the root and tips, checks
 * the tips, and builds the same root from its own snapshot and log tail).
 */
class AttestationTally {
  bytes = 0;
  readonly answerMs: number[] = [];
  readonly #asked = new Map<string, number>();

  /** `transport`, with every frame it sends and receives counted. */
  wrap(transport: Transport): Transport {
    const counted = new Set(['attest-request', 'attestation', 'blob-request', 'blob']);
    return {
      start: (context, handler) =>
        transport.start(context, {
          ...handler,
          message: (from, frame) => {
            if (frameType(frame) === 'attest-request') {
              const m = decodeFrame(frame);
              if (m.isOk() && m.value.type === 'attest-request')
                this.#asked.set(`${from}:${m.value.root}`, performance.now());
            }
            handler.message(from, frame);
          },
        }),
      send: (to, frame) => {
        const type = frameType(frame);
        if (type !== undefined && counted.has(type)) this.bytes += frame.length;
        if (type === 'attestation') {
          const m = decodeFrame(frame);
          const key = m.isOk() && m.value.type === 'attestation' ? `${to}:${m.value.root}` : '';
          const asked = this.#asked.get(key);
          if (asked !== undefined) {
            this.answerMs.push(performance.now() - asked);
            this.#asked.delete(key);
          }
        }
        return transport.send(to, frame);
      },
      disconnect: (peer) => transport.disconnect(peer),
      addresses: () => transport.addresses(),
      stop: () => transport.stop(),
    };
  }
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)]!;
};

interface Built {
  readonly file: string;
  readonly archive: string;
  readonly at100k: { db: number; rss: number; archive: number };
  readonly atEnd: { db: number; rss: number; archive: number };
  readonly logLength: number;
  readonly stateHash: string;
  readonly attestation: AttestationTally;
}

/** Write `writes` field sets on `items` items into a fresh SQLite peer acknowledged by another. */
async function build(
  dir: string,
  name: string,
  writes: number,
  items: number,
  snapshots: boolean,
  ctx: BenchContext,
): Promise<Built> {
  // Two real peers in this process (real clock and timers), linked by an automerge-repo
  // MessageChannel adapter: the writer's snapshot jobs and disk I/O run as they would in an app.
  const { port1, port2 } = new MessageChannel();
  const file = join(dir, `${name}.db`);
  const archive = join(dir, `${name}-archive`);
  const options = snapshots ? {} : { snapshotEvery: Number.MAX_SAFE_INTEGER };
  const attestation = new AttestationTally();
  const writer = (
    await createPeer({
      storage: sqliteStorage(file),
      archive: fsBlobStore(archive),
      transports: [attestation.wrap(automergeTransport(new MessageChannelNetworkAdapter(port1)))],
      ...options,
    })
  )._unsafeUnwrap();
  // The acknowledging peer keeps its log in memory but its audit trail on disk, like the writer:
  // with history blobs in memory its RSS would grow with every write by design.
  const acker = (
    await createPeer({
      storage: memoryStorage(),
      archive: fsBlobStore(`${archive}-acker`),
      transports: [attestation.wrap(automergeTransport(new MessageChannelNetworkAdapter(port2)))],
      ...options,
    })
  )._unsafeUnwrap();
  const space = (await writer.space(SPACE))._unsafeUnwrap();
  (await acker.space(SPACE))._unsafeUnwrap();
  const list = space.collection<{ n: number; label: string }>('items');
  // Under a firehose of writes, snapshot and prune work runs in the gaps: before measuring, give it
  // the time an app's idle moments would (up to a minute), so "bounded" is measured after upkeep.
  const upkeep = async () => {
    const deadline = Date.now() + 60_000;
    while (snapshots && space.status().logLength > 2 * DEFAULT_SNAPSHOT_EVERY && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const measure = async () => {
    await upkeep();
    return { db: dbBytes(file), rss: rss(), archive: bytesUnder(archive) };
  };
  let at100k = await measure();
  for (let done = 0; done < writes;) {
    const batch = [];
    for (let k = 0; k < BATCH && done < writes; k++, done++) {
      const id = `item-${done % items}`;
      batch.push(
        done < items
          ? list.create({ n: done, label: `item ${done}` }, id).map(() => undefined)
          : list.update(id, 'n', done),
      );
    }
    for (const result of await Promise.all(batch)) result._unsafeUnwrap();
    // Wait for the acknowledgements (real time): the writer may prune only what its peer holds.
    while (space.status().pending > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    if (done === Math.min(writes, 100_000)) at100k = await measure();
    if (done % 100_000 === 0)
      ctx.log(`  ${name}: ${done.toLocaleString('en-US')} writes, log ${space.status().logLength} entries`);
  }
  const atEnd = await measure();
  const built = {
    file,
    archive,
    at100k,
    atEnd,
    logLength: space.status().logLength,
    stateHash: space.stateHash(),
    attestation,
  };
  await writer.close();
  await acker.close();
  port1.close();
  port2.close();
  return built;
}

/** Time from a cold start (new process state, file on disk) until the space answers a read. */
async function coldOpen(built: Built): Promise<number> {
  const started = performance.now();
  const peer = (
    await createPeer({ storage: sqliteStorage(built.file), archive: fsBlobStore(built.archive) })
  )._unsafeUnwrap();
  const space = (await peer.space(SPACE))._unsafeUnwrap();
  const first = space.collection('items').get('item-0');
  const ms = performance.now() - started;
  if (first === undefined || space.stateHash() !== built.stateHash)
    throw new Error('cold open: not the state that was written');
  await peer.close();
  return ms;
}

const suite: BenchSuite = {
  name: 'snapshot',
  async run(ctx) {
    const writes = Math.max(20_000, Math.round(WRITES * ctx.scale));
    const items = Math.max(1_000, Math.round(ITEMS * ctx.scale));
    const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-snapshot-'));
    try {
      ctx.log(
        `building ${writes.toLocaleString('en-US')} writes on ${items.toLocaleString('en-US')} items with snapshots and pruning…`,
      );
      const pruned = await build(dir, 'pruned', writes, items, true, ctx);
      ctx.log(`building the same without snapshots (for the full replay)…`);
      const full = await build(dir, 'full', writes, items, false, ctx);
      const count = writes.toLocaleString('en-US');
      const open: Workload<'snapshot' | 'replay'> = {
        name: `cold open of a space with ${count} facts (SQLite)`,
        metrics: {
          snapshot: { metric: 'until queryable, latest snapshot + tail', unit: 'ms', better: 'lower', goal: 1000 },
          replay: { metric: 'until queryable, full replay of the log', unit: 'ms', better: 'lower' },
        },
        systems: {
          shoal: async (): Promise<Measured<'snapshot' | 'replay'>> => ({
            values: { snapshot: await coldOpen(pruned), replay: await coldOpen(full) },
            notes: {
              snapshot: `log ${pruned.logLength.toLocaleString('en-US')} entries after pruning; snapshot of ${items.toLocaleString('en-US')} items`,
              replay: `log of ${full.logLength.toLocaleString('en-US')} entries, no snapshot`,
            },
          }),
        },
      };
      const growth: Workload<'db' | 'rss' | 'archive' | 'dbEnd'> = {
        name: `bounded growth: ${count} writes on ${items.toLocaleString('en-US')} items, pruning on`,
        metrics: {
          db: { metric: 'database bytes, end / after 100k writes', unit: '×', better: 'lower', goal: 1.5 },
          rss: { metric: 'RSS, end / after 100k writes', unit: '×', better: 'lower', goal: 1.5 },
          dbEnd: { metric: 'database bytes at the end', unit: 'MB', better: 'lower' },
          archive: { metric: 'history archive at the end (grows: the audit trail)', unit: 'MB', better: 'lower' },
        },
        systems: {
          shoal: () =>
            Promise.resolve({
              values: {
                db: pruned.atEnd.db / pruned.at100k.db,
                rss: pruned.atEnd.rss / pruned.at100k.rss,
                dbEnd: pruned.atEnd.db / 1e6,
                archive: pruned.atEnd.archive / 1e6,
              },
              notes: {
                db: `${(pruned.at100k.db / 1e6).toFixed(1)} MB → ${(pruned.atEnd.db / 1e6).toFixed(1)} MB (SQLite file + WAL)`,
                rss: `${(pruned.at100k.rss / 1e6).toFixed(0)} MB → ${(pruned.atEnd.rss / 1e6).toFixed(0)} MB, after a GC; includes the acknowledging peer`,
              },
            }),
        },
      };
      const tally = pruned.attestation;
      const attested = tally.answerMs.length;
      const attestation: Workload<'median' | 'max' | 'bytes'> = {
        name: `attestation of snapshots while writing ${count} facts on ${items.toLocaleString('en-US')} items (2 peers)`,
        metrics: {
          median: { metric: 'request to attestation, median', unit: 'ms', better: 'lower' },
          max: { metric: 'request to attestation, max', unit: 'ms', better: 'lower' },
          bytes: { metric: 'on the wire per attestation (request, probe blobs, answer)', unit: 'B', better: 'lower' },
        },
        systems: {
          shoal: () =>
            Promise.resolve({
              values: {
                median: median(tally.answerMs),
                max: Math.max(...tally.answerMs),
                bytes: attested === 0 ? Number.NaN : tally.bytes / attested,
              },
              notes: {
                median: `${attested} attestations answered (each peer attests the other's snapshots, one every ${DEFAULT_SNAPSHOT_EVERY.toLocaleString('en-US')} entries); the attester rebuilds the root from its own latest snapshot plus its log tail, so the cost follows the live state (${items.toLocaleString('en-US')} items) and snapshotEvery, not the facts written; measured under the write load`,
              },
            }),
        },
      };
      return await runWorkloads([open, growth, attestation], ctx);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default suite;
