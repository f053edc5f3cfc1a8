/**
 * The libp2p transport says why a dial failed: each reason produced for real over 127.0.0.1 (a
 * different swarm key, a key on one side only, a closed port, our own address, an allowlist on
 * either side), counted per reason in `stats()`, reported to `onDialFailure`, kept (bounded) in
 * `dialFailures()`, shown in `dialTargets()`, and worded for a person (no stack trace). Also: a
 * listen address already in use is a clear start error, and `generateSwarmKey()` makes working keys.
 */
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { realEnv } from '../../engine/env.js';
import {
  classifyDialError,
  type DialFailure,
  type DialFailureReason,
  type DialProgress,
} from '../../transports/libp2p/dial-failure.js';
import {
  generateSwarmKey,
  libp2pTransport,
  MAX_DIAL_FAILURES_KEPT,
  SWARM_KEY_BYTES,
  type Libp2pTransport,
  type Libp2pTransportInit,
} from '../../transports/libp2p/index.js';
import { identity, realSettle, Recorder, startTransport } from '../../testing/index.js';

/** Fast retries and a short dial timeout, so a handshake that hangs fails within the test. */
const FAST: Libp2pTransportInit = { backoff: { initialMs: 50, maxMs: 500 }, dialTimeoutMs: 1500 };

