/**
 * Merge suite: many writers merging into one replica, local writes and a steady stream, each on
 * every system side by side. The Shoal side is added by giving a workload a `shoal` entry, built
 * with the same `measure…` function the baselines use (a `MergeSystem`, `LocalWritesSystem` or
 * `StreamSystem` for Shoal), so all systems are timed and checked by the same code.
 */
import { automergeLocalWrites, automergeMerge, automergeStream } from '../baselines/automerge.js';
import { yjsLocalWrites, yjsMerge, yjsStream } from '../baselines/yjs.js';
import { hashPayloads, localWritePayload, shoalLocalWrites, shoalMerge, shoalStream } from '../shoal.js';
import { assertEqual } from '../check.js';
import type { BenchContext, BenchSuite, RatioGoal } from '../harness.js';
import { describeSamples, sample } from '../measure.js';
import {
  fieldKey,
  type LocalWritesSpec,
  type LocalWritesSystem,
  type MergeSpec,
  type MergeSystem,
  type StreamSpec,
  type StreamSystem,
} from '../systems.js';
import { runWorkloads, type Measured, type MetricSpec, type Workload } from '../workload.js';

/** Writers in B3.1, as in the issue (crdt-benchmarks B3.1 uses 20·√N concurrent clients). */
const WRITERS = 1540;
const SETS_PER_LONG_RUN = 100;
const LOCAL_WRITES = 100_000;
/** Writes per transaction in the batched local-writes workload (Shoal `space.transact`, Yjs `doc.transact`, one Automerge `change`). */
const LOCAL_WRITE_BATCH = 100;
const STREAM_OPS = 10_000;
const STREAM_BATCH = 100;
/** Distinct fields the local-writes and stream workloads cycle through. */
const FIELDS = 1000;
const SEED = 0x5eed;
/** Warm-ups run on this share of the input: enough for the JIT, and a full Automerge run can take a minute. */
const WARMUP_SHARE = 0.1;

/** `metrics` with a ratio goal (from the issue) on the metrics named in `keys`. */
function withRatioGoal<K extends string>(
  metrics: Record<K, MetricSpec>,
  keys: readonly K[],
  goalRatio: RatioGoal,
): Record<K, MetricSpec> {
  const out = { ...metrics };
  for (const key of keys) out[key] = { ...metrics[key], goalRatio };
  return out;
}

const count = (n: number): string => n.toLocaleString('en-US');
const scaled = (n: number, scale: number): number => Math.max(1, Math.round(n * scale));

const MERGE_METRICS = {
  total: { metric: 'ingest, total', unit: 'ms', better: 'lower' },
  perUpdate: { metric: 'ingest, per update', unit: 'µs', better: 'lower' },
  perUpdateCpu: { metric: 'ingest, per update, main-thread CPU', unit: 'µs', better: 'lower' },
  floorCpu: { metric: 'floor: key import + hashes + signature check, per update, CPU', unit: 'µs', better: 'lower' },
  wire: { metric: 'on the wire, per update', unit: 'B', better: 'lower' },
  live: { metric: 'on the wire, per update, if each set were sent live', unit: 'B', better: 'lower' },
  rest: { metric: 'at rest, per update', unit: 'B', better: 'lower' },
} satisfies Record<string, MetricSpec>;
type MergeMetric = keyof typeof MERGE_METRICS;

const LOCAL_WRITE_METRICS = withRatioGoal(
  {
    rate: { metric: 'local writes', unit: 'writes/s', better: 'higher', goal: 200_000 },
    rateCpu: { metric: 'local writes, main-thread CPU', unit: 'writes/s', better: 'higher' },
  } satisfies Record<string, MetricSpec>,
  ['rate', 'rateCpu'],
  { vs: ['yjs'], atLeast: 1.5 },
);
type LocalWriteMetric = keyof typeof LOCAL_WRITE_METRICS;

/** The hash floor of a local write, in the same units as the local writes it bounds. */
const HASH_FLOOR_METRICS = {
  rate: { metric: "SHA-256 of one write's canonical bytes", unit: 'hashes/s', better: 'higher' },
  rateCpu: { metric: "SHA-256 of one write's canonical bytes, main-thread CPU", unit: 'hashes/s', better: 'higher' },
} satisfies Record<string, MetricSpec>;
type HashFloorMetric = keyof typeof HASH_FLOOR_METRICS;

const STREAM_METRICS = {
  wire: { metric: 'on the wire, per op (sync messages, both ways)', unit: 'B', better: 'lower', goal: 24 },
  payload: { metric: 'update payload, per op (batched)', unit: 'B', better: 'lower' },
  perOp: { metric: 'update payload, per op (one update per op)', unit: 'B', better: 'lower' },
} satisfies Record<string, MetricSpec>;
type StreamMetric = keyof typeof STREAM_METRICS;

