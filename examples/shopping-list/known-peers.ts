/**
 * Peers this CLI has linked with, remembered in the peer's own storage so that a restart dials them
 * again without `--peer` (mDNS finds peers on a LAN by itself; elsewhere nothing else would).
 */
import type { Storage } from '../../engine/index.js';
import type { DialTarget } from '../../transports/libp2p/index.js';

/** Storage metadata key of the remembered peers (the engine's own keys never start with `shop/`). */
const KNOWN_PEERS_KEY = 'shop/known-peers';

/** A remembered address not linked for this long is forgotten, in milliseconds. */
const FORGET_AFTER_MS = 30 * 24 * 3600_000; // 30 days

/** Addresses remembered at most (the most recently linked are kept). */
const MAX_KNOWN_PEERS = 32; // addresses

/** How often a remembered address's "last linked" time is refreshed while linked, in milliseconds. */
const REFRESH_MS = 3600_000; // 1 hour

export interface KnownPeer {
  /** A multiaddr that reached the peer, ending in `/p2p/<id>`. */
  readonly address: string;
  readonly peer: string;
  /** When it was last linked (ms since the epoch). */
  readonly lastLinked: number;
}

export class KnownPeers {
  readonly #storage: Storage;
  #peers: KnownPeer[] = [];
  /** Writes go out one at a time, in order. */
  #saving: Promise<void> = Promise.resolve();
  /** The last write failed: write again at the next note, changed or not. */
  #unsaved = false;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  /** Read what was remembered (forgetting what is too old). A damaged record reads as empty. */
  async load(now: number): Promise<KnownPeer[]> {
    const stored = await this.#storage.getMeta(KNOWN_PEERS_KEY);
    if (stored.isErr() || stored.value === undefined) return [];
    try {
      const parsed = JSON.parse(new TextDecoder().decode(stored.value)) as { peers?: unknown };
      const list = Array.isArray(parsed.peers) ? (parsed.peers as KnownPeer[]) : [];
      this.#peers = list.filter(
        (p) =>
          typeof p.address === 'string' &&
          typeof p.peer === 'string' &&
          typeof p.lastLinked === 'number' &&
          now - p.lastLinked < FORGET_AFTER_MS,
      );
    } catch {
      this.#peers = [];
    }
    return [...this.#peers];
  }

  /**
   * Remember the addresses of the targets that are linked now (mDNS finds its own again). Resolves
   * once written, or at once when nothing changed.
   */
  note(targets: readonly DialTarget[], now: number): Promise<void> {
    let changed = false;
    for (const target of targets) {
      if (target.state !== 'linked' || target.peer === undefined || target.source === 'mdns') continue;
      const address = target.address;
      const known = this.#peers.find((p) => p.address === address);
      if (known !== undefined && now - known.lastLinked < REFRESH_MS) continue;
      this.#peers = [{ address, peer: target.peer, lastLinked: now }, ...this.#peers.filter((p) => p !== known)];
      changed = true;
    }
    if (!changed && !this.#unsaved) return this.#saving;
    this.#peers = this.#peers.slice(0, MAX_KNOWN_PEERS);
    const bytes = new TextEncoder().encode(JSON.stringify({ peers: this.#peers }));
    this.#unsaved = false;
    this.#saving = this.#saving.then(async () => {
      const written = await this.#storage.setMeta(KNOWN_PEERS_KEY, bytes);
      // A failed write (a full disk…) is tried again at the next note; nothing else depends on it.
      if (written.isErr()) this.#unsaved = true;
    });
    return this.#saving;
  }
}
