/**
 * Opening a space on damaged metadata gives a typed `corrupt` error instead of a rejection or a
 * guess; a failing disk and a failing snapshot are recorded as faults of their own type.
 */
import { describe, expect, it } from 'vitest';
import { createPeer, memoryStorage, type Storage } from '../../engine/index.js';
import { faultyStorage } from '../../testing/index.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { simPeer, unwrap } from '../support/peers.js';

const bytes = (text: string) => new TextEncoder().encode(text);

async function openOn(storage: Storage) {
  const peer = unwrap(await createPeer({ storage }));
  return peer.space('s');
}

describe('corrupt metadata', () => {
  for (const [key, value] of [
    ['space/s/adopted', 'not json'],
    ['space/s/adopted', '{"a":1}'],
    ['space/s/adopted', '["not-a-blob-id"]'],
    ['space/s/acked', 'garbage'],
    ['space/s/acked', '12:-3'],
  ] as const) {
    it(`${key} = ${JSON.stringify(value)}: peer.space() fails with a corrupt OpenError`, async () => {
      const storage = memoryStorage();
      unwrap(await storage.setMeta(key, bytes(value)));
      const opened = await openOn(storage);
      expect(opened.isErr() && opened.error.type).toBe('corrupt');
    });
  }

  it('the same metadata written by a peer opens fine (the control)', async () => {
    const storage = memoryStorage();
    const net = new SimNetwork({ seed: 3 });
    const a = await simPeer(net, 's', { storage });
    const b = await simPeer(net, 's');
    unwrap(await a.space.collection('items').create({ v: 1 }, 'x'));
    expect(await net.runUntilQuiet()).toBe(true);
    expect(a.space.status().pending).toBe(0);
    await a.peer.close();
    await b.peer.close();
    expect(unwrap(await storage.getMeta('space/s/acked'))).toBeDefined();
    const reopened = unwrap(await openOn(storage));
    expect(reopened.collection('items').get('x')).toEqual({ id: 'x', v: 1 });
  });
});

it('a write the disk refuses is a fault of type storage, blamed on this peer', async () => {
  const probe = faultyStorage(memoryStorage());
  await simPeer(new SimNetwork({ seed: 5 }), 's', { storage: probe });
  const disk = faultyStorage(memoryStorage(), { failAfterWrites: probe.writes, mode: 'error' });
  const a = await simPeer(new SimNetwork({ seed: 5 }), 's', { storage: disk });
  const failed = await a.space.collection('items').create({ v: 1 }, 'x');
  expect(failed.isErr() && failed.error.type).toBe('storage');
  const faults = a.space.status().faults;
  expect(faults.map((f) => f.type)).toEqual(['storage']);
  expect(faults[0]!.peer).toBe(a.peer.id);
});
