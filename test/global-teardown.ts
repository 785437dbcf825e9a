/** Stops what test/global-setup.ts started (services given through the environment are left alone). */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__falconerTestServices?.stop();
  globalThis.__falconerTestServices = undefined;
}
