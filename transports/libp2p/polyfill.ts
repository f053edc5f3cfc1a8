/**
 * Polyfills libp2p 3.x needs on Node 20, each installed only when the runtime lacks it.
 *
 * - `Promise.withResolvers` (ES2024, Node ≥ 22): libp2p's upgrader calls it on every inbound
 *   connection; without it the noise handshake fails with
 *   `EncryptionFailedError: Promise.withResolvers is not a function` and the dialler sees
 *   `ECONNRESET`. It is installed when this module is evaluated, which the transport's entry
 *   (`index.ts`) makes the first thing it does, and again (idempotently) when a transport is built,
 *   so a bundler that drops side-effect-only imports cannot lose it.
 * - `globalThis.WebSocket` (Node ≥ 22): `@libp2p/websockets` dials with the global WebSocket and
 *   listens with `ws`. On Node 20 the dial side borrows `ws`'s client, loaded lazily so that browser
 *   bundles (which have a native WebSocket) never pull `ws` in.
 */

interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

/** Install `Promise.withResolvers` if it is missing. Idempotent; never replaces a native one. */
export function installPromiseWithResolvers(): void {
  const ctor = Promise as unknown as { withResolvers?: unknown };
  if (typeof ctor.withResolvers === 'function') return;
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    enumerable: false,
    // A function expression, not an arrow: subclasses call it with `this` bound to their constructor.
    value: function withResolvers<T>(this: PromiseConstructor): Resolvers<T> {
      let resolve!: Resolvers<T>['resolve'];
      let reject!: Resolvers<T>['reject'];
      const promise = new this<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

/**
 * Make sure `globalThis.WebSocket` exists, borrowing `ws`'s client on Node 20. Resolves `false` when
 * there is no WebSocket to be had (dialling `/ws` addresses will then fail; listening still works).
 */
export async function ensureGlobalWebSocket(): Promise<boolean> {
  const g = globalThis as { WebSocket?: unknown };
  if (typeof g.WebSocket === 'function') return true;
  try {
    const ws = await import('ws');
    // Re-check: a concurrent caller may have installed it while `ws` loaded.
    if (typeof g.WebSocket !== 'function') g.WebSocket = ws.WebSocket;
    return true;
  } catch {
    return false;
  }
}

installPromiseWithResolvers();
