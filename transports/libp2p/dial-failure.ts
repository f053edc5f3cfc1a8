/**
 * Why a dial failed, in terms an app (and the person using it) can act on.
 *
 * libp2p reports a failed dial as whatever its layers threw: a Node socket error, a timeout, an
 * `EncryptionFailedError` from deep in a handshake, an `AggregateError` over several addresses.
 * Several of the causes people actually hit look alike at that level: two nodes with different
 * swarm keys (or one without) do not get an error at all, the handshake just reads noise and hangs
 * until the dial times out. What tells them apart is how far the dial got, which the transport
 * follows through libp2p's progress events; {@link classifyDialError} turns that plus the error
 * into a {@link DialFailureReason} and one line of text.
 */
import type { Multiaddr } from '@multiformats/multiaddr';
import type { PeerId } from '../../engine/facts/types.js';

/**
 * Why a dial failed.
 *
 * - `psk-mismatch`: this node has a swarm key, the connection opened, and the private-network
 *   handshake failed or hung: the remote holds a different swarm key, or none. Only reported when
 *   this node has a key (without one, a hung handshake is a `timeout` whose message says the remote
 *   may be on a private network).
 * - `refused`: nothing listens at that address (connection refused).
 * - `unreachable`: no route to the host, no such host name, or no address known for the peer.
 * - `not-allowed`: our allowlist (or a ban) refused the peer, or the peer hung up right after the
 *   handshake (its allowlist does not include us, or it banned us).
 * - `self`: the address (or PeerId) is this peer's own.
 * - `timeout`: no answer within the dial timeout, before any handshake began.
 * - `other`: anything else (the message says what).
 */
export type DialFailureReason =
  'psk-mismatch' | 'refused' | 'unreachable' | 'not-allowed' | 'self' | 'timeout' | 'other';

/** Every {@link DialFailureReason}, in a stable order (for counters and displays). */
export const DIAL_FAILURE_REASONS: readonly DialFailureReason[] = [
  'psk-mismatch',
  'refused',
  'unreachable',
  'not-allowed',
  'self',
  'timeout',
  'other',
];

/** One failed dial. */
export interface DialFailure {
  /** The multiaddr that was dialled (with `/p2p/<id>` when the peer was known). */
  readonly address: string;
  /** The peer it was meant to reach, when known. */
  readonly peer?: PeerId;
  readonly reason: DialFailureReason;
  /** One line for a person: what happened and, where it helps, what to do. Never a stack trace. */
  readonly message: string;
  /** When it failed (ms since the epoch, on the transport's `env` clock). */
  readonly at: number;
}

/** How far a dial got before it failed, from libp2p's progress events. */
export interface DialProgress {
  /** The socket connected and the private-network (pnet) nonce exchange began. */
  protecting: boolean;
  /** The socket connected and the encryption (noise) handshake began. */
  encrypting: boolean;
}

/** Progress event a Shoal-wrapped connection protector reports when its handshake begins. */
export const PROTECT_PROGRESS_EVENT = 'shoal:pnet-protect';

/** libp2p's progress event for the start of an outbound encryption handshake. */
const ENCRYPT_PROGRESS_EVENT = 'upgrader:encrypt-outbound-connection';

/** Follow a dial's progress events; pass `onProgress` to `libp2p.dial`. */
export function trackDialProgress(): { progress: DialProgress; onProgress: (event: { type: string }) => void } {
  const progress: DialProgress = { protecting: false, encrypting: false };
  return {
    progress,
    onProgress: (event) => {
      if (event.type === PROTECT_PROGRESS_EVENT) progress.protecting = true;
      else if (event.type === ENCRYPT_PROGRESS_EVENT) progress.encrypting = true;
    },
  };
}

