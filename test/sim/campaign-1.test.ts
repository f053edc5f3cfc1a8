import { describe } from 'vitest';
import { campaignSeeds, SEEDS_PER_FILE } from './campaign-suite.js';

describe('fault campaign, part 1 of 4', () => campaignSeeds(1, SEEDS_PER_FILE));
