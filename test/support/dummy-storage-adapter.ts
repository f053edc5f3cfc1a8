/**
 * automerge-repo's own in-memory `DummyStorageAdapter`, loaded through a computed specifier:
 * its published .d.ts imports `../../src/index.js`, which would make tsc type-check automerge-repo's
 * TypeScript sources under this project's strict flags. The runtime class is the real one.
 */
import type { StorageAdapterInterface } from '@automerge/automerge-repo/slim';

const specifier: string = ['@automerge', 'automerge-repo', 'helpers', 'DummyStorageAdapter.js'].join('/');
const mod = (await import(specifier)) as { DummyStorageAdapter: new () => StorageAdapterInterface };

/** A fresh in-memory automerge-repo StorageAdapter (keys joined with ".", string-prefix ranges). */
export const dummyStorageAdapter = (): StorageAdapterInterface => new mod.DummyStorageAdapter();
