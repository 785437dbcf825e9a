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
    ['an unknown key', 'server: { prot: 80 }', /server: unknown key "prot"/],
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

describe('loadConfig and the environment', () => {
  it('stops on an unknown FALCONER_* variable, naming it and the nearest valid one', () => {
    const env = { FALCONER_SLACK_TOKEN: 'xoxb-1', FALCONER_SLACK_CHANEL: '#sec' };
    expect(() => loadConfig({ env })).toThrow(ConfigError);
    expect(() => loadConfig({ env })).toThrow(
      /FALCONER_SLACK_CHANEL is not a Falconer setting \(did you mean FALCONER_SLACK_CHANNEL\?\)/,
    );
  });

  it('lists every unknown variable, and suggests nothing when nothing is close', () => {
    let message = '';
    try {
      loadConfig({ env: { FALCONER_PROT: '80', FALCONER_ZZZZZZZZZZZZZZZZZZZZ: 'x' } });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/FALCONER_PROT is not a Falconer setting \(did you mean FALCONER_PORT\?\)/);
    expect(message).toMatch(/FALCONER_ZZZZZZZZZZZZZZZZZZZZ is not a Falconer setting\n/);
  });

  it('lets through the FALCONER_* names that are not settings, and other programs’ variables', () => {
    const env = {
      FALCONER_TEST_KAFKA_BROKERS: '127.0.0.1:9092',
      FALCONER_TEST_ANYTHING: 'x',
      FALCONER_KAFKA_LIBS: '/opt/kafka/libs',
      FALCONER_PSA_FIXTURES: '/fixtures',
      FALCONER_DATA_DIR: '/var/lib/falconer',
      FALCONER_DIST: 'dist',
      FALCO_GRPC: 'x',
      PATH: '/usr/bin',
    };
    expect(loadConfig({ env }).server.port).toBe(2804);
  });

  it('names the variable when a value from the environment is wrong', () => {
    expect(() => loadConfig({ env: { FALCONER_PORT: '70000' } })).toThrow(/FALCONER_PORT: Too big/);
    expect(() => loadConfig({ env: { FALCONER_KAFKA_BROKERS: 'kafka-0' } })).toThrow(/FALCONER_KAFKA_BROKERS: must be host:port/);
    expect(() => loadConfig({ env: { FALCONER_INGEST_TOKEN: 'short' } })).toThrow(
      /FALCONER_INGEST_TOKEN: must be at least 16 characters/,
    );
    expect(() => loadConfig({ env: { FALCONER_INGEST_TOKEN: 'short' } })).not.toThrow(/ingest\.token/);
  });

  it('says which variable is missing when another one of its group is set', () => {
    expect(() => loadConfig({ env: { FALCONER_SLACK_TOKEN: 'xoxb-1' } })).toThrow(
      /FALCONER_SLACK_CHANNEL is required when FALCONER_SLACK_TOKEN is set/,
    );
    expect(() => loadConfig({ env: { FALCONER_SLACK_TOKEN: 'xoxb-1' } })).not.toThrow(/receivers\.0/);
    expect(() => loadConfig({ env: { FALCONER_SLACK_CHANNEL: '#sec' } })).toThrow(
      /FALCONER_SLACK_TOKEN is required when FALCONER_SLACK_CHANNEL is set/,
    );
    expect(() => loadConfig({ env: { FALCONER_KAFKA_BROKERS: 'k:1', FALCONER_KAFKA_SASL_MECHANISM: 'plain' } })).toThrow(
      /FALCONER_KAFKA_SASL_USERNAME is required when FALCONER_KAFKA_SASL_MECHANISM is set/,
    );
  });

  it('keeps naming the file key when the file is what is incomplete', () => {
    const path = file('receivers: [{ type: slack, name: s, token: x }]');
    expect(() => loadConfig({ file: path, env: {} })).toThrow(/receivers\.0\.channel/);
  });

  it('trims whitespace around an ingest token, from the environment and from the file', () => {
    expect(loadConfig({ env: { FALCONER_INGEST_TOKEN: '  0123456789abcdef\n' } }).ingest.token).toBe('0123456789abcdef');
    const path = file('ingest: { token: " 0123456789abcdef " }');
    expect(loadConfig({ file: path, env: {} }).ingest.token).toBe('0123456789abcdef');
  });

  it('refuses a token made only of whitespace instead of generating one', () => {
    expect(() => loadConfig({ env: { FALCONER_INGEST_TOKEN: '   ' } })).toThrow(/FALCONER_INGEST_TOKEN is only whitespace/);
    const path = file('ingest: { token: "    " }');
    expect(() => loadConfig({ file: path, env: {} })).toThrow(/ingest\.token: is only whitespace/);
  });

  it('treats an empty variable as unset (compose files pass FOO= for "not given")', () => {
    expect(loadConfig({ env: { FALCONER_SLACK_TOKEN: '', FALCONER_PORT: '' } }).receivers).toEqual([]);
  });
});

describe('unknown file keys', () => {
  it('suggests the nearest valid key at that place', () => {
    expect(() => loadConfig({ file: file('server: { prot: 80 }'), env: {} })).toThrow(
      /server: unknown key "prot" \(did you mean "port"\?\)/,
    );
    expect(() => loadConfig({ file: file('kafka: { brokers: ["k:1"], falcoGroupID: x }'), env: {} })).toThrow(
      /kafka: unknown key "falcoGroupID" \(did you mean "falcoGroupId"\?\)/,
    );
    expect(() =>
      loadConfig({ file: file('receivers: [{ type: slack, name: s, token: x, channel: c, minPriorty: notice }]'), env: {} }),
    ).toThrow(/receivers\.0: unknown key "minPriorty" \(did you mean "minPriority"\?\)/);
  });
});

describe('named API tokens and the environment', () => {
  it('names FALCONER_AUTH_TOKENS when one of its tokens is wrong', () => {
    expect(() => loadConfig({ env: { FALCONER_AUTH_TOKENS: 'sidekick:ingest:short' } })).toThrow(
      /FALCONER_AUTH_TOKENS: must be at least 16 characters/,
    );
  });

  it('trims whitespace around file tokens and refuses one made only of whitespace', () => {
    const ok = file('auth: { tokens: [{ name: sidekick, scopes: [ingest], token: " 0123456789abcdef\\n" }] }');
    expect(loadConfig({ file: ok, env: {} }).auth.tokens[0]!.token).toBe('0123456789abcdef');
    const blank = file('auth: { tokens: [{ name: sidekick, scopes: [ingest], token: "    " }] }');
    expect(() => loadConfig({ file: blank, env: {} })).toThrow(/auth\.tokens\.0\.token: is only whitespace/);
  });
});