/** What {@link classifyDialError} needs to know besides the error. */
export interface DialContext {
  /** The address dialled, for the message. */
  readonly address: Multiaddr | undefined;
  readonly progress: DialProgress;
  /** Whether this node has a swarm key. */
  readonly psk: boolean;
  /** The dial timeout, in milliseconds, for the message. */
  readonly timeoutMs: number;
}

/** Socket error codes that mean "cannot get there from here". */
const UNREACHABLE_CODES = new Set([
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'EAI_NONAME',
]);

/** Error names libp2p uses when a connection gater refused the peer (on our side). */
const GATER_ERRORS = new Set(['DialDeniedError', 'ConnectionInterceptedError', 'ConnectionDeniedError']);

/** When several addresses failed, the failure reported is the most telling one. */
const PRIORITY: readonly DialFailureReason[] = [
  'self',
  'not-allowed',
  'psk-mismatch',
  'refused',
  'unreachable',
  'timeout',
  'other',
];

/** Longest message taken from a library error, in characters. */
const MAX_MESSAGE_CHARS = 300; // characters

/** The reason and message of a failed dial. */
export function classifyDialError(
  error: unknown,
  context: DialContext,
): { reason: DialFailureReason; message: string } {
  const inner = errorsOf(error);
  if (inner.length > 1) {
    const all = inner.map((e) => classifyOne(e, context));
    const best = [...all].sort((a, b) => PRIORITY.indexOf(a.reason) - PRIORITY.indexOf(b.reason))[0]!;
    return { reason: best.reason, message: `${best.message} (and ${all.length - 1} more address(es) failed)` };
  }
  return classifyOne(inner[0] ?? error, context);
}

function classifyOne(error: unknown, context: DialContext): { reason: DialFailureReason; message: string } {
  const name = error instanceof Error ? error.name : '';
  const text = oneLine(error);
  const code = codeOf(error);
  const where = hostPort(context.address);
  if (/dial self/i.test(text)) return { reason: 'self', message: "that is this peer's own address" };
  if (GATER_ERRORS.has(name)) {
    return {
      reason: 'not-allowed',
      message: 'refused by our own connection gater: the peer is not on our allowlist (allow), or we banned it',
    };
  }
  if (code === 'ECONNREFUSED') {
    return {
      reason: 'refused',
      message: `connection refused: nothing listens at ${where} (is the peer running there?)`,
    };
  }
  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    const why =
      code === 'ENOTFOUND' || code === 'EAI_NONAME'
        ? 'no such host'
        : code === 'EAI_AGAIN'
          ? 'name lookup failed'
          : 'no route to it';
    return { reason: 'unreachable', message: `cannot reach ${where}: ${why} (${code})` };
  }
  if (name === 'NoValidAddressesError') {
    return { reason: 'unreachable', message: 'no address known for this peer (give one with /ip4/…/tcp/…/p2p/<id>)' };
  }
  if (/does not match expected remote identity|UnexpectedPeer/i.test(`${name} ${text}`)) {
    return { reason: 'other', message: `another peer answered at ${where}: ${text}` };
  }
  const handshake = context.progress.protecting || context.progress.encrypting;
  const timedOut = name === 'TimeoutError' || name === 'AbortError' || code === 'ETIMEDOUT';
  if (handshake && context.psk) {
    // The socket connected, then the handshake failed or hung: across different swarm keys the
    // bytes each side decrypts are noise, so it fails or waits until the dial times out.
    return {
      reason: 'psk-mismatch',
      message: `the private-network handshake with ${where} failed: it holds a different swarm key, or none`,
    };
  }
  if (handshake) {
    // Without a swarm key of our own there is no private-network handshake to fail: the remote
    // may hold a key (then it reads our handshake as noise), or not be a libp2p peer at all. Say so,
    // but as what we saw: a timeout or another failure, never a key mismatch.
    const hint = `it may be on a private network (start with its swarm key, psk), or not be a libp2p peer`;
    return timedOut
      ? {
          reason: 'timeout',
          message: `the handshake with ${where} got no answer within ${seconds(context.timeoutMs)} s: ${hint}`,
        }
      : { reason: 'other', message: `the handshake with ${where} failed (${text}): ${hint}` };
  }
  if (timedOut) {
    return { reason: 'timeout', message: `no answer from ${where} within ${seconds(context.timeoutMs)} s` };
  }
  const plain = name === '' || name === 'Error' || text.startsWith(name);
  const message = plain ? text : `${name}: ${text}`;
  if (!context.psk && /connection error|ECONNRESET|reset|closed/i.test(`${code ?? ''} ${text}`)) {
    // The remote dropped the connection before our handshake began in earnest (a node on a private
    // network closes on the first bytes it cannot decrypt): say what that may mean.
    return {
      reason: 'other',
      message: `${message}: it may be on a private network (start with its swarm key, psk), or not be a libp2p peer`,
    };
  }
  return { reason: 'other', message };
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(ms < 10_000 ? 1 : 0);
}

