import { errAsync, type ResultAsync } from 'neverthrow';
import { describe, expect, it } from 'vitest';
import {
  createPeer,
  memoryStorage,
  storageError,
  type Space,
  type SpaceEvent,
  type Storage,
  type WriteError,
} from '../../engine/index.js';
import { identityFromSeed, originOf } from '../../engine/facts/sign.js';
import { MAX_ID_LENGTH, MAX_VALUE_BYTES } from '../../engine/limits.js';
import { SimNetwork } from '../../transports/memory/index.js';
import { simPeer, unwrap } from '../support/peers.js';

type Item = { title: string; done: boolean };

async function offlinePeer(storage: Storage = memoryStorage()) {
  const net = new SimNetwork({ seed: 1 });
  const peer = unwrap(await createPeer({ storage, env: net.env }));
  const space = unwrap(await peer.space('list'));
  return { peer, space, storage, net };
}

describe('collections', () => {
  it('create, get, update, delete, all', async () => {
    const { space } = await offlinePeer();
    const items = space.collection<Item>('items');
    const id = unwrap(await items.create({ title: 'milk', done: false }));
    expect(id).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(items.get(id)).toEqual({ id, title: 'milk', done: false });
    unwrap(await items.update(id, 'done', true));
    expect(items.get(id)?.done).toBe(true);
    unwrap(await items.create({ title: 'eggs', done: false }, 'eggs'));
    expect(
      items
        .all()
        .map((i) => i.title)
        .sort(),
    ).toEqual(['eggs', 'milk']);
    unwrap(await items.delete(id));
    expect(items.get(id)).toBeUndefined();
    expect(items.all().map((i) => i.id)).toEqual(['eggs']);
    // a deleted item can be created again
    unwrap(await items.create({ title: 'milk again', done: false }, id));
    expect(items.get(id)).toEqual({ id, title: 'milk again', done: false });
  });

  it('applies a write to the view at once and resolves it once durable', async () => {
    const { space, storage } = await offlinePeer();
    const items = space.collection<Item>('items');
    const emptyHash = space.stateHash();
    let resolved = false;
    const pending = items.create({ title: 'milk', done: false }, 'm').map((id) => {
      resolved = true;
      return id;
    });
    expect(items.get('m')).toEqual({ id: 'm', title: 'milk', done: false });
    expect(resolved).toBe(false);
    expect(space.stateHash()).toBe(emptyHash);
    unwrap(await pending);
    const log = unwrap(await storage.openLog('list'));
    expect(unwrap(await log.query('start', 'end')).entries.map((e) => e.item)).toEqual(['m']);
    expect(space.stateHash()).not.toBe(emptyHash);
  });

  it('returns views that cannot be mutated', async () => {
    const { space } = await offlinePeer();
    const items = space.collection<{ tags: string[] }>('items');
    unwrap(await items.create({ tags: ['a'] }, 'x'));
    const view = items.get('x')!;
    expect(() => view.tags.push('b')).toThrow();
    expect(items.get('x')).toEqual({ id: 'x', tags: ['a'] });
  });

  it('notifies subscribers of local changes', async () => {
    const { space } = await offlinePeer();
    const events: SpaceEvent[] = [];
    const unsubscribe = space.subscribe((e) => events.push(e));
    const items = space.collection<Item>('items');
    unwrap(await items.create({ title: 'milk', done: false }, 'm'));
    unsubscribe();
    unwrap(await items.update('m', 'done', true));
    expect(events).toEqual([
      { source: 'local', changes: [{ collection: 'items', id: 'm', value: { id: 'm', title: 'milk', done: false } }] },
    ]);
  });
});

