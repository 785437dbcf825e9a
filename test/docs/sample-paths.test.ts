import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(__dirname, '../..');

/** Files that curl examples post (`--data @FILE`, `-d @FILE`), as written in a page. */
function postedFiles(page: string): string[] {
  const text = readFileSync(resolve(root, page), 'utf8');
  return [...text.matchAll(/(?:--data(?:-binary)?|-d)\s+@(\S+)/g)].map((m) => m[1]!.replace(/['"]/g, ''));
}

describe.each(['README.md', 'docs/deploy.md'])('%s', (page) => {
  it('posts only sample files that exist in the repository', () => {
    const files = postedFiles(page);
    expect(files.length).toBeGreaterThan(0);
    expect(files.filter((f) => f.startsWith('..') || !existsSync(resolve(root, f)))).toEqual([]);
  });
});
