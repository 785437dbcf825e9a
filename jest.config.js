/** @type {import('jest').Config} */
const transform = { '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { target: 'es2023' } }] };

/**
 * Suites that talk to a real Kafka or Redis. test/config/jest-projects.test.ts fails when a suite
 * that uses the services (test/support/services.ts) is missing from this list.
 */
const SERVICE_SUITES = [
  '<rootDir>/test/integration/',
  '<rootDir>/test/bus/kafka.test.ts',
  '<rootDir>/test/store/redis.test.ts',
  '<rootDir>/test/store/select.test.ts',
  '<rootDir>/test/store/event-dead-letters/redis.test.ts',
  '<rootDir>/test/ingest/claims.test.ts',
  '<rootDir>/test/alert/group.test.ts',
  '<rootDir>/test/alert/mute-resolve.test.ts',
  '<rootDir>/test/notify/kafka-receiver.test.ts',
  '<rootDir>/test/console-api/redis-history.test.ts',
  '<rootDir>/test/console-api/redis-sessions.test.ts',
];

const common = {
  testEnvironment: 'node',
  transform,
  // ES-module-only packages, compiled like our own code: @marcbachmann/cel-js, and @kubernetes/client-node
  // with its ESM dependencies (jest's own require(esm) needs --experimental-vm-modules).
  transformIgnorePatterns: ['/node_modules/(?!(@marcbachmann/cel-js|@kubernetes/client-node|openid-client|oauth4webapi|jose)/)'],
};

module.exports = {
  // `npm test` runs both projects; `npm run test:unit` (`--selectProjects unit`) starts no services.
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...SERVICE_SUITES],
    },
    {
      ...common,
      displayName: 'services',
      testMatch: SERVICE_SUITES.map((p) => (p.endsWith('/') ? `${p}**/*.test.ts` : p)),
      // Starts (or finds) Redis and Kafka once, only when a suite of this project runs (test/global-setup.ts).
      globalSetup: '<rootDir>/test/global-setup.ts',
      globalTeardown: '<rootDir>/test/global-teardown.ts',
    },
  ],
  // A global option: jest ignores it inside a project.
  testTimeout: 30_000,
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