describe('caller errors are typed and change nothing', () => {
  const cases: [string, (s: Space) => ResultAsync<unknown, WriteError>, string][] = [
    ['an empty collection name', (s) => s.collection('').create({ a: 1 }), 'invalid-input'],
    [
      'a collection name that is too long',
      (s) => s.collection('c'.repeat(MAX_ID_LENGTH + 1)).create({ a: 1 }),
      'invalid-input',
    ],
    [
      'a collection name that is not a string',
      (s) => s.collection(42 as unknown as string).create({ a: 1 }),
      'invalid-input',
    ],
    ['an empty item id', (s) => s.collection('items').create({ a: 1 }, ''), 'invalid-input'],
    [
      'an item id that is not a string',
      (s) => s.collection('items').create({ a: 1 }, 7 as unknown as string),
      'invalid-input',
    ],
    ['create of an existing item', (s) => s.collection('items').create({ a: 1 }, 'existing'), 'exists'],
    ['update of a missing item', (s) => s.collection('items').update('nope', 'a', 1), 'not-found'],
    ['delete of a missing item', (s) => s.collection('items').delete('nope'), 'not-found'],
    ['the reserved field "id"', (s) => s.collection('items').create({ id: 'x' }), 'invalid-input'],
    ['update of the field "id"', (s) => s.collection('items').update('existing', 'id', 'y'), 'invalid-input'],
    [
      'an undefined value',
      (s) => s.collection<{ a?: number }>('items').update('existing', 'a', undefined),
      'invalid-input',
    ],
    [
      'a non-JSON value',
      (s) => s.collection<{ a: unknown }>('items').update('existing', 'a', new Date()),
      'invalid-input',
    ],
    [
      'an array as an object',
      (s) => s.collection('items').create([1, 2] as unknown as Record<string, number>),
      'invalid-input',
    ],
    [
      'an oversized value',
      (s) => s.collection('items').update('existing', 'a', 'x'.repeat(MAX_VALUE_BYTES)),
      'invalid-input',
    ],
  ];

  it.each(cases)('%s', async (_name, act, type) => {
    const { space } = await offlinePeer();
    unwrap(await space.collection('items').create({ a: 0 }, 'existing'));
    const before = { hash: space.stateHash(), all: space.collection('items').all(), vector: space.status().vector };
    const result = await act(space);
    expect(result.isErr()).toBe(true);
    expect(result.isErr() && result.error.type).toBe(type);
    expect({ hash: space.stateHash(), all: space.collection('items').all(), vector: space.status().vector }).toEqual(
      before,
    );
    expect(space.status().pending).toBe(1);
  });

  it('a bad space id', async () => {
    const { peer } = await offlinePeer();
    const result = await peer.space('');
    expect(result.isErr() && result.error.type).toBe('invalid-input');
  });

  it('bad options', async () => {
    const result = await createPeer({ storage: memoryStorage(), ackQuorum: 0 });
    expect(result.isErr() && result.error.type).toBe('invalid-input');
  });

  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic['self'] = cyclic;
  let nested: unknown = 1;
  for (let i = 0; i < 70; i++) nested = [nested];
  const messages: [string, (s: Space) => ResultAsync<unknown, WriteError>, string][] = [
    [
      'a Date, named with its field',
      (s) => s.collection('items').create({ title: 'x', due: new Date(0) } as never),
      'field "due": a Date is not a JSON value (store date.toISOString() or date.getTime())',
    ],
    [
      'a Date set by update',
      (s) => s.collection<{ a: unknown }>('items').update('existing', 'a', new Date(0)),
      'field "a": a Date is not a JSON value (store date.toISOString() or date.getTime())',
    ],
    [
      'a value that contains itself: a cycle, not "nested deeper than 64"',
      (s) => s.collection('items').create({ tree: cyclic } as never),
      'field "tree.self": refers back to an object that contains it (a cycle): JSON values are trees',
    ],
    [
      'a cycle inside an array',
      (s) => s.collection<{ a: unknown }>('items').update('existing', 'a', [1, { up: cyclic }]),
      'field "a[1].up.self": refers back to an object that contains it (a cycle): JSON values are trees',
    ],
    [
      'nesting that is only deep',
      (s) => s.collection<{ a: unknown }>('items').update('existing', 'a', nested),
      'field "a[0][0][0][0][0][0][0]…": nested deeper than 64 levels',
    ],
    [
      'NaN deep inside',
      (s) => s.collection('items').create({ stats: { mean: Number.NaN } }),
      'field "stats.mean": NaN is not a JSON number',
    ],
  ];

  it.each(messages)('the message names %s', async (_name, act, message) => {
    const { space } = await offlinePeer();
    unwrap(await space.collection('items').create({ a: 0 }, 'existing'));
    const result = await act(space);
    expect(result.isErr() && result.error).toEqual({ type: 'invalid-input', message });
  });
});

