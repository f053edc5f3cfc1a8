/**
 * `createPeer`: a peer with its identity, storage, transports and open spaces.
 *
 * The peer owns the links: it routes each decoded frame to the space it names, processes one
 * peer's frames in order (a bounded queue per remote), strikes remotes that send garbage and
 * disconnects them past `MAX_INVALID_MESSAGES`.
 */
import type { PrivateKey } from '@libp2p/interface';
import { err, errAsync, ok, okAsync, ResultAsync, type Result } from 'neverthrow';
import { realEnv, TimerScope, type Env } from '../env.js';
import { closedError, describe, invalidInput, type OpenError } from '../errors.js';
import { equalBytes } from '../facts/bytes.js';
import { checkId } from '../facts/codec.js';
import {
  createSigner,
  decodeIdentity,
  encodeIdentity,
  identityFromSeed,
  SignatureVerifier,
  type Signer,
} from '../facts/sign.js';
import type { PeerId } from '../facts/types.js';
import {
  DEFAULT_ACK_QUORUM,
  DEFAULT_PRUNE_WINDOW_MS,
  DEFAULT_SNAPSHOT_EVERY,
  MAX_DRIFT_MS,
  MAX_INBOUND_QUEUE_FRAMES,
  MAX_INVALID_MESSAGES,
} from '../limits.js';
import type { Storage } from '../storage/storage.js';
import type { BlobStore } from '../blobs/blob-store.js';
import { inProcessWorkers, type Workers } from '../snapshot/workers.js';
import { decodeFrame, encodeMessage } from '../sync/codec.js';
import type { Transport, TransportHandler } from '../transport.js';
import { SpaceImpl, type SpaceOptions } from './space.js';
import type { Peer, PeerInit, Space } from './types.js';

const IDENTITY_KEY = 'identity';

/**
 * Create a peer on `storage`, start its transports, and resolve once it can open spaces.
 *
 * @example
 * ```ts
 * const peer = (await createPeer({ storage: sqliteStorage('./alice.db'), transports: [libp2pTransport()] }))._unsafeUnwrap();
 * const list = (await peer.space('groceries'))._unsafeUnwrap().collection<{ title: string; done: boolean }>('items');
 * await list.create({ title: 'milk', done: false });
 * ```
 */
export function createPeer(init: PeerInit): ResultAsync<Peer, OpenError> {
  const options = checkOptions(init);
  if (options.isErr()) return errAsync(options.error);
  const env = init.env ?? realEnv();
  return loadIdentity(init.storage, init.identity, env)
    .andThen((key) => createSigner(key).map((signer) => ({ key, signer })))
    .andThen(({ key, signer }) => {
      const peer = new PeerImpl(
        init.storage,
        env,
        key,
        signer,
        options.value,
        init.transports ?? [],
        init.workers ?? inProcessWorkers(env),
        init.archive ?? init.storage.blobs,
      );
      return peer.start().map(() => peer as Peer);
    });
}

function checkOptions(init: PeerInit): Result<SpaceOptions, OpenError> {
  const options: SpaceOptions = {
    ackQuorum: init.ackQuorum ?? DEFAULT_ACK_QUORUM,
    maxDrift: init.maxDrift ?? MAX_DRIFT_MS,
    snapshotEvery: init.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY,
    pruneWindow: init.pruneWindow ?? DEFAULT_PRUNE_WINDOW_MS,
  };
  if (typeof init.storage !== 'object' || init.storage === null) return err(invalidInput('storage is required'));
  if (!Number.isSafeInteger(options.ackQuorum) || options.ackQuorum < 1)
    return err(invalidInput('ackQuorum must be an integer ≥ 1'));
  if (!(options.maxDrift >= 0)) return err(invalidInput('maxDrift must be ≥ 0 ms'));
  if (!Number.isSafeInteger(options.snapshotEvery) || options.snapshotEvery < 1) {
    return err(invalidInput('snapshotEvery must be an integer ≥ 1'));
  }
  if (!(options.pruneWindow >= 0)) return err(invalidInput('pruneWindow must be ≥ 0 ms'));
  return ok(options);
}

/** The identity in storage, or the given one (stored), or a new one (stored). */
function loadIdentity(storage: Storage, given: PrivateKey | undefined, env: Env): ResultAsync<PrivateKey, OpenError> {
  return storage.getMeta(IDENTITY_KEY).andThen((stored): ResultAsync<PrivateKey, OpenError> => {
    if (stored !== undefined) {
      const key = decodeIdentity(stored);
      if (key.isErr()) return errAsync(key.error);
      if (given !== undefined && !equalBytes(encodeIdentity(given), stored)) {
        return errAsync(invalidInput('this storage belongs to another identity'));
      }
      return okAsync(key.value);
    }
    const key: ResultAsync<PrivateKey, OpenError> =
      given !== undefined ? okAsync(given) : identityFromSeed(env.randomBytes(32));
    return key.andThen((k) => storage.setMeta(IDENTITY_KEY, encodeIdentity(k)).map(() => k));
  });
}

