/**
 * What the Node-only backends (SQLite, fs blobs) share: reaching Node built-ins without a static
 * import, so a browser bundle of the package root never pulls them in, and reading the code of what
 * a Node API threw.
 */

/** The Node built-in module `id` (`'node:fs/promises'`…), or undefined outside Node. */
export function nodeBuiltin<T>(id: string): T | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return proc?.getBuiltinModule?.(id) as T | undefined;
}

/** The `code` of a thrown error (`ENOSPC`, `SQLITE_FULL`…), or '' when it has none. */
export function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}
