/**
 * Shoal peers syncing over real libp2p connections on 127.0.0.1: convergence over TCP and
 * WebSockets, private networks and allowlists (nothing crosses), restart on the same storage
 * (nothing acknowledged is sent again), and a 50,000-fact catch-up.
 */
import { generateKey } from '@libp2p/pnet';
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { sqliteStorage } from '../../engine/storage/sqlite/index.js';
import { unwrap } from '../support/peers.js';
import { tempDirs } from '../support/temp-dir.js';
import { converged, eventually, libp2pPeer, type NetPeer } from './network-peers.js';

interface Item {
  title: string;
  n: number;
}

const running: NetPeer[] = [];
async function start(init: Parameters<typeof libp2pPeer>[0] = {}): Promise<NetPeer> {
  const p = await libp2pPeer(init);
  running.push(p);
  return p;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.peer.close()));
});

const items = (p: NetPeer) => p.space.collection<Item>('items');

function swarmKey(): Uint8Array {
  const psk = new Uint8Array(95);
  generateKey(psk);
  return psk;
}

describe.each([
  ['TCP', '/ip4/127.0.0.1/tcp/0'],
  ['WebSockets', '/ip4/127.0.0.1/tcp/0/ws'],
])('three peers over libp2p %s', (_name, listen) => {
  it('converge on concurrent writes, with C reaching A only through B', async () => {
    const a = await start({ transport: { listen: [listen] } });
    const b = await start({ transport: { listen: [listen], bootstrap: a.peer.addresses() } });
    // A line: C knows only B, so A's facts reach C (and C's reach A) by forwarding.
    const c = await start({ transport: { listen: [listen], bootstrap: b.peer.addresses() } });
    const peers = [a, b, c];

    const shared = unwrap(await items(a).create({ title: 'shared', n: 0 }, 'shared'));
    await eventually(() => peers.every((p) => items(p).get(shared) !== undefined), 'the shared item everywhere');
    // Everyone writes at once: their own items, and the same field of the shared one.
    await Promise.all(
      peers.flatMap((p, i) => [
        ...Array.from({ length: 20 }, (_, k) => items(p).create({ title: `peer ${i} item ${k}`, n: k })),
        items(p).update(shared, 'title', `renamed by peer ${i}`),
      ]),
    );
    await eventually(() => converged(peers), 'convergence');

    const everything = items(a).all();
    expect(everything).toHaveLength(61);
    for (const p of peers) expect(items(p).all()).toEqual(everything);
    expect(items(a).get(shared)?.title).toMatch(/^renamed by peer [012]$/);
    expect(c.transport.linkedPeers()).toEqual([b.peer.id]);
    for (const p of peers) expect(p.space.status().faults).toEqual([]);
  });
});

describe('who may connect', () => {
  /** Both peers wrote; assert neither learned anything from the other. */
  function expectIsolated(x: NetPeer, y: NetPeer): void {
    for (const p of [x, y]) {
      expect(Object.keys(p.space.status().vector)).toEqual([p.peer.id]);
      expect(items(p).all()).toHaveLength(1);
      expect(p.space.status().peers).toEqual([]);
      expect(p.transport.stats()).toMatchObject({ linksUp: 0, framesReceived: 0, bytesReceived: 0 });
    }
  }

  it('a peer with the wrong pre-shared key never connects: nothing is exchanged', async () => {
    const a = await start({ transport: { psk: swarmKey() } });
    const b = await start({ transport: { psk: swarmKey(), bootstrap: a.peer.addresses() } });
    unwrap(await items(a).create({ title: 'from a', n: 1 }));
    unwrap(await items(b).create({ title: 'from b', n: 2 }));
    await eventually(() => b.transport.stats().dialFailures >= 3, 'three failed dials');
    expectIsolated(a, b);
  });

  it('a peer without the pre-shared key never connects: nothing is exchanged', async () => {
    const a = await start({ transport: { psk: swarmKey() } });
    const b = await start({ transport: { bootstrap: a.peer.addresses() } });
    unwrap(await items(a).create({ title: 'from a', n: 1 }));
    unwrap(await items(b).create({ title: 'from b', n: 2 }));
    await eventually(() => b.transport.stats().dialFailures >= 3, 'three failed dials');
    expectIsolated(a, b);
  });

  it('peers with the same key sync', async () => {
    const psk = swarmKey();
    const a = await start({ transport: { psk } });
    const b = await start({ transport: { psk, bootstrap: a.peer.addresses() } });
    unwrap(await items(a).create({ title: 'from a', n: 1 }));
    unwrap(await items(b).create({ title: 'from b', n: 2 }));
    await eventually(() => converged([a, b]) && items(a).all().length === 2, 'convergence');
  });

  it('a peer off the allowlist is refused and learns nothing; a listed peer syncs', async () => {
    // The allowlist needs C's PeerId before A starts: give C its identity up front.
    const { generateKeyPair } = await import('@libp2p/crypto/keys');
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id');
    const cKey = await generateKeyPair('Ed25519');
    const a = await start({ transport: { allow: [peerIdFromPrivateKey(cKey).toString()] } });
    const stranger = await start({ transport: { bootstrap: a.peer.addresses() } });
    const c = await start({ identity: cKey, transport: { bootstrap: a.peer.addresses() } });
    unwrap(await items(a).create({ title: 'from a', n: 1 }));
    unwrap(await items(stranger).create({ title: 'from the stranger', n: 2 }));
    unwrap(await items(c).create({ title: 'from c', n: 3 }));
    await eventually(() => converged([a, c]) && items(a).all().length === 2, 'a and c to converge');
    await eventually(() => a.transport.stats().refused >= 2, 'two refusals at a');
    expect(
      items(stranger)
        .all()
        .map((i) => i.title),
    ).toEqual(['from the stranger']);
    expect(
      items(a)
        .all()
        .map((i) => i.title)
        .sort(),
    ).toEqual(['from a', 'from c']);
    expect(stranger.transport.stats()).toMatchObject({ linksUp: 0, framesReceived: 0 });
  });
});

