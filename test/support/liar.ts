/**
 * A lying member for the fault campaign (testing/campaign.ts, `adversary`): a peer with a valid key
 * that writes real facts of its own and lies with them. Each round it may re-sign a counter of its
 * own chain that the victim already holds (equivocation), claim to hold facts it does not (hello and
 * ack vectors far ahead: tips it does not have), relay a real snapshot offer with junk history heads,
 * offer a snapshot nobody made attested by itself and a throw-away identity, and send attestations
 * in an honest peer's name. What it does is drawn from its own random stream, so the campaign's own
 * draws (fault mix, workload) are those of the same seed without it.
 *
 * Unless `forks`, it never forks its chain between peers that do not hold the first branch: honest
 * peers that hold different branches of one origin never go quiet (each offers the other its branch
 * for ever, test/hostile/lying-member.test.ts), so with `forks` the campaign fails today.
 */
import { PROTOCOL_VERSION, type Message } from '../../engine/sync/messages.js';
import { attest } from '../../engine/snapshot/attestation.js';
import { originKey, type OriginKey, type WireVector } from '../../engine/sync/origin-key.js';
import type { Hash } from '../../engine/facts/types.js';
import { runCampaign, type Adversary, type CampaignResult } from '../../testing/campaign.js';
import type { SimNetwork } from '../../transports/memory/index.js';
import { hostile, identity, signedRun } from './attacker.js';

/** What the liar did, by kind (a campaign that never lied would pass vacuously). */
export type LieKind = 'write' | 'equivocate' | 'tips' | 'junk-heads' | 'fake-snapshot' | 'forged-attestation';
const KINDS: readonly LieKind[] = ['write', 'equivocate', 'tips', 'junk-heads', 'fake-snapshot', 'forged-attestation'];

