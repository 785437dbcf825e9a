// @ts-check
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

module.exports = tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.services/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: require('globals').node },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      // Tests poke at JSON payloads of many shapes.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // The console's front end runs in the browser (built by Vite into dist/ui).
    files: ['ui/**/*.{ts,tsx}'],
    ignores: ['ui/vite.config.mts'],
    languageOptions: { globals: require('globals').browser },
  },
  {
    files: ['**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