describe('restart', () => {
  const tempDir = tempDirs('shoal-restart-');
  it('a peer restarted on the same storage and identity resumes without re-sending what was acknowledged', async () => {
    const a = await start();
    const file = join(tempDir(), 'b.db');
    const b1 = await start({ storage: sqliteStorage(file), transport: { bootstrap: a.peer.addresses() } });
    const first = 2000;
    await Promise.all(Array.from({ length: first }, (_, k) => items(a).create({ title: `item ${k}`, n: k })));
    await eventually(() => converged([a, b1]) && items(b1).all().length === first, 'the first sync');
    const firstSyncBytes = b1.transport.stats().bytesReceived;

    await b1.peer.close();
    running.splice(running.indexOf(b1), 1);
    await eventually(() => a.space.status().peers.length === 0, 'a to see b go');
    // a writes while b is away.
    await Promise.all(Array.from({ length: 10 }, (_, k) => items(a).create({ title: `while away ${k}`, n: k })));
    const sentBefore = a.transport.stats().bytesSent;

    const b2 = await start({ storage: sqliteStorage(file), transport: { bootstrap: a.peer.addresses() } });
    expect(b2.peer.id).toBe(b1.peer.id); // the identity came from storage
    expect(items(b2).all()).toHaveLength(first); // and the facts, before any network
    await eventually(() => converged([a, b2]) && items(b2).all().length === first + 10, 'the resync');

    // Only the 10 new facts plus the handshake crossed: a re-send of the 2,000 would be ≥ firstSyncBytes.
    const resyncBytes = b2.transport.stats().bytesReceived;
    expect(resyncBytes).toBeGreaterThan(0);
    expect(resyncBytes).toBeLessThan(firstSyncBytes / 20);
    expect(a.transport.stats().bytesSent - sentBefore).toBeLessThan(firstSyncBytes / 20);
  });
});

describe('catch-up', () => {
  it('50,000 facts reach a fresh peer, complete and verified', async () => {
    const a = await start();
    const total = 50_000;
    const list = items(a);
    for (let start = 0; start < total; start += 5000) {
      await Promise.all(
        Array.from({ length: 5000 }, (_, k) => list.create({ title: `item ${start + k}`, n: start + k })),
      );
    }
    const b = await start({ transport: { bootstrap: a.peer.addresses() } });
    await eventually(() => (b.space.status().vector[a.peer.id] ?? 0) === total, 'the whole log at b', 120_000);
    await eventually(() => converged([a, b]), 'acknowledgement', 30_000);
    // Every fact went through b's checks (hash, chain, signature); none was refused.
    expect(b.space.status().faults).toEqual([]);
    expect(b.space.stateHash()).toBe(a.space.stateHash());
    const got = items(b).all();
    expect(got).toHaveLength(total);
    const ns = new Set(got.map((i) => i.n));
    expect(ns.size).toBe(total);
    expect(b.space.status().logLength).toBe(total);
  });
});
