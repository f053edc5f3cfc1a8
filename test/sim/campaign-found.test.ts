/**
 * Seeds past the first 100 that the long campaign (`npm run sim -- --campaign --seeds N --from 101`)
 * once failed, kept as regression tests once fixed. (Seeds 1–100 run in campaign-1…4.)
 *
 * - 146: a session kept offering snapshots to a remote it thought lacked pruned facts; it had none
 *   to offer, and the remote had the facts (its announcement was lost), so the network never went
 *   quiet. Now a session with nothing to offer asks the remote what it holds.
 * - 212: a peer that had adopted snapshots past its own (after crashes on a partition from the
 *   start) kept asking for attestations of its own older cut, which no peer could rebuild (they
 *   had pruned past it), and never pruned. Now a snapshot that adopted ones outgrow is taken again
 *   at the same entry, covering them: the cut the others hold and attest.
 * - 985: a writer 41 minutes fast pruned its first facts behind a snapshot attested by the only
 *   peer that had taken them (the others refused them for clock drift and were silent past the
 *   window); that peer left for good, the writer's newer snapshots stayed unattested (nobody held
 *   those facts) and only the newest own snapshot was offered, so its writes never spread. Now
 *   the attested snapshots a newer own one replaced stay offered until it is attested itself.
 * - 1045: a peer adopted a snapshot whose history chain only its offerer held, asked every other
 *   peer for it first (each said gone), and the offerer left for good before its turn; from then on
 *   the adopter asked them all again every ten minutes, forever, and the network never went quiet.
 *   Now a chain every syncing peer said it does not hold is asked for again only when a peer comes
 *   up (or another adoption), and an adopter asks the offerer for its chains first. (With the fix
 *   the seed's course changes and the offerer no longer leaves: the tests in attested-snapshots,
 *   'history chains whose holders left', keep the scenario itself.)
 * - 2011: a peer's disk died between its snapshot's metadata and the save of its own attestation;
 *   reopened, nobody asked for attestations of that snapshot again and the peer never pruned (the
 *   log stayed 3× too long). Now a reopened peer attests its latest snapshot again and asks.
 * - 202, 778, 1932: the campaign's own check was wrong. A peer acknowledged writes of another (ackQuorum
 *   1), then both left for good before anyone else had them; the check still required them
 *   everywhere. It now requires a departed peer's acknowledged writes only while a peer still in
 *   the run holds them, and fails a write acknowledged while held by nobody else.
 */
import { describe } from 'vitest';
import { campaignSeedList } from './campaign-suite.js';

describe('fault campaign, seeds the long campaign found', () =>
  campaignSeedList([146, 202, 212, 778, 985, 1045, 1932, 2011]));