/*
 * Times are wall-clock medians. The "main-thread CPU" metrics (Linux) count only the time the
 * measuring thread was on a CPU: they stay meaningful when other processes share the machine, but
 * they miss work a system moves to other threads, so they are a cross-check, not a replacement.
 */

/**
 * Generates the writers' updates (untimed), then times a fresh replica ingesting all of them and
 * checks, outside the clock, that it converged to the system's own winner.
 */
export async function measureMerge<R>(
  system: MergeSystem<R>,
  spec: MergeSpec,
  ctx: BenchContext,
): Promise<Measured<MergeMetric>> {
  const sets = spec.writers * spec.setsPerWriter;
  const started = performance.now();
  const input = await system.generate(spec);
  ctx.log(
    `  generated ${count(sets)} sets as ${count(input.updates.length)} updates in ${(performance.now() - started).toFixed(0)} ms`,
  );
  const warmupUpdates = input.updates.slice(0, Math.ceil(input.updates.length * WARMUP_SHARE));
  let atRest: number | undefined;
  const samples = await sample({
    setup: () => input.updates,
    run: (updates) => system.ingest(updates),
    async check(replica) {
      assertEqual(system.value(replica), input.expected, 'merged value of v');
      atRest ??= await system.atRestBytes(replica);
    },
    dispose: (replica) => system.dispose?.(replica),
    async warmup() {
      const replica = await system.ingest(warmupUpdates);
      system.dispose?.(replica);
    },
  });
  const wire = input.updates.reduce((sum, update) => sum + update.byteLength, 0);
  const long = spec.setsPerWriter > 1;
  const floor = system.floor?.(input.updates);
  const perSet = (ms: number) => ((ms * 1000) / sets).toPrecision(3);
  return {
    values: {
      total: samples.medianMs,
      perUpdate: (samples.medianMs * 1000) / sets,
      ...(samples.onCpuMedianMs === undefined ? {} : { perUpdateCpu: (samples.onCpuMedianMs * 1000) / sets }),
      wire: wire / sets,
      ...(floor === undefined ? {} : { floorCpu: ((floor.keyImportMs + floor.hashMs + floor.verifyMs) * 1000) / sets }),
      ...(long && input.liveBytes !== undefined ? { live: input.liveBytes / sets } : {}),
      ...(atRest === undefined ? {} : { rest: atRest / sets }),
    },
    notes: {
      total: `${describeSamples(samples)}; warm-up on the first ${warmupUpdates.length} updates`,
      wire: input.note,
      ...(floor === undefined
        ? {}
        : {
            floorCpu:
              `same frames, same run: key import ${perSet(floor.keyImportMs)} µs, hashes ${perSet(floor.hashMs)} µs, ` +
              `Ed25519 verify ${perSet(floor.verifyMs)} µs (node:crypto); the rest of the ingest is decode, log, state`,
          }),
      ...(long ? { live: 'not what is sent or timed here; for comparison with per-set sending' } : {}),
    },
  };
}

/** Times `spec.writes` local writes on a fresh document and checks the last one landed. */
export async function measureLocalWrites<D>(
  system: LocalWritesSystem<D>,
  spec: LocalWritesSpec,
): Promise<Measured<LocalWriteMetric>> {
  const last = spec.writes - 1;
  const samples = await sample({
    setup: () => system.create(),
    run: async (doc) => system.write(await doc, spec),
    check: (doc) => assertEqual(system.read(doc, fieldKey(last, spec.keys)), last, 'last written field'),
    dispose: (doc) => system.dispose?.(doc),
    async warmup() {
      const doc = await system.write(await system.create(), { ...spec, writes: Math.ceil(spec.writes * WARMUP_SHARE) });
      system.dispose?.(doc);
    },
  });
  return {
    values: {
      rate: spec.writes / (samples.medianMs / 1000),
      ...(samples.onCpuMedianMs === undefined ? {} : { rateCpu: spec.writes / (samples.onCpuMedianMs / 1000) }),
    },
    notes: { rate: `${system.note}; ${describeSamples(samples)}` },
  };
}

/**
 * Times hashing one local write's canonical bytes `spec.writes` times, as the write path does: the
 * floor the local-writes rows stand on, measured in the same run so the two can be compared.
 */
export async function measureHashFloor(spec: LocalWritesSpec): Promise<Measured<HashFloorMetric>> {
  const payload = localWritePayload(spec);
  const samples = await sample({
    setup: () => payload,
    run: (bytes) => hashPayloads(bytes, spec.writes),
    check: (digest) => assertEqual(digest.length, 32, 'digest length'),
    warmup() {
      hashPayloads(payload, Math.ceil(spec.writes * WARMUP_SHARE));
      return Promise.resolve();
    },
  });
  return {
    values: {
      rate: spec.writes / (samples.medianMs / 1000),
      ...(samples.onCpuMedianMs === undefined ? {} : { rateCpu: spec.writes / (samples.onCpuMedianMs / 1000) }),
    },
    notes: {
      rate: `${payload.length} B payload (an update of one numeric field), one-shot node:crypto SHA-256 into a digest slab, as LocalFactSealer hashes; ${describeSamples(samples)}`,
    },
  };
}

