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

/**
 * Suites that drive the console in headless Chromium (test/support/browser.ts). They need the built UI
 * (their global setup builds it when stale) and Chromium (scripts/provision.sh); `test:unit` runs none.
 * test/config/jest-projects.test.ts fails when a suite that launches a browser is outside this list.
 */
const BROWSER_SUITES = ['<rootDir>/test/console/'];

const match = (p) => (p.endsWith('/') ? `${p}**/*.test.ts` : p);

const common = {
  testEnvironment: 'node',
  transform,
  // ES-module-only packages, compiled like our own code: @marcbachmann/cel-js, and @kubernetes/client-node
  // with its ESM dependencies (jest's own require(esm) needs --experimental-vm-modules).
  transformIgnorePatterns: ['/node_modules/(?!(@marcbachmann/cel-js|@kubernetes/client-node|openid-client|oauth4webapi|jose)/)'],
};

module.exports = {
  // `npm test` runs every project; `npm run test:unit` (`--selectProjects unit`) starts no services.
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...SERVICE_SUITES, ...BROWSER_SUITES],
    },
    {
      ...common,
      displayName: 'services',
      testMatch: SERVICE_SUITES.map(match),
      // Starts (or finds) Redis and Kafka once, only when a suite of this project runs (test/global-setup.ts).
      globalSetup: '<rootDir>/test/global-setup.ts',
      globalTeardown: '<rootDir>/test/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'browser',
      testMatch: BROWSER_SUITES.map(match),
      globalSetup: '<rootDir>/test/browser-global-setup.ts',
      setupFilesAfterEnv: ['<rootDir>/test/browser-setup.ts'],
    },
  ],
  // A global option: jest ignores it inside a project.
  testTimeout: 30_000,
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