describe('peers and storage', () => {
  it('opening an open space returns the same space', async () => {
    const { peer, space } = await offlinePeer();
    expect(unwrap(await peer.space('list'))).toBe(space);
  });

  it('keeps its identity and continues its counters after a restart', async () => {
    const storage = memoryStorage();
    const first = await offlinePeer(storage);
    unwrap(await first.space.collection('items').create({ a: 1 }, 'x'));
    await first.peer.close();
    const second = await offlinePeer(storage);
    expect(second.peer.id).toBe(first.peer.id);
    unwrap(await second.space.collection('items').update('x', 'a', 2));
    expect(second.space.status().vector).toEqual({ [first.peer.id]: 2 });
    expect(second.space.status().pending).toBe(2);
    expect(second.space.collection('items').get('x')).toEqual({ id: 'x', a: 2 });
  });

  it('refuses a storage that belongs to another identity', async () => {
    const storage = memoryStorage();
    const { peer } = await offlinePeer(storage);
    await peer.close();
    const other = unwrap(await identityFromSeed(new Uint8Array(32).fill(5)));
    const result = await createPeer({ storage, identity: other });
    expect(result.isErr() && result.error.type).toBe('invalid-input');
    // and accepts its own
    const key = unwrap(await identityFromSeed(new Uint8Array(32).fill(6)));
    const fresh = unwrap(await createPeer({ storage: memoryStorage(), identity: key }));
    expect(fresh.id).toBe(originOf(key));
  });

  it('a failed durable write is reported, rolled back from the view, and nothing breaks after', async () => {
    const inner = memoryStorage();
    let failing = false;
    const storage: Storage = {
      ...inner,
      openLog: (id) =>
        inner.openLog(id).map((log) => ({
          ...log,
          addEntry: log.addEntry.bind(log),
          setMetadata: log.setMetadata.bind(log),
          query: log.query.bind(log),
          truncate: log.truncate.bind(log),
          addEntries: (entries, seq, snap) =>
            failing ? errAsync(storageError('disk full')) : log.addEntries(entries, seq, snap),
        })),
    };
    const { space } = await offlinePeer(storage);
    const items = space.collection('items');
    unwrap(await items.create({ a: 1 }, 'x'));
    const hash = space.stateHash();
    failing = true;
    const write = items.update('x', 'a', 2);
    expect(items.get('x')).toEqual({ id: 'x', a: 2 });
    const result = await write;
    expect(result.isErr() && result.error.type).toBe('storage');
    expect(items.get('x')).toEqual({ id: 'x', a: 1 });
    expect(space.stateHash()).toBe(hash);
    failing = false;
    unwrap(await items.update('x', 'a', 3));
    expect(items.get('x')).toEqual({ id: 'x', a: 3 });
    // The failed fact was never durable nor sent, so its counter is taken by the next write.
    expect(Object.values(space.status().vector)).toEqual([2]);
  });
});

describe('two peers', () => {
  it('edit offline on both, reconnect: same stateHash(), pending 0', async () => {
    const net = new SimNetwork({ seed: 42 });
    const a = await simPeer(net, 'list');
    const b = await simPeer(net, 'list');
    const itemsA = a.space.collection<Item>('items');
    const itemsB = b.space.collection<Item>('items');
    unwrap(await itemsA.create({ title: 'milk', done: false }, 'milk'));
    await net.runUntilQuiet();
    expect(itemsB.get('milk')).toEqual({ id: 'milk', title: 'milk', done: false });

    net.linkDown(a.peer.id, b.peer.id);
    unwrap(await itemsA.update('milk', 'done', true));
    unwrap(await itemsA.create({ title: 'bread', done: false }, 'bread'));
    unwrap(await itemsB.update('milk', 'title', 'oat milk'));
    unwrap(await itemsB.create({ title: 'eggs', done: false }, 'eggs'));
    await net.advance(5_000);
    expect(a.space.status().pending).toBe(2);
    expect(b.space.status().pending).toBe(2);
    expect(a.space.stateHash()).not.toBe(b.space.stateHash());

    net.linkUp(a.peer.id, b.peer.id);
    expect(await net.runUntilQuiet()).toBe(true);
    expect(a.space.stateHash()).toBe(b.space.stateHash());
    expect(a.space.status().pending).toBe(0);
    expect(b.space.status().pending).toBe(0);
    const expected = [
      { id: 'bread', title: 'bread', done: false },
      { id: 'eggs', title: 'eggs', done: false },
      { id: 'milk', title: 'oat milk', done: true },
    ];
    expect(itemsA.all()).toEqual(expected);
    expect(itemsB.all()).toEqual(expected);
  });
});