/** mulberry32: the liar's own stream. */
function prng(seed: number): () => number {
  let a = (seed ^ 0x11a7e) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex32 = (random: () => number): string =>
  Array.from({ length: 8 }, () =>
    Math.floor(random() * 2 ** 32)
      .toString(16)
      .padStart(8, '0'),
  ).join('');

export interface Liar extends Adversary {
  readonly counts: Record<LieKind, number>;
}

export async function liar(
  net: SimNetwork,
  space: string,
  seed: number,
  honest: readonly string[],
  forks = false,
): Promise<Liar> {
  const random = prng(seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const me = await hostile(net, 150 + (seed % 100));
  const key: OriginKey = originKey(me.identity.origin);
  /** Hashes of its own chain: hashes[c - 1] is fact c's. */
  const hashes: Hash[] = [];
  const counts = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<LieKind, number>;
  let seen = 0;
  /** Per honest peer, the counter of the liar's chain it says it holds (hello, have, ack). */
  const holds = new Map<string, number>();
  /** Per origin key, the highest counter any honest peer claimed. */
  const highest = new Map<OriginKey, number>();
  const offers: Extract<Message, { type: 'snapshot-offer' }>[] = [];
  let sybil = 0;
  let left = false;

  /** Read what arrived since the last round. */
  const learn = () => {
    for (; seen < me.received.length; seen++) {
      const { from, message } = me.received[seen]!;
      if (message === undefined) continue;
      if (message.type === 'hello' || message.type === 'have' || message.type === 'ack') {
        const vector: WireVector = message.vector;
        const mine = vector.get(key);
        if (mine !== undefined) holds.set(from, Math.max(holds.get(from) ?? 0, mine));
        for (const [k, c] of vector) highest.set(k, Math.max(highest.get(k) ?? 0, c));
      } else if (message.type === 'snapshot-offer' && offers.length < 8) offers.push(message);
    }
  };

  const send = (to: string, message: Message) => me.send(to, message);
  const hello = (to: string, vector: WireVector = new Map()) =>
    send(to, { type: 'hello', space, version: PROTOCOL_VERSION, reply: true, vector, more: false });
  for (const id of honest) hello(id);

  /** A few lies a round, a moment apart (a round of the campaign is a few hundred virtual ms). */
  const act = async (): Promise<void> => {
    for (let k = 0, n = 2 + Math.floor(random() * 8); k < n && !left; k++) {
      await lie();
      await net.advance(5 + Math.floor(random() * 40));
    }
  };

  const lie = async (): Promise<void> => {
    learn();
    const victim = pick(honest);
    const now = net.env.now();
    if (forks && random() < 0.1) {
      // Its next counter twice, one branch to each of two peers: they relay both (see the header).
      const c = hashes.length + 1;
      const other = pick(honest.filter((id) => id !== victim));
      for (const [to, v] of [
        [victim, 1],
        [other, 2],
      ] as const) {
        const run = await signedRun(space, me.identity, c, hashes[c - 2] ?? null, [
          { collection: 'lies', item: `l${c}`, data: { v }, hlc: { wall: now, logical: 0 } },
        ]);
        if (v === 1) hashes.push(run.hash);
        if (to !== undefined) send(to, { type: 'facts', space, runs: [run] });
      }
      return;
    }
    const kind = pick(KINDS);
    switch (kind) {
      case 'write': {
        // Real facts of its own, signed: every honest peer must end up holding them.
        const first = hashes.length + 1;
        const n = 1 + Math.floor(random() * 3);
        const specs = Array.from({ length: n }, (_, i) => ({
          collection: 'lies',
          item: `l${first + i}`,
          data: { v: first + i },
          hlc: { wall: now, logical: i },
        }));
        const run = await signedRun(space, me.identity, first, hashes[first - 2] ?? null, specs);
        let prev = run.prev;
        for (const fact of run.facts) {
          // runOf keeps the sealed facts: each carries its hash.
          prev = (fact as unknown as { hash: Hash }).hash;
          hashes.push(prev);
        }
        for (let k = 0; k < 1 + Math.floor(random() * 3); k++)
          send(pick(honest), { type: 'facts', space, runs: [run] });
        break;
      }
      case 'equivocate': {
        // A counter the victim said it holds, signed again with other content: the victim keeps
        // the first, records the proof, and passes the fork to nobody.
        const held = Math.min(holds.get(victim) ?? 0, hashes.length);
        if (held === 0) return;
        const c = 1 + Math.floor(random() * held);
        const run = await signedRun(space, me.identity, c, hashes[c - 2] ?? null, [
          { collection: 'lies', item: `l${c}`, data: { v: -c, fork: sybil++ }, hlc: { wall: now, logical: 0 } },
        ]);
        send(victim, { type: 'facts', space, runs: [run] });
        break;
      }
      case 'tips': {
        // It claims to hold far more of every origin than anyone has.
        const vector = new Map<OriginKey, number>();
        for (const [k, c] of highest) vector.set(k, c + 1 + Math.floor(random() * 500));
        if (random() < 0.5) hello(victim, vector);
        else send(victim, { type: 'ack', space, vector });
        break;
      }
      case 'junk-heads': {
        // A real offer (real attestations) relayed with history heads nobody has. Without one yet,
        // it says it holds nothing: a peer that pruned offers it its snapshot.
        if (offers.length === 0) return hello(victim);
        const offer = pick(offers);
        const history = Array.from({ length: 16 }, () => hex32(random));
        send(victim, { ...offer, history });
        break;
      }
      case 'fake-snapshot': {
        // A snapshot nobody made, covering far more than anyone holds, attested by the liar and a
        // throw-away identity; asked for, it serves junk.
        const blobId = hex32(random);
        const other = await identity(200 + (sybil++ % 50));
        const vector = new Map<OriginKey, number>();
        for (const [k, c] of highest) vector.set(k, c + 1000);
        me.blobs.set(blobId, new Uint8Array(64).fill(sybil & 0xff));
        send(victim, {
          type: 'snapshot-offer',
          space,
          blobId,
          vector,
          attestations: [await attest(space, blobId, me.identity.signer), await attest(space, blobId, other.signer)],
          history: [hex32(random)],
        });
        break;
      }
      case 'forged-attestation': {
        // An attestation of a real root, signed by the liar but in an honest peer's name.
        const root = offers.length > 0 ? pick(offers).blobId : hex32(random);
        const forged = await attest(space, root, me.identity.signer);
        const named = pick(honest.filter((id) => id !== victim));
        if (named === undefined) return;
        send(victim, { type: 'attestation', space, root, attestation: { ...forged, attester: named as never } });
        break;
      }
    }
    counts[kind]++;
  };

  return {
    id: me.id,
    counts,
    act,
    leave: () => {
      left = true;
      for (const id of honest) net.linkDown(me.id, id);
    },
  };
}

/**
 * One seed of the campaign with a liar: 8 honest peers × 200 writes, ackQuorum 2 (a liar's ack is
 * a lie about storage nobody can check: a write counts as acknowledged once an honest peer has it).
 */
export async function liarCampaign(
  seed: number,
  forks = false,
): Promise<{ result: CampaignResult; lies: Liar['counts'] }> {
  let the: Liar | undefined;
  const result = await runCampaign({
    seed,
    peers: 8,
    writes: 200,
    peer: { ackQuorum: 2 },
    adversary: async (net, space, honest) => (the = await liar(net, space, seed, honest, forks)),
  });
  return { result, lies: the!.counts };
}
