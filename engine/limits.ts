/**
 * Every limit and default of Shoal, each with its unit. Peers enforce the limits on input from
 * other peers and from callers before allocating anything in proportion to it.
 */

/** Largest frame a transport carries. Bigger batches are split. */
export const MAX_FRAME_BYTES = 1 << 20; // 1 MiB

/** Largest encoded `data` of one fact (a create's object or an update's value). */
export const MAX_VALUE_BYTES = 256 * 1024; // 256 KiB

/** Longest id: space ids, collection names, item ids and field names, in UTF-16 code units. */
export const MAX_ID_LENGTH = 256; // characters

/** Longest id in UTF-8, what decoders accept: 3 bytes for each UTF-16 code unit of `MAX_ID_LENGTH`. */
export const MAX_ID_BYTES = MAX_ID_LENGTH * 3; // 768 bytes

/** Deepest nesting of a JSON value (arrays and objects). */
export const MAX_JSON_DEPTH = 64; // levels

/**
 * Largest HLC logical counter a fact may carry: events within one millisecond of wall time. A local
 * clock that reaches it moves on to the next millisecond; a remote fact beyond it is malformed.
 */
export const MAX_HLC_LOGICAL = 2 ** 31 - 1; // events per millisecond

/** A fact whose wall time is further than this ahead of the receiver's clock is refused. */
export const MAX_DRIFT_MS = 60_000; // 60 s

/** Default number of other peers that must acknowledge a local fact before it stops being pending. */
export const DEFAULT_ACK_QUORUM = 1; // peers

/** Default number of log entries between two automatic snapshots. */
export const DEFAULT_SNAPSHOT_EVERY = 10_000; // entries

/** Default time a peer must have been silent before it stops holding back pruning. */
export const DEFAULT_PRUNE_WINDOW_MS = 7 * 24 * 60 * 60 * 1000; // 7 days

/** Invalid messages a peer may send before it is disconnected. */
export const MAX_INVALID_MESSAGES = 64; // messages

/**
 * How long a peer disconnected for its strikes stays cut off the first time; each later ban lasts
 * twice as long as the one before. Strikes and bans belong to the peer, across links and sessions.
 */
export const BAN_MS = 60_000; // 1 min

/** Bound on frames received from one peer and not yet processed. */
export const MAX_INBOUND_QUEUE_FRAMES = 256; // frames

/** Bound on bytes sent on one link and not yet acknowledged by the receiver (flow control). */
export const MAX_IN_FLIGHT_BYTES = 4 * MAX_FRAME_BYTES; // 4 MiB

/** Bound on facts of out-of-order runs a space holds while it waits for the gap to fill. */
export const MAX_STASHED_FACTS = 32_768; // facts

/** Entries read from an event log per page. */
export const LOG_PAGE_ENTRIES = 4096; // entries

/** Most facts in one run on the wire (a run is one origin's consecutive facts, ending signed). */
export const MAX_RUN_FACTS = 65_536; // facts

/**
 * Most origins in one vector on the wire (a page). Vectors of any size travel as several pages: a
 * hello and `have` messages, several acks, statements of the most recently moved origins.
 */
export const MAX_VECTOR_PAGE_ORIGINS = 32_768; // origins

/**
 * Most counters a peer keeps for origins a remote named that it does not know yet (per session, and
 * per gossiping peer).
 */
export const MAX_UNRESOLVED_ORIGINS = 65_536; // origins

/** Most signed statements in one gossip message. */
export const MAX_GOSSIP_STATEMENTS = 1024; // statements

/** Most own facts appended to the log in one durable batch (group commit). */
export const MAX_APPEND_BATCH = 8192; // facts

/** Most writes one `space.transact` may make: a transaction is one batch, and a batch has a bound. */
export const MAX_TRANSACTION_WRITES = MAX_APPEND_BATCH; // writes

/** Size of the slabs local writes' hashes are carved from (128 digests each). */
export const DIGEST_SLAB_BYTES = 4096; // bytes

/** Longest encoded PeerId (origin) accepted on the wire. */
export const MAX_ORIGIN_LENGTH = 128; // characters

