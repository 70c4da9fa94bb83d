// ESLint flat config: type-aware typescript-eslint over every TypeScript source folder.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    // Build output, installed packages, deployment assets and runtime data are not source.
    ignores: ['dist/', 'node_modules/', 'deploy/', 'data/'],
  },
  {
    // The lint and dependency-rule configs themselves: plain JavaScript, checked without type information.
    files: ['eslint.config.js', '.dependency-cruiser.cjs', 'console/build.mjs'],
    extends: [js.configs.recommended],
  },
  {
    files: ['console/build.mjs'],
    languageOptions: { globals: { URL: 'readonly' } },
  },
  {
    files: ['.dependency-cruiser.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'readonly' } },
  },
  {
    files: ['**/*.ts', '**/*.tsx'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
      // Off: async is required by the callee's contract here (fastify handlers, commander actions, async-interface stubs), not a missing await.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Off in tests: they read HTTP/JSON bodies (`res.json()`, `JSON.parse`) as `any` and assert on them directly.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
