/**
 * The README's simulator example, as written there (it must keep working).
 */
import { expect, it } from 'vitest';
import { createPeer, memoryStorage } from '../../engine/index.js';
import { SimNetwork } from '../../transports/memory/index.js';

it('the README simulator example converges', async () => {
  const net = new SimNetwork({ seed: 7, drop: 0.1, reorder: 0.1 });
  const peer = async () => (await createPeer({ storage: memoryStorage(), ...net.node() }))._unsafeUnwrap();
  const [a, b] = [await peer(), await peer()];
  const listA = (await a.space('list'))._unsafeUnwrap().collection('items');
  const listB = (await b.space('list'))._unsafeUnwrap().collection('items');

  net.partition([[a.id], [b.id]]);
  (await listA.create({ title: 'milk' }, 'm'))._unsafeUnwrap();
  (await listB.create({ title: 'eggs' }, 'e'))._unsafeUnwrap();
  expect(listA.all()).toHaveLength(1);
  net.heal();
  await net.runUntilQuiet();
  expect(listA.all()).toEqual(listB.all());
  expect(listA.all()).toHaveLength(2);
});