const running: Libp2pTransport[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A started transport on 127.0.0.1 that records every dial failure it reports. */
async function node(init: Libp2pTransportInit = {}) {
  const who = await identity();
  const recorder = new Recorder();
  const transport = libp2pTransport({ ...FAST, listen: ['/ip4/127.0.0.1/tcp/0'], ...init });
  running.push(transport);
  const reported: DialFailure[] = [];
  transport.onDialFailure((f) => reported.push(f));
  await startTransport(transport, who.key, recorder);
  return { id: who.id, key: who.key, transport, recorder, reported };
}

/** A TCP port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until(done: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await realSettle(20);
  }
}

/** Every reported failure is one readable line: no stack frames, no libp2p option advice. */
function expectReadable(failures: readonly DialFailure[]): void {
  for (const f of failures) {
    expect(f.message).not.toMatch(/\n|\bat [\w.<>[\] ]+ \((?:node:|file:|\/)|node:internal|faultTolerance/);
    expect(f.message.length).toBeGreaterThan(10);
    expect(Number.isFinite(f.at)).toBe(true);
  }
}

/** The failure reasons a transport reported, and that they match its counters. */
function reasonsOf(n: Awaited<ReturnType<typeof node>>): Set<DialFailureReason> {
  const stats = n.transport.stats();
  const counted = Object.values(stats.dialFailuresByReason).reduce((a, b) => a + b, 0);
  expect(counted).toBe(stats.dialFailures);
  return new Set(n.reported.map((f) => f.reason));
}

describe('libp2p dial failures carry a reason', () => {
  it('psk-mismatch: two private networks with different keys', async () => {
    const a = await node({ psk: generateSwarmKey() });
    const b = await node({ psk: generateSwarmKey(), bootstrap: a.transport.addresses() });
    await until(() => b.transport.stats().dialFailuresByReason['psk-mismatch'] >= 2, 'two psk-mismatch failures');
    expect(reasonsOf(b)).toEqual(new Set(['psk-mismatch']));
    const failure = b.reported[0]!;
    expect(failure.address).toBe(a.transport.addresses()[0]);
    expect(failure.peer).toBe(a.id);
    expect(failure.message).toMatch(/swarm key/);
    expectReadable(b.reported);
    expect(b.transport.dialFailures()).toEqual(b.reported);
    const [target] = b.transport.dialTargets();
    expect(target).toMatchObject({ peer: a.id, source: 'bootstrap' });
    expect(target!.lastFailure?.reason).toBe('psk-mismatch');
    expect(target!.failures).toBeGreaterThanOrEqual(2);
    expect(a.recorder.events).toEqual([]);
    expect(b.recorder.events).toEqual([]);
  });

  it('a key on one side only: psk-mismatch on the side with the key, never without one', async () => {
    const psk = generateSwarmKey();
    const open = await node();
    const privateNode = await node({ psk });
    const withoutKey = await node({ bootstrap: privateNode.transport.addresses() });
    const withKey = await node({ psk, bootstrap: open.transport.addresses() });
    await until(
      () => withoutKey.transport.stats().dialFailures >= 1 && withKey.transport.stats().dialFailures >= 1,
      'a failure on each dialler',
    );
    // Without a key there is no private-network handshake that could fail: what that side sees is
    // a handshake that never answers (timeout) or answers noise (other), depending on timing.
    const seen = [...reasonsOf(withoutKey)];
    expect(seen.length).toBeGreaterThan(0);
    for (const reason of seen) expect(['timeout', 'other']).toContain(reason);
    expect(reasonsOf(withKey)).toEqual(new Set(['psk-mismatch']));
    for (const f of withoutKey.reported) expect(f.message).toMatch(/private network/);
    expect(withKey.reported[0]!.message).toMatch(/different swarm key, or none/);
    expectReadable([...withoutKey.reported, ...withKey.reported]);
  });

  it('refused: nothing listens at the port (with and without /p2p/)', async () => {
    const port = await closedPort();
    const someone = await identity();
    const bare = `/ip4/127.0.0.1/tcp/${port}`;
    const named = `${bare}/p2p/${someone.id}`;
    const a = await node({ bootstrap: [bare, named] });
    await until(() => a.transport.stats().dialFailuresByReason.refused >= 4, 'refused dials to both addresses');
    expect(reasonsOf(a)).toEqual(new Set(['refused']));
    expect(new Set(a.reported.map((f) => f.address))).toEqual(new Set([bare, named]));
    expect(a.reported[0]!.message).toContain(`127.0.0.1:${port}`);
    expectReadable(a.reported);
    // Both keep being re-dialled: the peer may come up there later.
    expect(a.transport.dialTargets().map((t) => t.state)).not.toContain('given-up');
  });

  it('self: our own address or PeerId is reported once and never dialled', async () => {
    const a = await node();
    const own = a.transport.addresses()[0]!;
    const dialsBefore = a.transport.stats().dials;
    expect((await a.transport.dial(own)).isOk()).toBe(true);
    expect((await a.transport.dial(own.replace(/\/p2p\/.*$/, ''))).isOk()).toBe(true);
    await realSettle(300);
    expect(a.reported.map((f) => f.reason)).toEqual(['self', 'self']);
    expect(a.reported[0]!.message).toMatch(/own address/);
    expect(a.transport.stats().dials).toBe(dialsBefore);
    expect(a.transport.stats().dialFailuresByReason.self).toBe(2);
    expect(a.transport.dialTargets().map((t) => [t.state, t.lastFailure?.reason])).toEqual([
      ['given-up', 'self'],
      ['given-up', 'self'],
    ]);
    expect(a.recorder.events).toEqual([]);
  });

  it('not-allowed: our allowlist refuses the target (no dial, not retried)', async () => {
    const target = await node();
    const a = await node({ allow: [], bootstrap: target.transport.addresses() });
    await realSettle(300);
    expect(a.reported.map((f) => [f.reason, f.peer])).toEqual([['not-allowed', target.id]]);
    expect(a.reported[0]!.message).toMatch(/allowlist/);
    expect(a.transport.dialTargets()).toEqual([expect.objectContaining({ state: 'given-up', peer: target.id })]);
    expect(target.recorder.events).toEqual([]);
  });

  it("not-allowed: the remote's allowlist refuses us (it hangs up right after the handshake)", async () => {
    const friend = await identity();
    const a = await node({ allow: [friend.id] });
    const stranger = await node({ bootstrap: a.transport.addresses() });
    await until(() => stranger.transport.stats().dialFailuresByReason['not-allowed'] >= 2, 'two refusals');
    expect(reasonsOf(stranger)).toEqual(new Set(['not-allowed']));
    expect(stranger.reported[0]!.message).toMatch(/hung up right after the handshake/);
    expect(stranger.reported[0]!.peer).toBe(a.id);
    expectReadable(stranger.reported);
    expect(stranger.recorder.events).toEqual([]);
  });

  it('a listener can stop listening; dialFailures() keeps only the newest failures', async () => {
    const port = await closedPort();
    const a = await node({ backoff: { initialMs: 2, maxMs: 4 }, bootstrap: [`/ip4/127.0.0.1/tcp/${port}`] });
    const seen: DialFailure[] = [];
    const stop = a.transport.onDialFailure((f) => seen.push(f));
    await until(() => a.transport.stats().dialFailures > MAX_DIAL_FAILURES_KEPT + 5, 'many failures');
    stop();
    const count = seen.length;
    await until(() => a.transport.stats().dialFailures > count + 10, 'more failures');
    expect(seen).toHaveLength(count);
    const kept = a.transport.dialFailures();
    expect(kept).toHaveLength(MAX_DIAL_FAILURES_KEPT);
    expect(kept.at(-1)!.at).toBeGreaterThanOrEqual(kept[0]!.at);
  });

  it('timeout and unreachable are told apart from handshake failures (no network needed)', () => {
    const none: DialProgress = { protecting: false, encrypting: false };
    const context = { address: undefined, progress: none, psk: false, timeoutMs: 10_000 };
    const timeout = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
    const timedOut = classifyDialError(timeout, context);
    expect(timedOut.reason).toBe('timeout');
    expect(timedOut.message).toMatch(/10 s/);
    const handshake = { ...context, progress: { protecting: false, encrypting: true } };
    // A hung handshake is a key mismatch only when this node has a key.
    expect(classifyDialError(timeout, { ...handshake, psk: true }).reason).toBe('psk-mismatch');
    const hung = classifyDialError(timeout, handshake);
    expect(hung.reason).toBe('timeout');
    expect(hung.message).toMatch(/private network/);
    const reset = Object.assign(new Error('stream reset'), { name: 'StreamResetError' });
    expect(classifyDialError(reset, handshake).reason).toBe('other');
    expect(classifyDialError(reset, { ...handshake, psk: true }).reason).toBe('psk-mismatch');
    const noHost = Object.assign(
      new Error('connection error nowhere.invalid:4001: getaddrinfo ENOTFOUND nowhere.invalid'),
      {
        code: 'ENOTFOUND',
      },
    );
    expect(classifyDialError(noHost, context).reason).toBe('unreachable');
    const noRoute = new Error('connection error 10.0.0.9:4001: connect EHOSTUNREACH 10.0.0.9:4001');
    expect(classifyDialError(noRoute, context).reason).toBe('unreachable');
    const several = new AggregateError([noRoute, timeout], 'All multiaddr dials failed');
    const worst = classifyDialError(several, context);
    expect(worst.reason).toBe('unreachable');
    expect(worst.message).toMatch(/1 more address/);
    const withStack = new Error('something odd\n    at Foo.bar (node:internal/x:1:1)');
    expect(classifyDialError(withStack, context)).toEqual({ reason: 'other', message: 'something odd' });
  });
});

describe('libp2p transport start and keys', () => {
  it('a listen port already in use is a start error naming the address, without a stack trace', async () => {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const who = await identity();
    const transport = libp2pTransport({ listen: [`/ip4/127.0.0.1/tcp/${port}`] });
    running.push(transport);
    const started = await transport.start({ peerId: who.id, privateKey: who.key, env: realEnv() }, new Recorder());
    expect(started.isErr()).toBe(true);
    const error = started._unsafeUnwrapErr();
    expect(error.type).toBe('transport');
    expect(error.message).toContain(`cannot listen on /ip4/127.0.0.1/tcp/${port}: the port is already in use`);
    expect(error.message).not.toMatch(/\n|\s+at \S+|faultTolerance|NO_FATAL/);
  });

  it('generateSwarmKey() makes the bytes psk accepts: holders of one key link, fresh keys differ', async () => {
    const psk = generateSwarmKey();
    expect(psk).toBeInstanceOf(Uint8Array);
    expect(psk.byteLength).toBe(SWARM_KEY_BYTES);
    expect(new TextDecoder().decode(psk)).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/);
    expect(generateSwarmKey()).not.toEqual(psk);
    const a = await node({ psk });
    const b = await node({ psk, bootstrap: a.transport.addresses() });
    await until(() => a.recorder.isUp(b.id) && b.recorder.isUp(a.id), 'the link');
    expect(b.reported).toEqual([]);
    expect(b.transport.dialTargets()).toEqual([expect.objectContaining({ state: 'linked', peer: a.id, failures: 0 })]);
  });
});