/**
 * An author signs its facts at least every this many canonical bytes, so any stretch between two
 * signatures (plus one maximal fact) fits in one frame and can be forwarded unchanged.
 */
export const MAX_SEGMENT_BYTES = 512 * 1024; // 512 KiB

/** How often a session with unacknowledged frames checks for progress. */
export const SYNC_TICK_MS = 1_000; // 1 s

/** Unacknowledged frames are re-sent (from the receiver's last known vector) after this long. */
export const RETRANSMIT_AFTER_MS = 2_000; // 2 s

/** Least time between two gossip messages on one link. */
export const GOSSIP_INTERVAL_MS = 2_000; // 2 s

/** Most faults a space remembers (oldest dropped first). */
export const MAX_FAULTS = 256; // faults

/** Longest wait between two hellos to a remote that stopped answering (for as long as the link is up). */
export const MAX_RETRY_INTERVAL_MS = 5_000; // 5 s

/**
 * Longest wait between two tries when nothing is lost but something is still missing: hellos to a
 * remote that does not have the space open, snapshot offers to a remote that has not fetched one.
 */
export const MAX_IDLE_RETRY_INTERVAL_MS = 60_000; // 60 s

/** Longest hold on re-offering facts a remote refused because our clock is ahead of its clock. */
export const MAX_DRIFT_HOLD_MS = 5 * 60_000; // 5 min

/**
 * Facts learned from another peer are forwarded this long after they arrived, unless the remote
 * announced it has them by then: in a mesh most remotes got them from the author directly.
 */
export const FORWARD_DELAY_MS = 250; // 250 ms

/** A peer announces new facts it accepted (an `ack` to each remote) at most this often per remote. */
export const ANNOUNCE_DELAY_MS = 250; // 250 ms

/** Over a lazy link (one that carries announcements, not facts), announcements go at most this often. */
export const LAZY_ANNOUNCE_MS = 1_000; // 1 s

/**
 * A lazy link announced facts we lack: if our eager links have not brought them this long after, we
 * graft it (ask it to push), repairing the tree.
 */
export const GRAFT_AFTER_MS = 1_500; // 1.5 s

/**
 * Over a lazy link, facts the remote still lacks this long after they arrived (or were written) are
 * pushed anyway: liveness does not hang on a graft getting through.
 */
export const LAZY_PUSH_AFTER_MS = 6_000; // 6 s

/** Most origins whose signature verification keys a peer keeps ready. */
export const KEY_CACHE_ENTRIES = 4096; // origins

/** Most (origin, hash, signature) triples a peer remembers as verified. */
export const VERIFIED_CACHE_ENTRIES = 65_536; // signatures

/** Most facts of decoded runs a peer keeps (a decoded fact with its hash chain takes a few hundred bytes). */
export const DECODED_RUN_CACHE_FACTS = 65_536; // facts

/** Most bytes of encoded runs a peer keeps to send again (the same run goes to many remotes). */
export const ENCODED_RUN_CACHE_BYTES = 8 * 1024 * 1024; // 8 MiB

/** Bytes of randomness in a client-generated item id. */
export const ITEM_ID_BYTES = 12; // 96 bits

/** Superseded item records a snapshot may carry beyond twice the live items before it is compacted. */
export const COMPACT_SLACK_ITEMS = 1000; // items

/** Chunks asked for at once while fetching a snapshot. */
export const SNAPSHOT_FETCH_WINDOW = 8; // chunks

/** Requests for a missing blob before a snapshot fetch is given up (another offer restarts it). */
export const SNAPSHOT_FETCH_ATTEMPTS = 5; // requests

/** Random bytes the real Env fetches at once (item ids take 12: one call per ~340 ids, not one each). */
export const RANDOM_POOL_BYTES = 4096; // 4 KiB

/** Longest blob or directory name in a BlobStore (names are `[A-Za-z0-9._-]`, one byte each). */
export const MAX_BLOB_NAME_LENGTH = 100; // characters

/** Most names one page of a blob directory listing (`BlobDir.query`) returns, in every backend. */
export const BLOB_PAGE_NAMES = 1000; // names

/** How long a SQLite call waits for a lock held by another connection before failing as "locked". */
export const SQLITE_BUSY_TIMEOUT_MS = 1000; // 1 s

