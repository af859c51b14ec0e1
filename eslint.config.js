// Lint rules that keep the layout honest: one-way imports, no cycles, no console, process.env only in config/.
import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.tools/**', '.tmp/**', 'proto/vendor/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['*.js', 'bin/*.mjs'] }, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [importX.createNodeResolver({ extensions: ['.ts', '.js', '.mjs'] })],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'no-console': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' }],
    },
  },
  {
    files: ['extproc/**/*.ts'],
    ignores: ['extproc/config/**'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Only extproc/config/ reads process.env.' }],
    },
  },
  {
    files: ['extproc/config/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../*', '!../core/', '!../detectors/', '!../providers/', '../providers/*', '!../providers/index.ts'], message: 'config/ only parses and validates: it reads core/ and the names providers/ and detectors/ define, and builds nothing (runtime objects are built by their owners, e.g. credentials/build.ts, service-material.ts).' }] }],
    },
  },
  {
    files: ['extproc/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../*', './*/../*'], message: 'core/ imports nothing internal.' }] }],
    },
  },
  {
    files: ['extproc/processing/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['../authz/*', '../server/*', '../cli/*'], message: 'Dependencies point one way: server → authz/processing → the rest.' }] }] },
  },
  {
    files: ['extproc/authz/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['../processing/*', '../server/*', '../cli/*'], message: 'Dependencies point one way: server → authz/processing → the rest.' }] }] },
  },
  {
    files: ['extproc/{outcome,policy,detectors,redactors,providers,credentials,state,telemetry,wire,identity,envoy,posture,mcp}/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['../authz/*', '../processing/*', '../server/*', '../cli/*', '../app.ts'], message: 'Dependencies point one way: server → authz/processing → the rest.' }] }] },
  },
  {
    // Steps do work for the Session; the envelope, the dispatch and the bidi loop sit above them.
    files: ['extproc/processing/steps/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['../session.ts', '../handlers.ts', '../stream-handler.ts', '../../authz/*', '../../server/*', '../../cli/*'], message: 'Steps sit below the Session: they import neither it nor its dispatch.' }] }] },
  },
  {
    // Audit, metrics, logs and traces see facts, never Envoy's messages; finishing a request knows no wire format either.
    files: ['extproc/{telemetry,outcome}/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['../authz/*', '../processing/*', '../server/*', '../cli/*', '../app.ts', '../wire/*'], message: 'telemetry/ and outcome/ see facts, not wire messages, and sit below authz/ and processing/.' }] }] },
  },
  {
    files: ['test/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['it', 'describe', 'test', 'suite'] }] }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.js', '**/*.mjs'], languageOptions: { globals: { process: 'readonly' } } },
  // ESLint requires its own config file to export default.
  { files: ['eslint.config.js'], rules: { 'no-restricted-syntax': 'off' } },
);
