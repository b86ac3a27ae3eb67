// Lint rules. The import boundaries are the architecture: ledger/ is pure and
// browser-safe; verifier/ may use only ledger/, @noble/* and fetch.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeOnlyGlobals = ['Buffer', 'process', 'require', '__dirname', '__filename', 'setImmediate'].map(
  (name) => ({ name, message: 'Node-only global: ledger/ and verifier/ must run in a browser.' }),
);

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'test-results/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['bin/**/*.js', 'eslint.config.js', '.ci/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    files: ['ledger/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-globals': ['error', ...nodeOnlyGlobals],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(node:|fs$|path$|os$|crypto$|worker_threads$|child_process$)',
              message: 'ledger/ is pure: no Node-only imports.',
            },
            {
              regex: '^(?!@noble/|\\.\\.?/)',
              message: 'ledger/ may import only @noble/* and its own modules.',
            },
            { regex: '^\\.\\./', message: 'ledger/ may not import from outside ledger/.' },
          ],
        },
      ],
    },
  },
  {
    files: ['verifier/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-globals': ['error', ...nodeOnlyGlobals],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!@noble/|\\./|\\.\\./ledger/|\\.\\./\\.\\./ledger/|\\.\\./)',
              message: 'verifier/ may import only ledger/, @noble/* and itself.',
            },
            { regex: '^\\.\\./(\\.\\./)?services/', message: 'verifier/ may not import services/.' },
          ],
        },
      ],
    },
  },
);
