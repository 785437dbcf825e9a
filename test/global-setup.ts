/** Starts the real services the integration suites need, once per run. Kafka and Redis arrive with issue 3. */
export default async function globalSetup(): Promise<void> {}
