// @ts-check
import tseslint from 'typescript-eslint';
import mustUseResult from './eslint-rules/must-use-result.js';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tmp/**', 'coverage/**', 'test/lint/fixtures/**'] },
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
  {
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: {
      // Tests may unwrap and poke at internals.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
