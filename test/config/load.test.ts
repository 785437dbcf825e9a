import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load';
import { ConfigError } from '../../src/core/errors';

function file(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'falconer-config-'));
  const path = join(dir, 'falconer.yaml');
  writeFileSync(path, yaml);
  return path;
}

describe('loadConfig', () => {
  it('defaults to port 2804, embedded, token required', () => {
    const c = loadConfig({ env: {} });
    expect(c.server.port).toBe(2804);
    expect(c.ingest.requireToken).toBe(true);
    expect(c.ingest.token).toBeUndefined();
    expect(c.ingest.falcoBodyLimitBytes).toBe(1024 * 1024);
    expect(c.ingest.auditBodyLimitBytes).toBe(12 * 1024 * 1024);
    expect(c.receivers).toEqual([]);
    expect(Object.isFrozen(c.server)).toBe(true);
    expect(c.pipeline).toMatchObject({ maxEventAttempts: 3, stallSeconds: 60, deadLetters: { maxCount: 1000 } });
  });

  it('reads the file named by FALCONER_CONFIG, and the environment wins over it', () => {
    const path = file(`
server: { port: 9000 }
ingest: { token: from-file-0123456789 }
receivers:
  - { type: slack, name: sec, token: xoxb-file, channel: "#file", minPriority: warning }
`);
    const c = loadConfig({
      env: {
        FALCONER_CONFIG: path,
        FALCONER_PORT: '9100',
        FALCONER_INGEST_TOKEN: 'from-env-0123456789',
        FALCONER_SLACK_CHANNEL: '#env',
        FALCONER_SLACK_API_URL: 'http://127.0.0.1:9/api/',
      },
    });
    expect(c.server.port).toBe(9100);
    expect(c.ingest.token).toBe('from-env-0123456789');
    expect(c.receivers).toEqual([
      {
        type: 'slack',
        name: 'sec',
        token: 'xoxb-file',
        channel: '#env',
        apiUrl: 'http://127.0.0.1:9/api/',
        minPriority: 'warning',
      },
    ]);
  });

  it('builds a Slack receiver from the environment alone (a container without a file)', () => {
    const c = loadConfig({ env: { FALCONER_SLACK_TOKEN: 'xoxb-1', FALCONER_SLACK_CHANNEL: '#sec' } });
    expect(c.receivers).toEqual([
      { type: 'slack', name: 'slack', token: 'xoxb-1', channel: '#sec', apiUrl: 'https://slack.com/api/', minPriority: 'debug' },
    ]);
  });

  it.each([
    ['a wrong type', 'server: { port: "eighty" }', /server\.port/],
    ['an unknown key', 'server: { prot: 80 }', /server: Unrecognized key: "prot"/],
    ['a short token', 'ingest: { token: short }', /ingest\.token: must be at least 16 characters/],
    ['a Slack receiver without channel', 'receivers: [{ type: slack, name: s, token: x }]', /receivers\.0\.channel/],
    ['an unknown priority', 'receivers: [{ type: console, name: c, minPriority: loud }]', /receivers\.0\.minPriority/],
    ['invalid YAML', 'server: [', /not valid YAML/],
    [
      'a parked-event cap above the store',
      'pipeline: { deadLetters: { maxBytes: 1000, maxEventBytes: 2000 } }',
      /pipeline\.deadLetters\.maxEventBytes: maxEventBytes must not exceed maxBytes/,
    ],
    ['no attempt at all', 'pipeline: { maxEventAttempts: 0 }', /pipeline\.maxEventAttempts/],
  ])('stops with a message naming the key for %s', (_n, yaml, message) => {
    expect(() => loadConfig({ file: file(yaml), env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ file: file(yaml), env: {} })).toThrow(message);
  });

  it('keeps embedded state in ./data by default; FALCONER_DATA_DIR moves it, or set empty turns it off', () => {
    expect(loadConfig({ env: {} }).dataDir).toBe('./data');
    expect(loadConfig({ env: { FALCONER_DATA_DIR: '/var/lib/falconer' } }).dataDir).toBe('/var/lib/falconer');
    expect(loadConfig({ env: { FALCONER_DATA_DIR: '' } }).dataDir).toBe('');
    expect(loadConfig({ env: { FALCONER_DATA_DIR: '' }, file: file('dataDir: /srv/falconer\n') }).dataDir).toBe('');
    expect(loadConfig({ env: {}, file: file('dataDir: ""\n') }).dataDir).toBe('');
  });

  it('names a bad environment variable', () => {
    expect(() => loadConfig({ env: { FALCONER_PORT: '80a' } })).toThrow(/FALCONER_PORT must be an integer/);
  });

  it('says when the file cannot be read', () => {
    expect(() => loadConfig({ file: '/nonexistent/falconer.yaml', env: {} })).toThrow(/cannot read config file/);
  });
});
