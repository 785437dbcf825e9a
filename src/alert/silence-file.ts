import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Reads the saved silences, if the file exists. */
export function readSilenceFile(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/** Saves the silences atomically (write, then rename), so a crash leaves the old or the new set, never half. */
export function writeSilenceFile(path: string, json: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, json, { mode: 0o600 });
  renameSync(tmp, path);
}
