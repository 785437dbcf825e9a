/** @type {import('jest').Config} */
const transform = { '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { target: 'es2023' } }] };

module.exports = {
  testEnvironment: 'node',
  transform,
  // @marcbachmann/cel-js ships ES modules only: compile it like our own code.
  transformIgnorePatterns: ['/node_modules/(?!(@marcbachmann/cel-js|@kubernetes/client-node|openid-client|oauth4webapi|jose)/)'],
  // The conformance and integration suites start real services once per run (see test/global-setup.ts).
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30_000,
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
