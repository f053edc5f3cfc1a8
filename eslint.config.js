// @ts-check
import tseslint from 'typescript-eslint';
import mustUseResult from './eslint-rules/must-use-result.js';

/**
 * Layering, as import specifiers a folder's files must not use (relative paths climb with `../`).
 * The engine knows networks only through engine/transport.ts and never reaches into the folders
 * around it; facts/ is the bottom layer; log/ and blobs/ are the interfaces storage/ implements.
 */
const OUTSIDE_ENGINE = {
  regex: '^(\\.\\./)+(transports|examples|bench|test|testing)(/|$)|^shoal/(transports|testing)(/|$)',
  message: 'engine/ must not import from transports/, examples/, bench/, test/ or testing/ (they build on it).',
};
const ABOVE_FACTS = {
  regex:
    '^(\\.\\./)+(log|storage|sync|snapshot|state|peer)(/|$)|(^|/)engine/(log|storage|sync|snapshot|state|peer)(/|$)',
  message:
    'engine/facts/ is the bottom layer: it must not import from log/, storage/, sync/, snapshot/, state/ or peer/.',
};
const ABOVE_LOG_AND_BLOBS = {
  regex: '^(\\.\\./)+(storage|sync|snapshot|peer)(/|$)|(^|/)engine/(storage|sync|snapshot|peer)(/|$)',
  message:
    'engine/log/ and engine/blobs/ define what storage/ implements: they must not import from storage/, sync/, snapshot/ or peer/.',
};
/**
 * One `no-restricted-imports` setting per folder: a later block replaces an earlier one, so each
 * lists all its patterns.
 * @param {...{ regex: string; message: string }} patterns
 */
const layering = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  // test/package/fixtures/ is code of a temporary app that imports the packed `shoal` by name.
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.tmp/**',
      'coverage/**',
      'test/lint/fixtures/**',
      'test/package/fixtures/**',
    ],
  },
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { shoal: { rules: { 'must-use-result': mustUseResult } } },
    rules: {
      // An ignored Result is an ignored error: every Result/ResultAsync must be handled.
      'shoal/must-use-result': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { disallowTypeAnnotations: false }],
    },
  },
  {
    // Time, timers and randomness only through Env: that is what makes the simulator deterministic.
    files: ['engine/**/*.ts'],
    ignores: ['engine/env.ts'],
    rules: {
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate'],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'use env.random()' },
        { object: 'Date', property: 'now', message: 'use env.now()' },
      ],
    },
  },
  { files: ['engine/**/*.ts'], rules: layering(OUTSIDE_ENGINE) },
  { files: ['engine/facts/**/*.ts'], rules: layering(OUTSIDE_ENGINE, ABOVE_FACTS) },
  { files: ['engine/log/**/*.ts', 'engine/blobs/**/*.ts'], rules: layering(OUTSIDE_ENGINE, ABOVE_LOG_AND_BLOBS) },
  {
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: {
      // Tests may unwrap and poke at internals.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
