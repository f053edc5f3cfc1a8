import { describe } from 'vitest';
import { campaignSeeds, SEEDS_PER_FILE } from './campaign-suite.js';

describe('fault campaign, part 4 of 4', () => campaignSeeds(76, SEEDS_PER_FILE));
