import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { KNOWN_ENV } from '../../src/config/load';
import { keyPaths } from '../../src/config/keys';
import { configSchema } from '../../src/config/schema';

const doc = readFileSync(resolve(__dirname, '../../docs/configuration.md'), 'utf8');

describe('docs/configuration.md', () => {
  it('documents every key of the schema, as `its.dotted.path`', () => {
    const keys = keyPaths(configSchema);
    expect(keys).toEqual(expect.arrayContaining(['server.port', 'kafka.tls.rejectUnauthorized', 'receivers[].channel']));
    expect(keys.filter((k) => !doc.includes(`\`${k}\``))).toEqual([]);
  });

  it('documents every FALCONER_* variable', () => {
    expect(KNOWN_ENV.filter((name) => !doc.includes(`\`${name}\``))).toEqual([]);
  });
});
