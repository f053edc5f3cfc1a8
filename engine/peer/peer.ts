/**
 * `createPeer`: a peer with its identity, storage, transports and open spaces.
 *
 * The peer owns the links: it routes each decoded frame to the space it names, processes one
 * peer's frames in order (a bounded queue per remote), strikes remotes that send garbage and
 * disconnects them past `MAX_INVALID_MESSAGES`.
 */
import { err, errAsync, ok, okAsync, ResultAsync, type Result } from 'neverthrow';
import { monotonicClock, realEnv, TimerScope, type Env } from '../env.js';
import { closedError, invalidInput, type OpenError } from '../errors.js';
import { equalBytes } from '../facts/bytes.js';
import { checkId } from '../facts/codec.js';
import {
  checkIdentity,
  createSigner,
  decodeIdentity,
  encodeIdentity,
  identityFromSeed,
  SignatureVerifier,
  type Ed25519Key,
  type IdentityKey,
  type Signer,
} from '../facts/sign.js';
import type { PeerId } from '../facts/types.js';
import { encodeMessage } from '../sync/codec.js';
import {
  DEFAULT_ACK_QUORUM,
  DEFAULT_PRUNE_WINDOW_MS,
  DEFAULT_SNAPSHOT_EVERY,
  DEFAULT_SNAPSHOT_QUORUM,
  MAX_DRIFT_MS,
} from '../limits.js';
import type { Storage } from '../storage/storage.js';
import type { BlobStore } from '../blobs/blob-store.js';
import { inProcessWorkers, type Workers } from '../snapshot/workers.js';
import type { Transport, TransportHandler } from '../transport.js';
import { openSpace } from '../space/open.js';
import type { SpaceImpl, SpaceOptions } from '../space/space.js';
import { Announcements } from './announcements.js';
import { PeerCache } from './cache.js';
import { Links } from './links.js';
import type { Peer, PeerInit, Space } from './types.js';

const IDENTITY_KEY = 'identity';

/**
 * Create a peer on `storage`, start its transports, and resolve once it can open spaces.
 *
 * Either the peer works or nothing is left behind: when the identity cannot be loaded or a
 * transport cannot start (a listen address in use…), the transports that did start are stopped and
 * the storage is closed before the error resolves, so the same database can be opened again at once
 * (with a new storage object, e.g. `sqliteStorage(path)`) and nothing keeps the process alive.
 * Options that are invalid fail before anything is opened.
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
    .orElse((e) => releaseThenFail<{ key: Ed25519Key; signer: Signer }>(init.storage, e))
    .andThen(({ key, signer }) => {
      const peer = new PeerImpl({
        storage: init.storage,
        env,
        key,
        signer,
        cache: init.cache ?? new PeerCache(),
        options: options.value,
        transports: init.transports ?? [],
        workers: init.workers ?? inProcessWorkers(env),
        archive: init.archive ?? init.storage.blobs,
      });
      const signal = init.signal;
      if (signal !== undefined) {
        if (signal.aborted) peer.halt();
        else signal.addEventListener('abort', () => peer.halt(), { once: true });
      }
      return peer.start().map(() => peer as Peer);
    });
}

/** Close `storage` (whatever that says: the first error is the one that matters), then fail with `error`. */
function releaseThenFail<T>(storage: Storage, error: OpenError): ResultAsync<T, OpenError> {
  return ResultAsync.fromSafePromise(
    storage.close().match(
      () => undefined,
      () => undefined,
    ),
  ).andThen(() => errAsync(error));
}

function checkOptions(init: PeerInit): Result<SpaceOptions, OpenError> {
  const options: SpaceOptions = {
    ackQuorum: init.ackQuorum ?? DEFAULT_ACK_QUORUM,
    snapshotQuorum: init.snapshotQuorum ?? DEFAULT_SNAPSHOT_QUORUM,
    maxDrift: init.maxDrift ?? MAX_DRIFT_MS,
    snapshotEvery: init.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY,
    pruneWindow: init.pruneWindow ?? DEFAULT_PRUNE_WINDOW_MS,
  };
  if (typeof init.storage !== 'object' || init.storage === null) return err(invalidInput('storage is required'));
  if (!Number.isSafeInteger(options.ackQuorum) || options.ackQuorum < 1)
    return err(invalidInput('ackQuorum must be an integer ≥ 1'));
  if (!Number.isSafeInteger(options.snapshotQuorum) || options.snapshotQuorum < 1)
    return err(invalidInput('snapshotQuorum must be an integer ≥ 1'));
  if (!(options.maxDrift >= 0)) return err(invalidInput('maxDrift must be ≥ 0 ms'));
  if (!Number.isSafeInteger(options.snapshotEvery) || options.snapshotEvery < 1) {
    return err(invalidInput('snapshotEvery must be an integer ≥ 1'));
  }
  if (!(options.pruneWindow >= 0)) return err(invalidInput('pruneWindow must be ≥ 0 ms'));
  return ok(options);
}

/** The identity in storage, or the given one (stored), or a new one (stored). Ed25519 only. */
function loadIdentity(storage: Storage, given: IdentityKey | undefined, env: Env): ResultAsync<Ed25519Key, OpenError> {
  const mine = given === undefined ? ok(undefined) : checkIdentity(given);
  if (mine.isErr()) return errAsync(mine.error);
  return storage.getMeta(IDENTITY_KEY).andThen((stored): ResultAsync<Ed25519Key, OpenError> => {
    if (stored !== undefined) {
      const key = decodeIdentity(stored);
      if (key.isErr()) return errAsync(key.error);
      if (mine.value !== undefined && !equalBytes(encodeIdentity(mine.value), stored)) {
        return errAsync(invalidInput('this storage belongs to another identity'));
      }
      return okAsync(key.value);
    }
    const key: ResultAsync<Ed25519Key, OpenError> =
      mine.value !== undefined ? okAsync(mine.value) : identityFromSeed(env.randomBytes(32));
    return key.andThen((k) => storage.setMeta(IDENTITY_KEY, encodeIdentity(k)).map(() => k));
  });
}

