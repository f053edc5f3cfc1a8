/**
 * The Fact: Shoal's unit of change. Immutable once written, authored by one origin, linked by hash
 * to the same origin's previous fact in the space, signed at the end of each run.
 */

/** A libp2p PeerId string (`12D3KooW…`): the identity of a peer and the origin of its facts. */
export type PeerId = string & { readonly __brand: 'PeerId' };

/** A SHA-256 digest (32 bytes). */
export type Hash = Uint8Array;

/**
 * An identity key as the engine and its transports see it. A libp2p `PrivateKey` has this shape
 * (so one can be passed wherever an `IdentityKey` is expected); so do the engine's own keys.
 * (Declared here, not in ed25519.ts, so public declarations never reach that file: its Node backend
 * would make an app's type check need @types/node.)
 */
export interface IdentityKey {
  readonly type: string;
  /** For Ed25519: 64 bytes, the 32-byte seed then the 32-byte public key. */
  readonly raw: Uint8Array;
  readonly publicKey: { readonly type: string; readonly raw: Uint8Array };
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** An Ed25519 identity key checked and held by the engine. */
export interface Ed25519Key extends IdentityKey {
  readonly type: 'Ed25519';
  readonly publicKey: { readonly type: 'Ed25519'; readonly raw: Uint8Array };
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** Checks a signature over `data`; false for a malformed one. */
export type VerifyFn = (data: Uint8Array, sig: Uint8Array) => boolean | Promise<boolean>;

/** Hybrid logical clock reading: wall-clock milliseconds plus a logical counter for ties. */
export interface Hlc {
  readonly wall: number;
  readonly logical: number;
}

/** A JSON value: what a field can hold. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export type FactType = 'create' | 'update' | 'delete';

interface FactBase {
  /** The author's PeerId. */
  readonly origin: PeerId;
  /** 1, 2, 3… per (space, origin), gapless. */
  readonly counter: number;
  readonly hlc: Hlc;
  readonly collection: string;
  readonly item: string;
  /** Hash of the same origin's previous fact in this space; null for counter 1. */
  readonly prev: Hash | null;
  /** SHA-256 over the canonical encoding of every field above plus the space id. */
  readonly hash: Hash;
}

/** A full object: the item exists, with exactly these fields. */
export interface CreateFact extends FactBase {
  readonly type: 'create';
  readonly data: JsonObject;
}

/** One field of an item set to a value: `data` has exactly one key. */
export interface UpdateFact extends FactBase {
  readonly type: 'update';
  readonly data: JsonObject;
}

/** A tombstone: the item stops being visible; nothing is removed. */
export interface DeleteFact extends FactBase {
  readonly type: 'delete';
}

export type Fact = CreateFact | UpdateFact | DeleteFact;

/** The field an update sets (its data has exactly one key), found without listing the keys. */
export function updatedField(fact: UpdateFact): string {
  for (const field in fact.data) return field;
  return ''; // unreachable for a valid update
}

/** A fact before it is hashed. */
export type UnhashedFact = Fact extends infer F ? (F extends Fact ? Omit<F, 'hash'> : never) : never;

/** `${origin}:${counter}`: the client-generated id of a fact. */
export const factId = (fact: Pick<Fact, 'origin' | 'counter'>): string => `${fact.origin}:${fact.counter}`;

/** Version vector: per origin, the highest counter held contiguously from 1 (or from a snapshot). */
export type Vector = Map<PeerId, number>;