/** Streams once (bytes are deterministic, nothing is timed) and reports bytes per op. */
export async function measureStream(system: StreamSystem, spec: StreamSpec): Promise<Measured<StreamMetric>> {
  const bytes = await system.stream(spec);
  return {
    values: {
      wire: bytes.wireBytes / spec.ops,
      payload: bytes.payloadBytes / spec.ops,
      perOp: bytes.perOpUpdateBytes / spec.ops,
    },
    notes: { wire: bytes.note },
  };
}

/** The suite's workloads at `scale`. Add Shoal as one more entry in each `systems`. */
export function mergeWorkloads(scale: number): Workload<string>[] {
  const writers = scaled(WRITERS, scale);
  const oneSet: MergeSpec = { writers, setsPerWriter: 1, seed: SEED };
  const longRuns: MergeSpec = { writers, setsPerWriter: SETS_PER_LONG_RUN, seed: SEED };
  const writes: LocalWritesSpec = { writes: scaled(LOCAL_WRITES, scale), keys: FIELDS };
  const batchedWrites: LocalWritesSpec = { ...writes, batch: LOCAL_WRITE_BATCH };
  const stream: StreamSpec = { ops: scaled(STREAM_OPS, scale), batch: STREAM_BATCH, keys: FIELDS, seed: SEED };

  const b31: Workload<MergeMetric> = {
    name: `B3.1 merge: ${count(writers)} writers set one key once`,
    metrics: withRatioGoal<MergeMetric>(MERGE_METRICS, ['perUpdate', 'perUpdateCpu'], { vs: ['yjs'], atLeast: 1.5 }),
    systems: {
      shoal: (ctx) => measureMerge(shoalMerge, oneSet, ctx),
      yjs: (ctx) => measureMerge(yjsMerge, oneSet, ctx),
      automerge: (ctx) => measureMerge(automergeMerge, oneSet, ctx),
    },
  };
  const long: Workload<MergeMetric> = {
    name: `merge, long runs: ${count(writers)} writers × ${SETS_PER_LONG_RUN} sets of one key`,
    metrics: withRatioGoal<MergeMetric>(MERGE_METRICS, ['perUpdate', 'perUpdateCpu'], {
      vs: ['yjs', 'automerge'],
      atLeast: 5,
    }),
    systems: {
      shoal: (ctx) => measureMerge(shoalMerge, longRuns, ctx),
      yjs: (ctx) => measureMerge(yjsMerge, longRuns, ctx),
      automerge: (ctx) => measureMerge(automergeMerge, longRuns, ctx),
    },
  };
  const local: Workload<LocalWriteMetric> = {
    name: `local writes: ${count(writes.writes)} field sets on one doc, one transaction each`,
    metrics: LOCAL_WRITE_METRICS,
    systems: {
      shoal: () => measureLocalWrites(shoalLocalWrites, writes),
      yjs: () => measureLocalWrites(yjsLocalWrites, writes),
      automerge: () => measureLocalWrites(automergeLocalWrites, writes),
    },
  };
  const batched: Workload<LocalWriteMetric> = {
    name: `local writes in transactions: ${count(writes.writes)} field sets on one doc, ${LOCAL_WRITE_BATCH} per transaction`,
    metrics: LOCAL_WRITE_METRICS,
    systems: {
      shoal: () => measureLocalWrites(shoalLocalWrites, batchedWrites),
      yjs: () => measureLocalWrites(yjsLocalWrites, batchedWrites),
      automerge: () => measureLocalWrites(automergeLocalWrites, batchedWrites),
    },
  };
  const floor: Workload<HashFloorMetric> = {
    name: `local writes, the floor: ${count(writes.writes)} SHA-256 of one write's canonical bytes`,
    metrics: HASH_FLOOR_METRICS,
    systems: { shoal: () => measureHashFloor(writes) },
  };
  const steady: Workload<StreamMetric> = {
    name: `steady stream: 1 writer, ${count(stream.ops)} field sets sent in batches of ${STREAM_BATCH}`,
    metrics: STREAM_METRICS,
    systems: {
      shoal: () => measureStream(shoalStream, stream),
      yjs: () => measureStream(yjsStream, stream),
      automerge: () => measureStream(automergeStream, stream),
    },
  };
  return [b31, long, local, batched, floor, steady];
}

/** The merge suite. */
const suite: BenchSuite = {
  name: 'merge',
  run: (ctx) => runWorkloads(mergeWorkloads(ctx.scale), ctx),
};
export default suite;