/**
 * Longest directory key `automergeBlobStore` spells out in hex before it hashes the path instead
 * (adapters such as NodeFS turn key parts into file names, at most 255 bytes).
 */
export const MAX_AUTOMERGE_DIR_KEY_CHARS = 200; // characters

/** Most peers whose signed statements a space keeps (gossip about peers beyond it is not taken). */
export const MAX_GOSSIP_PEERS = 10_000; // peers

/** New peers a link may introduce by gossip per minute. */
export const MAX_NEW_GOSSIP_PEERS_PER_MINUTE = 1_000; // peers

/**
 * Origins a link may introduce per minute: runs of origins we never held beyond it wait (a typed
 * `budget` refusal; the sender offers them again later). Admitting an origin costs a signature check
 * and a vector entry on every peer for ever.
 */
export const MAX_NEW_ORIGINS_PER_MINUTE = 10_000; // origins

/** Bytes of out-of-order runs one link may leave waiting for a gap to fill. */
export const MAX_STASH_BYTES_PER_LINK = 1024 * 1024; // 1 MiB

/** Out-of-order runs wait this long at most for their gap to fill. */
export const STASH_TTL_MS = 60_000; // 60 s

/** Most origins a snapshot covers. */
export const MAX_SNAPSHOT_ORIGINS = 1 << 20; // origins

/** Longest wait between two window resets (or hello answers) for a remote that makes no progress. */
export const MAX_RETRANSMIT_BACKOFF_MS = 60_000; // 60 s

/** Hashes of recent run ends a space keeps in memory (to recognise a re-signed fact below the tip). */
export const RUN_END_HASHES = 65_536; // hashes

/** Snapshot blob bytes one link may make us send per minute (what it asks beyond waits: `busy`). */
export const MAX_BLOB_BYTES_PER_MINUTE = 64 * 1024 * 1024; // 64 MiB

/** A blob asked for again is resent after this long at the earliest (doubling with each resend). */
export const BLOB_RESEND_AFTER_MS = 1_000; // 1 s

/** Snapshot offers from one link that wait while a fetch is in progress. */
export const MAX_PENDING_OFFERS_PER_LINK = 4; // offers

/** Most attestations an offer carries (enough for any sensible snapshotQuorum). */
export const MAX_OFFER_ATTESTATIONS = 16; // attestations

/** Default number of distinct peers that must attest a snapshot before anyone adopts or prunes behind it. */
export const DEFAULT_SNAPSHOT_QUORUM = 2; // peers

/** After this long without new facts, a peer snapshots what is new if its latest snapshot lacks attestations. */
export const IDLE_SNAPSHOT_MS = 5_000; // 5 s

// transports

/**
 * Longest a new link may take to prove itself before it is dropped: the signed challenge on an
 * automerge-repo adapter, the greeting on a libp2p `/shoal/sync` stream. Nothing reaches the
 * engine (no `peerUp`, no frame) before that.
 */
export const LINK_HANDSHAKE_TIMEOUT_MS = 10_000; // 10 s

/**
 * Link handshakes one transport runs at once, half for those it starts and half for those it
 * answers; candidates and hellos past it are ignored.
 */
export const MAX_PENDING_HANDSHAKES = 64; // handshakes

/** Link handshakes one transport starts or answers per second, split like `MAX_PENDING_HANDSHAKES` (each costs a key exchange and a signature). */
export const MAX_HANDSHAKES_PER_SECOND = 64; // handshakes per second

/** Authenticated links one transport keeps at once. */
export const MAX_LINKS_PER_TRANSPORT = 1024; // links

/** First wait before a link handshake that failed or timed out is tried again (then doubling). */
export const HANDSHAKE_RETRY_MIN_MS = 1_000; // 1 s

/** Longest wait between two tries of a link handshake that keeps failing. */
export const HANDSHAKE_RETRY_MAX_MS = 60_000; // 60 s

/** `/shoal/sync` streams open at once on one libp2p connection, per direction. */
export const MAX_OPEN_STREAMS_PER_CONNECTION = 4; // streams

/** Inbound `/shoal/sync` streams one libp2p connection may open in its life; past it, it is closed. */
export const MAX_STREAMS_PER_CONNECTION = 16; // streams

