/**
 * Entry of a snapshot worker thread (see thread-workers.ts): runs one SnapshotJobCore, which may
 * block this thread as long as it likes.
 */
import { parentPort } from 'node:worker_threads';
import { SnapshotJobCore } from './workers.js';

const job = new SnapshotJobCore(() => Promise.resolve());
const port = parentPort!;

port.on('message', (message: { id: number; op: string; data: unknown }) => {
  const run = async () => {
    switch (message.op) {
      case 'chunk':
        await job.addChunk(message.data as Uint8Array);
        return undefined;
      case 'entries':
        await job.addEntries(message.data as Uint8Array[]);
        return undefined;
      case 'finish':
        return job.finish();
      default:
        throw new Error(`unknown op ${message.op}`);
    }
  };
  run().then(
    (result) => port.postMessage({ id: message.id, ok: true, result }),
    (e: unknown) => port.postMessage({ id: message.id, ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});
