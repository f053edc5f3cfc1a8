/**
 * Seeds past the first 100 that the long campaign (`npm run sim -- --campaign --seeds N --from 101`)
 * once failed, kept as regression tests once fixed. (Seeds 1–100 run in campaign-1…4.)
 *
 * - 146: a session kept offering snapshots to a remote it thought lacked pruned facts; it had none
 *   to offer, and the remote had the facts (its announcement was lost), so the network never went
 *   quiet. Now a session with nothing to offer asks the remote what it holds.
 */
import { describe } from 'vitest';
import { campaignSeedList } from './campaign-suite.js';

describe('fault campaign, seeds the long campaign found', () => campaignSeedList([146]));
