import { describe } from 'vitest';
import { campaignSeeds, SEEDS_PER_FILE } from './campaign-suite.js';

describe('fault campaign, part 2 of 4', () => campaignSeeds(26, SEEDS_PER_FILE));
