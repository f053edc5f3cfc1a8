/**
 * Signed statements (see PeerDirectory): a peer's own claim of the counters it holds durably, signed
 * with its identity key so relays can carry it without being able to change it.
 *
 *   signed bytes := "shoal/statement/1" · str space · str peer · uvarint seq · uvarint n ·
 *                   (originKey 8 · uvarint counter)*     (entries sorted by origin key)
 */
import { Writer } from '../facts/bytes.js';
import { sha256 } from '../facts/hash.js';
import type { SignatureVerifier, Signer } from '../facts/sign.js';
import type { PeerId } from '../facts/types.js';
import type { Statement } from './messages.js';
import type { WireVector } from './origin-key.js';

const DOMAIN = 'shoal/statement/1';

/** What the peer signs. */
export function statementHash(space: string, peer: PeerId, seq: number, vector: WireVector): Uint8Array {
  const entries = [...vector].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const w = new Writer(64 + entries.length * 12).string(DOMAIN).string(space).string(peer).uvarint(seq);
  w.uvarint(entries.length);
  for (const [key, counter] of entries) w.hex(key).uvarint(counter);
  return sha256(w.finish());
}

/** Our own statement number `seq` of `vector`. */
export async function signStatement(
  space: string,
  signer: Signer,
  seq: number,
  vector: WireVector,
): Promise<Statement> {
  const sig = await signer.sign(statementHash(space, signer.origin, seq, vector));
  return { peer: signer.origin, seq, vector, sig };
}

/** Whether `statement` is signed by the peer it names. */
export function verifyStatement(space: string, statement: Statement, verifier: SignatureVerifier): Promise<boolean> {
  const hash = statementHash(space, statement.peer, statement.seq, statement.vector);
  return verifier.verify(statement.peer, hash, statement.sig);
}