class PeerImpl implements Peer {
  readonly id: PeerId;
  readonly #storage: Storage;
  readonly #env: Env;
  readonly #key: PrivateKey;
  readonly #signer: Signer;
  readonly #verifier = new SignatureVerifier();
  readonly #options: SpaceOptions;
  readonly #transports: Transport[];
  readonly #timers: TimerScope;
  readonly #spaces = new Map<string, ResultAsync<SpaceImpl, OpenError>>();
  readonly #open = new Map<string, SpaceImpl>();
  /** Which transport reaches each connected peer. */
  readonly #links = new Map<PeerId, Transport>();
  readonly #inbound = new Map<PeerId, { frames: Uint8Array[]; running: boolean }>();
  readonly #strikes = new Map<PeerId, number>();
  #closed = false;

  readonly #workers: Workers;
  readonly #archive: BlobStore;

  constructor(
    storage: Storage,
    env: Env,
    key: PrivateKey,
    signer: Signer,
    options: SpaceOptions,
    transports: Transport[],
    workers: Workers,
    archive: BlobStore,
  ) {
    this.#workers = workers;
    this.#archive = archive;
    this.#storage = storage;
    this.#env = env;
    this.#key = key;
    this.#signer = signer;
    this.id = signer.origin;
    this.#options = options;
    this.#transports = transports;
    this.#timers = new TimerScope(env);
  }

  start(): ResultAsync<void, OpenError> {
    const context = { peerId: this.id, privateKey: this.#key, env: this.#env };
    return ResultAsync.combine(this.#transports.map((t) => t.start(context, this.#handler(t)))).map(() => undefined);
  }

  addresses(): string[] {
    return this.#transports.flatMap((t) => t.addresses());
  }

  space(id: string): ResultAsync<Space, OpenError> {
    if (this.#closed) return errAsync(closedError('the peer is closed'));
    const bad = checkId(id, 'space id');
    if (bad !== undefined) return errAsync(invalidInput(bad.message));
    let opening = this.#spaces.get(id);
    if (opening === undefined) {
      opening = SpaceImpl.open({
        id,
        origin: this.id,
        signer: this.#signer,
        verifier: this.#verifier,
        env: this.#env,
        timers: this.#timers,
        storage: this.#storage,
        options: this.#options,
        workers: this.#workers,
        archive: this.#archive,
        link: { send: (peer, frame) => this.#send(peer, frame), disconnect: (peer) => this.#disconnect(peer) },
      }).map((space) => {
        this.#open.set(id, space);
        for (const peer of this.#links.keys()) space.peerUp(peer);
        return space;
      });
      // A failed open may be retried.
      opening = opening.mapErr((e) => {
        this.#spaces.delete(id);
        return e;
      });
      this.#spaces.set(id, opening);
    }
    return opening.map((space) => space as Space);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const space of this.#open.values()) await space.close();
    this.#timers.close();
    await this.#workers.close();
    await Promise.all(this.#transports.map((t) => t.stop()));
    await this.#storage.close().match(
      () => undefined,
      () => undefined,
    );
  }

  /** The process died (simulator): stop everything at once, write nothing more. */
  #halt(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const space of this.#open.values()) space.halt();
    this.#timers.close();
    this.#links.clear();
    this.#inbound.clear();
  }

  #handler(transport: Transport): TransportHandler {
    return {
      peerUp: (peer) => {
        if (this.#closed || peer === this.id) return;
        this.#links.set(peer, transport);
        for (const space of this.#open.values()) space.peerUp(peer);
      },
      peerDown: (peer) => {
        if (this.#links.get(peer) !== transport) return;
        this.#links.delete(peer);
        this.#inbound.delete(peer);
        for (const space of this.#open.values()) space.peerDown(peer);
      },
      message: (from, frame) => this.#enqueue(from, frame),
      halt: () => this.#halt(),
    };
  }

  #enqueue(from: PeerId, frame: Uint8Array): void {
    if (this.#closed || !this.#links.has(from)) return;
    let inbox = this.#inbound.get(from);
    if (inbox === undefined) {
      inbox = { frames: [], running: false };
      this.#inbound.set(from, inbox);
    }
    // Past the bound the frame is dropped; the sender's retransmission brings it back later.
    if (inbox.frames.length >= MAX_INBOUND_QUEUE_FRAMES) return;
    inbox.frames.push(frame);
    if (!inbox.running) {
      inbox.running = true;
      void this.#drain(from, inbox);
    }
  }

  async #drain(from: PeerId, inbox: { frames: Uint8Array[]; running: boolean }): Promise<void> {
    while (inbox.frames.length > 0 && !this.#closed) {
      const frame = inbox.frames.shift()!;
      const message = decodeFrame(frame);
      if (message.isErr()) {
        this.#strike(from, `${message.error.type}: ${message.error.message}`);
        continue;
      }
      const space = this.#open.get(message.value.space);
      if (space !== undefined) await space.receive(from, message.value);
    }
    inbox.running = false;
  }

  #strike(peer: PeerId, message: string): void {
    const strikes = (this.#strikes.get(peer) ?? 0) + 1;
    this.#strikes.set(peer, strikes);
    this.#send(peer, encodeMessage({ type: 'error', space: '', code: 'malformed', message }));
    if (strikes > MAX_INVALID_MESSAGES) this.#disconnect(peer);
  }

  #send(peer: PeerId, frame: Uint8Array): void {
    const transport = this.#links.get(peer);
    if (transport === undefined || this.#closed) return;
    // A frame that cannot be sent is lost like any other: the session re-sends what is not acknowledged.
    void transport.send(peer, frame).mapErr((e) => describe(e));
  }

  #disconnect(peer: PeerId): void {
    this.#links.get(peer)?.disconnect(peer);
  }
}
