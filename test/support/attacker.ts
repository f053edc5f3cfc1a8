/**
 * A hostile peer for tests: a member with a valid key on a SimNetwork that sends whatever frames it
 * likes, signs whatever facts it likes with its own key, and records what it receives.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { okAsync } from 'neverthrow';
import type { Env } from '../../engine/env.js';
import { Writer } from '../../engine/facts/bytes.js';
import { sealFact } from '../../engine/facts/codec.js';
import { keyFromRaw } from '../../engine/facts/ed25519.js';
import { sha256 } from '../../engine/facts/hash.js';
import { writeJson, writeObject } from '../../engine/facts/json.js';
import { runOf, type Run } from '../../engine/facts/run.js';
import { createSigner, identityFromSeed, originOf, type Ed25519Key, type Signer } from '../../engine/facts/sign.js';
import type { Fact, FactType, Hash, Hlc, JsonObject, PeerId } from '../../engine/facts/types.js';
import { decodeFrame, encodeMessage } from '../../engine/sync/codec.js';
import type { Message } from '../../engine/sync/messages.js';
import type { SimNetwork } from '../../transports/memory/index.js';
import { unwrap } from './peers.js';

/** An identity: its key, its signer, its origin (PeerId). */
export interface Identity {
  readonly key: Ed25519Key;
  readonly signer: Signer;
  readonly origin: PeerId;
}

export async function identity(seed: number): Promise<Identity> {
  const key = unwrap(await identityFromSeed(new Uint8Array(32).fill(seed & 0xff).map((b, i) => (b + i * 7) & 0xff)));
  const signer = unwrap(createSigner(key));
  return { key, signer, origin: originOf(key) };
}

/**
 * The identity of a 32-byte seed, the one `identityFromSeed` makes, derived synchronously: the public
 * key by `@noble/curves` (about half the CPU of an OpenSSL PKCS#8 import, which derives it too), then
 * a JWK import that has it already. For tests that need thousands of identities.
 */
export function identityOfSeed(seed: Uint8Array): Identity {
  const key = unwrap(keyFromRaw(new Uint8Array([...seed, ...ed25519.getPublicKey(seed)])));
  return { key, signer: unwrap(createSigner(key)), origin: originOf(key) };
}

export interface FactSpec {
  readonly type?: FactType;
  readonly collection?: string;
  readonly item: string;
  readonly data?: JsonObject;
  readonly hlc: Hlc;
}

/**
 * A run of `who`'s facts in `space`, counters from `first` on, chained onto `prev`, signed by
 * `signer` (by default `who`'s own: pass another to forge).
 */
export async function signedRun(
  space: string,
  who: Identity,
  first: number,
  prev: Hash | null,
  specs: readonly FactSpec[],
  signer: Signer = who.signer,
): Promise<Run> {
  const facts: Fact[] = [];
  let link = prev;
  specs.forEach((spec, i) => {
    const type = spec.type ?? 'create';
    const draft = {
      origin: who.origin,
      counter: first + i,
      hlc: spec.hlc,
      type,
      collection: spec.collection ?? 'items',
      item: spec.item,
      prev: link,
      ...(type === 'delete' ? {} : { data: spec.data ?? { v: i } }),
    };
    const sealed = sealFact(space, draft as never);
    // A fact today's rules refuse (that is the attack) still gets the hash an older peer computed.
    const fact = sealed.isOk() ? sealed.value : ({ ...draft, hash: forgedHash(space, draft) } as Fact);
    facts.push(fact);
    link = fact.hash;
  });
  const sig = await signer.sign(facts[facts.length - 1]!.hash);
  return runOf(facts, sig);
}

/**
 * The canonical hash (engine/facts/codec.ts) of a fact past today's checks: written out by hand here,
 * so tests can forge what the validating encoder refuses to build. Create and update data only.
 */
function forgedHash(
  space: string,
  f: {
    origin: string;
    counter: number;
    hlc: Hlc;
    type: FactType;
    collection: string;
    item: string;
    prev: Hash | null;
    data?: JsonObject;
  },
): Hash {
  const w = new Writer(256);
  w.u8(1).string(space).string(f.origin).uvarint(f.counter);
  w.uvarint(f.hlc.wall)
    .uvarint(f.hlc.logical)
    .u8({ create: 1, update: 2, delete: 3 }[f.type])
    .string(f.collection)
    .string(f.item);
  if (f.type === 'create') writeObject(w, f.data as Record<string, unknown>);
  else if (f.type === 'update') {
    const [field, value] = Object.entries(f.data!)[0]!;
    w.string(field);
    writeJson(w, value);
  }
  if (f.prev === null) w.u8(0);
  else w.u8(1).raw(f.prev);
  return sha256(w.finish());
}

/** A hostile member on `net`: it speaks frames directly. */
export interface Hostile {
  readonly id: PeerId;
  readonly identity: Identity;
  /** Frames received, decoded when they decode, by sender. */
  readonly received: { from: string; message: Message | undefined; bytes: number }[];
  /** Remotes that cut the link to it (peer-down), in order. */
  readonly cutOffBy: string[];
  send(to: string, message: Message | Uint8Array): void;
  /** Blobs it serves: a blob-request for one of these is answered with it. */
  readonly blobs: Map<string, Uint8Array>;
  /** Bytes it received from `from` (all frames). */
  bytesFrom(from: string): number;
}

export async function hostile(net: SimNetwork, seed: number, env: Env = net.env): Promise<Hostile> {
  const who = await identity(seed);
  const transport = net.transport();
  const received: Hostile['received'] = [];
  const cutOffBy: string[] = [];
  const blobs = new Map<string, Uint8Array>();
  unwrap(
    await transport.start(
      { peerId: who.origin, privateKey: who.key, env },
      {
        peerUp: () => undefined,
        peerDown: (peer) => void cutOffBy.push(peer),
        message: (from, frame) => {
          const decoded = decodeFrame(frame);
          received.push({ from, message: decoded.isOk() ? decoded.value : undefined, bytes: frame.length });
          if (decoded.isOk() && decoded.value.type === 'blob-request') {
            const { space, ids } = decoded.value;
            for (const id of ids) {
              const bytes = blobs.get(id);
              if (bytes !== undefined) void transport.send(from, encodeMessage({ type: 'blob', space, id, bytes }));
            }
          }
        },
      },
    ),
  );
  return {
    id: who.origin,
    identity: who,
    received,
    cutOffBy,
    blobs,
    send: (to, message) => {
      const frame = message instanceof Uint8Array ? message : encodeMessage(message);
      void transport.send(to as PeerId, frame).orElse(() => okAsync(undefined));
    },
    bytesFrom: (from) => received.filter((r) => r.from === from).reduce((sum, r) => sum + r.bytes, 0),
  };
}
