import { KAFKA_ENV, REDIS_ENV, SERVICES_SWITCH_ENV, startTestServices, type TestServices } from './support/services';

declare global {
  // Read back by test/global-teardown.ts, which jest runs in this same process.
  var __falconerTestServices: TestServices | undefined;
}

/**
 * Starts (or finds) Redis and Kafka once per run and hands their addresses to the test workers
 * through the environment. See docs/development.md.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env[SERVICES_SWITCH_ENV] === 'off') return;
  const started = Date.now();
  const services = await startTestServices();
  globalThis.__falconerTestServices = services;
  process.env[KAFKA_ENV] = services.kafka.address;
  process.env[REDIS_ENV] = services.redis.address;
  process.stderr.write(
    `\ntest services ready in ${Date.now() - started} ms: kafka ${services.kafka.address} (${services.kafka.origin}), ` +
      `redis ${services.redis.address} (${services.redis.origin})\n`,
  );
}
