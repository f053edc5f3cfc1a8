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

/** Most distinct origins in one version vector. */
export const MAX_VECTOR_ORIGINS = 65_536; // origins

/** Most own facts appended to the log in one durable batch (group commit). */
export const MAX_APPEND_BATCH = 8192; // facts

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
export const ANNOUNCE_DELAY_MS = 100; // 100 ms

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