class PeerImpl implements Peer {
  readonly id: PeerId;
  readonly #storage: Storage;
  readonly #env: Env;
  readonly #key: Ed25519Key;
  readonly #signer: Signer;
  readonly #cache: PeerCache;
  readonly #verifier: SignatureVerifier;
  readonly #options: SpaceOptions;
  readonly #transports: Transport[];
  readonly #timers: TimerScope;
  readonly #workers: Workers;
  readonly #archive: BlobStore;
  readonly #spaces = new Map<string, ResultAsync<SpaceImpl, OpenError>>();
  readonly #open = new Map<string, SpaceImpl>();
  readonly #links: Links;
  readonly #announcements: Announcements;
  #closed = false;

  constructor(init: PeerParts) {
    this.#storage = init.storage;
    this.#env = init.env;
    this.#key = init.key;
    this.#signer = init.signer;
    this.id = init.signer.origin;
    this.#cache = init.cache;
    this.#verifier = new SignatureVerifier(init.cache.signatures);
    this.#options = init.options;
    this.#transports = init.transports;
    this.#workers = init.workers;
    this.#archive = init.archive;
    this.#timers = new TimerScope(init.env);
    this.#links = new Links({
      codec: init.cache.runs,
      now: monotonicClock(init.env),
      deliver: (from, message) => {
        const space = this.#open.get(message.space);
        if (space !== undefined) return space.receive(from, message);
        // A hello for a space we do not have open: say so, so the remote asks rarely (we say hello
        // ourselves when we open it).
        if (message.type === 'hello') {
          const error = { type: 'error', space: message.space, code: 'not-open', message: 'space not open' } as const;
          this.#links.send(from, encodeMessage(error));
        }
        return Promise.resolve();
      },
      closed: () => this.#closed,
    });
    this.#announcements = new Announcements({
      announcers: init.transports.flatMap((t) => (t.announcer === undefined ? [] : [t.announcer])),
      timers: this.#timers,
      space: (id) => this.#open.get(id),
      linked: (peer) => this.#links.has(peer),
    });
  }

  /**
   * Start every transport. When one cannot start, the peer closes (stopping the transports that
   * did start, closing the storage) before failing with the first error.
   */
  start(): ResultAsync<void, OpenError> {
    const context = { peerId: this.id, privateKey: this.#key, env: this.#env };
    const started = Promise.all(this.#transports.map((t) => t.start(context, this.#handler(t))));
    return ResultAsync.fromSafePromise(started).andThen((results) => {
      const failed = results.find((r) => r.isErr());
      if (failed === undefined) return okAsync(undefined);
      return ResultAsync.fromSafePromise(this.close()).andThen(() => errAsync(failed.error));
    });
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
      opening = openSpace({
        id,
        origin: this.id,
        signer: this.#signer,
        verifier: this.#verifier,
        caches: this.#cache,
        env: this.#env,
        timers: this.#timers,
        storage: this.#storage,
        options: this.#options,
        workers: this.#workers,
        archive: this.#archive,
        link: {
          send: (peer, frame) => this.#links.send(peer, frame),
          complain: (peer, code, message) => this.#links.strike(peer, id, code, message),
        },
        advanced: (origins) => this.#announcements.advanced(id, origins),
      }).map((space) => {
        this.#open.set(id, space);
        this.#announcements.open(id);
        for (const peer of this.#links.peers()) space.peerUp(peer);
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
    for (const id of this.#open.keys()) this.#announcements.close(id);
    for (const space of this.#open.values()) await space.close();
    this.#timers.close();
    await this.#workers.close();
    await Promise.all(this.#transports.map((t) => t.stop()));
    await this.#storage.close().match(
      () => undefined,
      () => undefined,
    );
  }

  /** The process died (`signal` aborted): stop everything at once, write nothing more. */
  halt(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const space of this.#open.values()) space.halt();
    this.#timers.close();
    this.#links.clear();
  }

  #handler(transport: Transport): TransportHandler {
    return {
      peerUp: (peer) => {
        if (this.#closed || peer === this.id) return;
        if (!this.#links.up(peer, transport)) return;
        for (const space of this.#open.values()) space.peerUp(peer);
      },
      peerDown: (peer) => {
        if (!this.#links.down(peer, transport)) return;
        for (const space of this.#open.values()) space.peerDown(peer);
      },
      message: (from, frame) => this.#links.enqueue(from, frame),
      // A bad announcement is refused by `received` and changes nothing; it is not a link's strike
      // (the link that relayed it did not write it): the transport does not relay it, and gossipsub
      // lowers the score of the peer that sent it.
      announcement: (from, space, frame) => {
        if (this.#closed || from === this.id) return true;
        return this.#announcements.received(from, space, frame).isOk();
      },
    };
  }
}

interface PeerParts {
  readonly storage: Storage;
  readonly env: Env;
  readonly key: Ed25519Key;
  readonly signer: Signer;
  readonly cache: PeerCache;
  readonly options: SpaceOptions;
  readonly transports: Transport[];
  readonly workers: Workers;
  readonly archive: BlobStore;
}
