import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDir } from '../../src/store/data-dir';

/** A fresh temporary data dir per call; `removeTempDirs` deletes them all. */
const made: string[] = [];
export function tempDir(prefix = 'falconer-data-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Opens `dir` as a data dir, failing the test when it is not usable. */
export async function openDataDir(dir: string, now: number): Promise<DataDir> {
  const opened = await DataDir.open(dir, now);
  if (typeof opened === 'string') throw new Error(`data dir not usable: ${opened}`);
  return opened;
}
