/**
 * Attestations: a peer's signature over (space, snapshot root id). A peer attests a root only after
 * building the same root itself from its own facts (or its own snapshot plus the facts after it):
 * roots are a pure function of their cut, and the root id commits to the cut (its tips), so an
 * attestation says "these registers are what those facts give". A catching-up peer adopts a
 * snapshot only with `snapshotQuorum` attestations from distinct identities.
 *
 *   signed bytes := "shoal/attest/1" · str space · root id 32
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { err, ok, type Result } from 'neverthrow';
import { corrupt, type CorruptError } from '../errors.js';
import { toHex, Writer } from '../facts/bytes.js';
import { sha256 } from '../facts/hash.js';
import type { SignatureVerifier, Signer } from '../facts/sign.js';
import type { PeerId } from '../facts/types.js';

const DOMAIN = 'shoal/attest/1';

export interface Attestation {
  readonly attester: PeerId;
  readonly sig: Uint8Array;
}

export function attestationHash(space: string, root: string): Uint8Array {
  return sha256(new Writer(96).string(DOMAIN).string(space).raw(hexToBytes(root)).finish());
}

/** Our attestation of `root`. */
export async function attest(space: string, root: string, signer: Signer): Promise<Attestation> {
  return { attester: signer.origin, sig: await signer.sign(attestationHash(space, root)) };
}

export function verifyAttestation(
  space: string,
  root: string,
  attestation: Attestation,
  verifier: SignatureVerifier,
): Promise<boolean> {
  return verifier.verify(attestation.attester, attestationHash(space, root), attestation.sig);
}

/** Checked attestations of the roots a space cares about, by root then attester. */
export class AttestationBook {
  readonly #byRoot = new Map<string, Map<PeerId, Uint8Array>>();

  /** Record a checked attestation; false when that attester's was already there. */
  add(root: string, attestation: Attestation): boolean {
    let attesters = this.#byRoot.get(root);
    if (attesters === undefined) this.#byRoot.set(root, (attesters = new Map<PeerId, Uint8Array>()));
    if (attesters.has(attestation.attester)) return false;
    attesters.set(attestation.attester, attestation.sig);
    return true;
  }

  has(root: string, attester: PeerId): boolean {
    return this.#byRoot.get(root)?.has(attester) === true;
  }

  /** Distinct attesters of `root`. */
  count(root: string): number {
    return this.#byRoot.get(root)?.size ?? 0;
  }

  /** Up to `max` attestations of `root`. */
  list(root: string, max = Number.POSITIVE_INFINITY): Attestation[] {
    const out: Attestation[] = [];
    for (const [attester, sig] of this.#byRoot.get(root) ?? []) {
      if (out.length >= max) break;
      out.push({ attester, sig });
    }
    return out;
  }

  /** Forget every root but `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const root of this.#byRoot.keys()) if (!keep.has(root)) this.#byRoot.delete(root);
  }

  /** What is persisted: `{ root: [[attester, sig hex], …] }`. */
  encode(): Uint8Array {
    const out: Record<string, [string, string][]> = {};
    for (const [root, attesters] of this.#byRoot) out[root] = [...attesters].map(([a, sig]) => [a, toHex(sig)]);
    return new TextEncoder().encode(JSON.stringify(out));
  }

  static decode(bytes: Uint8Array | undefined): Result<AttestationBook, CorruptError> {
    const book = new AttestationBook();
    if (bytes === undefined) return ok(book);
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      // The edge: JSON.parse throws on damaged bytes.
      return err(corrupt('the stored attestations are not JSON'));
    }
    if (typeof parsed !== 'object' || parsed === null) return err(corrupt('the stored attestations are unreadable'));
    for (const [root, list] of Object.entries(parsed)) {
      if (!/^[0-9a-f]{64}$/.test(root) || !Array.isArray(list))
        return err(corrupt('the stored attestations are unreadable'));
      for (const pair of list as unknown[]) {
        if (
          !Array.isArray(pair) ||
          typeof pair[0] !== 'string' ||
          typeof pair[1] !== 'string' ||
          !/^[0-9a-f]{128}$/.test(pair[1])
        ) {
          return err(corrupt('the stored attestations are unreadable'));
        }
        book.add(root, { attester: pair[0] as PeerId, sig: hexToBytes(pair[1]) });
      }
    }
    return ok(book);
  }
}
