/**
 * `threadWorkers()`: snapshot jobs on a `worker_threads` thread (Node), so building a snapshot of a
 * big space costs the event loop nothing but message passing. One thread per job; jobs are rare
 * (every `snapshotEvery` entries). Elsewhere (browsers) use `inProcessWorkers`.
 */
import type { BuiltSnapshot, SnapshotJob, Workers } from './workers.js';

type WorkerThreads = typeof import('node:worker_threads');

interface Reply {
  readonly id: number;
  readonly ok: boolean;
  readonly result?: BuiltSnapshot;
  readonly error?: string;
}

/** Snapshot jobs on worker threads. Throws (a programmer error) outside Node. */
export function threadWorkers(): Workers {
  const threads = (
    globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
  ).process?.getBuiltinModule?.('node:worker_threads') as WorkerThreads | undefined;
  if (threads === undefined)
    throw new Error('threadWorkers() needs node:worker_threads; use inProcessWorkers(env) here');
  const live = new Set<import('node:worker_threads').Worker>();
  return {
    snapshotJob(): SnapshotJob {
      const worker = spawn(threads);
      live.add(worker);
      let next = 0;
      const waiting = new Map<number, { resolve: (r: Reply) => void }>();
      worker.on('message', (reply: Reply) => {
        waiting.get(reply.id)?.resolve(reply);
        waiting.delete(reply.id);
      });
      const fail = (error: string) => {
        for (const w of waiting.values()) w.resolve({ id: -1, ok: false, error });
        waiting.clear();
      };
      worker.on('error', (e) => fail(e.message));
      worker.on('exit', (code) => fail(`snapshot worker exited (${code})`));
      const call = async (
        op: string,
        data: unknown,
        transfer: ArrayBuffer[] = [],
      ): Promise<BuiltSnapshot | undefined> => {
        const id = next++;
        const reply = await new Promise<Reply>((resolve) => {
          waiting.set(id, { resolve });
          worker.postMessage({ id, op, data }, transfer);
        });
        if (!reply.ok) throw new Error(reply.error ?? 'snapshot worker failed');
        return reply.result;
      };
      return {
        addChunk: async (bytes) => void (await call('chunk', bytes)),
        addEntries: async (entries) => void (await call('entries', entries)),
        finish: async () => {
          const result = await call('finish', null);
          live.delete(worker);
          await worker.terminate();
          return result!;
        },
      };
    },
    async close() {
      await Promise.all([...live].map((w) => w.terminate()));
      live.clear();
    },
  };
}

function spawn(threads: WorkerThreads): import('node:worker_threads').Worker {
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    // Running from TypeScript sources (tests, tsx): Node 20 workers ignore loader flags, so the
    // thread registers tsx itself before importing the entry.
    const entry = new URL('./thread-worker-main.ts', self).href;
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
    return new threads.Worker(boot, { eval: true });
  }
  return new threads.Worker(new URL('./thread-worker-main.js', self));
}
