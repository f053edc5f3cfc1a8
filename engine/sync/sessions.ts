/**
 * The sessions of one space: one per remote peer linked to this one. Routes each decoded message to
 * its remote's session (a `hello` from a remote without one starts it) and tells every session when
 * the space accepted new facts.
 */
import type { PeerId } from '../facts/types.js';
import type { Message } from './messages.js';
import { Session, type SessionDeps } from './session.js';

export class Sessions {
  readonly #deps: SessionDeps;
  readonly #sessions = new Map<PeerId, Session>();
  #closed = false;

  constructor(deps: SessionDeps) {
    this.#deps = deps;
  }

  /** Remotes whose session is in sync with us (they answered a hello). */
  syncing(): PeerId[] {
    const out: PeerId[] = [];
    for (const session of this.#sessions.values()) if (session.syncing) out.push(session.peer);
    return out;
  }

  /** Whether some remote we sync with holds facts we lack (see Session.ahead): we are catching up. */
  behind(): boolean {
    for (const session of this.#sessions.values()) if (session.ahead) return true;
    return false;
  }

  /** Remotes linked to us now (a session each, whether or not they answered). */
  linked(): PeerId[] {
    return [...this.#sessions.keys()];
  }

  /** Whether `peer` told us it does not have this space open (see Session.notOpen). */
  notOpen(peer: PeerId): boolean {
    return this.#sessions.get(peer)?.notOpen ?? false;
  }

  /** Whether the session with `peer` is in sync with `ours` (see Session.inSync); false when unlinked. */
  inSync(peer: PeerId, ours: ReadonlyMap<PeerId, number>): boolean {
    return this.#sessions.get(peer)?.inSync(ours) ?? false;
  }

  /** A link to `peer` came up: start a session, or ask again at once on the one that runs. */
  up(peer: PeerId): void {
    if (this.#closed) return;
    const running = this.#sessions.get(peer);
    if (running !== undefined) {
      running.rehello();
      return;
    }
    const session = new Session(peer, this.#deps);
    this.#sessions.set(peer, session);
    session.start();
  }

  /** Tell `peer` what we hold of `origins` (see Session.tell). */
  tell(peer: PeerId, origins: Iterable<PeerId>): void {
    this.#sessions.get(peer)?.tell(origins);
  }

  /** Ask `peer` what it holds now (see Session.rehello). */
  rehello(peer: PeerId): void {
    this.#sessions.get(peer)?.rehello();
  }

  /** The link to `peer` is gone. */
  down(peer: PeerId): void {
    this.#sessions.get(peer)?.close();
    this.#sessions.delete(peer);
  }

  /** A decoded message for this space from `peer`. */
  async receive(peer: PeerId, message: Message): Promise<void> {
    if (this.#closed) return;
    let session = this.#sessions.get(peer);
    if (session === undefined && message.type === 'hello') {
      // The remote opened this space after we did (or our hello was lost): start the session.
      this.up(peer);
      session = this.#sessions.get(peer);
    }
    await session?.receive(message);
  }

  /** The space accepted new facts of `origins`: every session announces them and pushes what it can. */
  advanced(origins: Iterable<PeerId>): void {
    const own = this.#deps.replica.origin;
    const list = [...origins];
    for (const session of this.#sessions.values()) session.advanced(list, own);
  }

  close(): void {
    this.#closed = true;
    for (const session of this.#sessions.values()) session.close();
    this.#sessions.clear();
  }
}
