// ESLint flat config. Besides the usual TypeScript rules, it enforces the one-way imports of
// DESIGN.md: `src/core` is isomorphic (no node:*, no DOM globals, no other area), and the other
// areas reach `core` only through its single entry file `src/core/index.ts`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

// Packages that only run on a server: core must never depend on them.
const serverOnlyPackages = [
  'better-sqlite3',
  'pg',
  'fastify',
  '@fastify/*',
  'smtp-server',
  'nodemailer',
  'pino',
  'tsx',
  'playwright-core',
];

const coreImportRules = {
  'no-restricted-imports': [
    'error',
    {
      paths: nodeBuiltins.map((name) => ({
        name,
        message: 'src/core is isomorphic: it runs in the browser too, so it may not import Node modules.',
      })),
      patterns: [
        {
          group: ['node:*'],
          message: 'src/core is isomorphic: it may not import Node modules.',
        },
        {
          group: serverOnlyPackages,
          message: 'src/core is isomorphic: it may not import server-only packages.',
        },
        {
          group: ['**/server/**', '**/receiver/**', '**/cli/**', 'preact', 'preact/*', 'dompurify'],
          message: 'src/core may not import the other areas (server, receiver, cli) or UI libraries.',
        },
      ],
    },
  ],
  'no-restricted-globals': [
    'error',
    ...[
      'window',
      'document',
      'navigator',
      'localStorage',
      'sessionStorage',
      'indexedDB',
      'location',
      'self',
      'postMessage',
      'importScripts',
      'process',
      'Buffer',
      'require',
      '__dirname',
      '__filename',
      'global',
      'setImmediate',
    ].map((name) => ({
      name,
      message: `src/core is isomorphic: it may not use the host global "${name}".`,
    })),
  ],
};

const viaCoreEntry = {
  group: ['**/core/*', '**/core/**', '!**/core/index.ts', '!**/core/index'],
  message: 'Import core only through its single entry: src/core/index.ts.',
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'data/**',
      'coverage/**',
      'test/fixtures/generated/**',
      'bench/out/**',
      '.tmp/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: coreImportRules,
  },
  {
    files: ['src/server/**/*.ts'],
    languageOptions: { globals: globals.node },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            viaCoreEntry,
            {
              group: ['**/cli/**', '**/receiver/**'],
              message: 'server may not import cli or receiver code.',
            },
          ],
        },
      ],
    },
  },
  {
    // Rows are typed by the schema (src/server/store/schema.ts), end to end: no type assertions.
    files: ['src/server/store/**/*.ts'],
    rules: {
      '@typescript-eslint/consistent-type-assertions': ['error', { assertionStyle: 'never' }],
    },
  },
  {
    files: ['src/cli/**/*.ts'],
    languageOptions: { globals: globals.node },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            viaCoreEntry,
            { group: ['**/receiver/**'], message: 'cli may not import receiver code.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/receiver/**/*.ts', 'src/receiver/**/*.tsx'],
    languageOptions: { globals: globals.browser },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            viaCoreEntry,
            { group: ['**/server/**', '**/cli/**'], message: 'receiver may not import server or cli code.' },
            { group: ['node:*'], message: 'receiver runs in the browser: no Node modules.' },
          ],
        },
      ],
    },
  },
  {
    files: [
      'test/**/*.ts',
      'bench/**/*.ts',
      'scripts/**/*.mjs',
      'bin/**/*.mjs',
      '*.config.*',
      'eslint.config.js',
    ],
    languageOptions: { globals: { ...globals.node } },
  },
);