/** The errors inside an AggregateError (one per address tried), or the error itself. */
function errorsOf(error: unknown): unknown[] {
  const list = (error as { errors?: unknown } | undefined)?.errors;
  return Array.isArray(list) && list.length > 0 ? list.flatMap(errorsOf) : [error];
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  // libp2p wraps socket errors; the code is then only in the text ("connect ECONNREFUSED 127.0.0.1:1").
  return /\b(E[A-Z]{4,})\b/.exec(oneLine(error))?.[1];
}

/**
 * The first line of an error's message, trimmed and bounded: libp2p folds stack traces of inner
 * errors into some messages, and a person needs none of that.
 */
export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const first = text.split('\n').find((line) => line.trim() !== '') ?? '';
  const line = first.trim();
  return line.length > MAX_MESSAGE_CHARS ? `${line.slice(0, MAX_MESSAGE_CHARS - 1)}…` : line;
}

/** `127.0.0.1:4001` (or the whole address when it has no host and port). */
function hostPort(address: Multiaddr | undefined): string {
  if (address === undefined) return 'the peer';
  const parts = address.getComponents();
  const host = parts.find((c) => ['ip4', 'ip6', 'dns', 'dns4', 'dns6', 'dnsaddr'].includes(c.name))?.value;
  const port = parts.find((c) => c.name === 'tcp')?.value;
  if (host === undefined) return address.toString();
  return port === undefined ? host : `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * A readable reason for a failure to listen, naming each address that failed, or undefined when
 * `error` is not a listen failure. libp2p's own message lists the addresses with the Node errors
 * (stack traces included) and suggests a libp2p option Shoal does not expose.
 */
export function listenFailureMessage(error: unknown): string | undefined {
  const text = error instanceof Error ? error.message : String(error);
  if (!/failed to be listened on/.test(text)) return undefined;
  const failures: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*(\/\S+): (.*)$/.exec(line);
    if (match === null) continue;
    const [, address, detail] = match as unknown as [string, string, string];
    failures.push(`cannot listen on ${address}: ${explainListen(detail)}`);
  }
  return failures.length === 0 ? 'cannot listen on the configured addresses' : failures.join('; ');
}

function explainListen(detail: string): string {
  if (detail.includes('EADDRINUSE')) {
    return 'the port is already in use (another program or Shoal peer holds it: choose another port, or tcp/0 for a free one)';
  }
  if (detail.includes('EADDRNOTAVAIL')) return 'that IP address is not one of this machine’s';
  if (detail.includes('EACCES')) return 'permission denied (ports below 1024 need privileges)';
  if (/UnsupportedListenAddress|not supported/i.test(detail)) return 'no transport for this kind of address';
  return detail.replace(/^\w*Error: /, '').trim();
}

/** Why a dial that connected came to nothing: the remote closed the connection before any link. */
export const REMOTE_REFUSAL_MESSAGE =
  'the peer hung up right after the handshake: its allowlist does not include us, or it banned us';
