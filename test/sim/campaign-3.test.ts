import { describe } from 'vitest';
import { campaignSeeds, SEEDS_PER_FILE } from './campaign-suite.js';

describe('fault campaign, part 3 of 4', () => campaignSeeds(51, SEEDS_PER_FILE));
