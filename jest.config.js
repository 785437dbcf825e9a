/** @type {import('jest').Config} */
const transform = { '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { target: 'es2023' } }] };

module.exports = {
  testEnvironment: 'node',
  transform,
  // ES-module-only packages, compiled like our own code: @marcbachmann/cel-js, and @kubernetes/client-node
  // with its ESM dependencies (jest's own require(esm) needs --experimental-vm-modules).
  transformIgnorePatterns: ['/node_modules/(?!(@marcbachmann/cel-js|@kubernetes/client-node|openid-client|oauth4webapi|jose)/)'],
  // The conformance and integration suites start real services once per run (see test/global-setup.ts).
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30_000,
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
