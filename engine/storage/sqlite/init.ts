/**
 * The options of `sqliteStorage`, apart from the driver code so that the declarations of the
 * `shoal/storage/sqlite` entry need no better-sqlite3 types.
 */

/** Options of `sqliteStorage`; the defaults are what a peer should use. */
export interface SqliteStorageInit {
  /** Most entries one log `query` returns. @default LOG_PAGE_ENTRIES */
  pageSize?: number;
  /** Wait for another connection's lock this long before failing. @default SQLITE_BUSY_TIMEOUT_MS */
  busyTimeoutMs?: number;
  /**
   * Cap on the file size in bytes (rounded down to whole pages); writes past it fail as "full",
   * like a full disk. @default no cap
   */
  maxSizeBytes?: number;
  /**
   * `'full'` fsyncs the WAL on every commit (a resolved write survives power loss); `'normal'` only
   * at checkpoints (survives a process crash, may lose the last commits on power loss).
   * @default 'full'
   */
  synchronous?: 'full' | 'normal';
}
