import { describe, expect, it } from 'vitest';
import { SimNetwork } from '../../transports/memory/index.js';
import { simPeer, unwrap } from '../support/peers.js';

describe('two peers on a SimNetwork', () => {
  it('sync writes both ways', async () => {
    const net = new SimNetwork({ seed: 1 });
    const a = await simPeer(net);
    const b = await simPeer(net);
    const items = a.space.collection<{ title: string }>('items');
    const id = unwrap(await items.create({ title: 'milk' }));
    const bid = unwrap(await b.space.collection<{ title: string }>('items').create({ title: 'eggs' }));
    expect(await net.runUntilQuiet()).toBe(true);
    expect(b.space.collection('items').get(id)).toEqual({ id, title: 'milk' });
    expect(a.space.collection('items').get(bid)).toEqual({ id: bid, title: 'eggs' });
    expect(a.space.stateHash()).toBe(b.space.stateHash());
    expect(a.space.status().pending).toBe(0);
    expect(b.space.status().pending).toBe(0);
  });
});