/**
 * A frame whose length prefix arrived must be complete within this long, plus its length at
 * `MIN_FRAME_READ_BYTES_PER_SECOND`; a link stalled mid-frame is closed.
 */
export const FRAME_READ_TIMEOUT_MS = 10_000; // 10 s

/** Slowest a frame in progress may arrive (see `FRAME_READ_TIMEOUT_MS`): 1 MiB gets 16 s more. */
export const MIN_FRAME_READ_BYTES_PER_SECOND = 64 * 1024; // 64 KiB/s

/** Most history chains (of peers whose snapshots we adopted) a space remembers and passes on. */
export const MAX_HISTORY_HEADS = 16; // chains

/**
 * Rounds of asking the syncing peers for a missing history blob: a peer that stays silent is asked
 * again next round, waiting twice as long each time up to `MAX_HISTORY_FETCH_WAIT_MS` (2, 4, 8, 16,
 * 16, 16 s); one that says `gone` is not. Six rounds: with the only holder of a large blob on a lossy
 * link (10 % frames lost), three rounds lost every copy in a campaign seed (56).
 */
export const HISTORY_FETCH_ROUNDS = 6;

/** Longest wait of one history fetch round. */
export const MAX_HISTORY_FETCH_WAIT_MS = 16_000; // 16 s

/**
 * A peer copies the history chains of the snapshots it adopted in the background; what no linked
 * peer could give (one stayed silent) is tried again after this, doubling up to the maximum, and
 * this long after a peer comes up. What every syncing peer said it does not hold waits for a peer
 * to come up (history.ts).
 */
export const HISTORY_COPY_RETRY_MS = 10_000; // 10 s
export const MAX_HISTORY_COPY_RETRY_MS = 10 * 60_000; // 10 min

/**
 * Automatic snapshots wait for `snapshotEvery` entries, or for (items in the state) / this factor
 * if more: a snapshot is built from the whole state, so this bounds its cost to this many item
 * encodings per entry written, however large the space grows (the log stays within
 * ~2 × max(snapshotEvery, items / factor) once pruned).
 */
export const SNAPSHOT_STATE_FACTOR = 8;

/**
 * While a peer catches up (a remote it syncs with holds facts it lacks), an automatic snapshot that
 * falls due waits for the catch-up to end: the facts still coming would make it stale at once, and
 * building one costs O(items). It waits for at most this many times the usual interval of entries…
 */
export const SNAPSHOT_CATCH_UP_FACTOR = 8;

/** …and at most this long (what a remote holds is its claim: a liar cannot hold snapshots back). */
export const MAX_SNAPSHOT_DEFER_MS = 30_000; // 30 s

/**
 * Announcements over a broadcasting transport (gossipsub): a space publishes the counters that
 * moved at most this often, …
 */
export const ANNOUNCE_INTERVAL_MS = 250; // 250 ms

/** … naming at most this many origins each (its own first; the rest go in the next one). */
export const MAX_ANNOUNCE_ORIGINS = 256; // origins

/** Largest announcement a peer publishes or reads (256 origins take ~3 KiB). */
export const MAX_ANNOUNCEMENT_BYTES = 16 * 1024; // 16 KiB

/**
 * A peer that hears of facts it lacks waits this long before pulling them from the announcer: its
 * links usually bring them first (live push), and then there is nothing to pull.
 */
export const PULL_DELAY_MS = 2_000; // 2 s

/**
 * An announcer we have no link to is dialled only after this long without the facts arriving: a
 * new link is the last resort (a chain of forwards on a large mesh takes a few seconds, and a
 * linked announcer that holds them is asked first, at every `PULL_DELAY_MS`).
 */
export const PULL_DIAL_DELAY_MS = 8_000; // 8 s

/**
 * A link opened only to pull from an announcer is closed once it brought what was announced, or
 * after this long without bringing any of it (the next announcement pulls again if still needed).
 */
export const PULL_LINK_IDLE_MS = 30_000; // 30 s

/** Announcers a space keeps waiting to pull from; announcements past it are dropped (hints only). */
export const MAX_PENDING_PULLS = 64; // peers
