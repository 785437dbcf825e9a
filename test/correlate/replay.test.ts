import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main';
import { CHAIN_SCENARIOS } from './chain-streams';
import { runtime, session } from './streams';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await main(argv), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('falconer replay: attribution and incidents', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'falconer-replay-corr-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('attributes the shell to the exec that a later file holds, and prints the incident, the same way twice', async () => {
    // Falco's file first, the audit log second: event time decides, not the order of the files.
    const falco = join(dir, 'falco.jsonl');
    const audit = join(dir, 'audit.jsonl');
    writeFileSync(
      falco,
      [runtime({ id: 'r1', at: 1000 }), runtime({ id: 'r2', at: 2000, proc: 'cat', pname: 'bash' })]
        .map((e) => JSON.stringify(e))
        .join('\n'),
    );
    writeFileSync(
      audit,
      session({ id: 'e1', user: 'alice@example.com', container: 'app', start: 0, end: 60_000 })
        .map((e) => JSON.stringify(e))
        .join('\n'),
    );
    const first = await cli('replay', '--cluster', 'prod', falco, audit);
    expect(first.code).toBe(0);
    const lines = first.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const alerts = lines.filter((l) => l.kind === 'alert');
    const incidents = lines.filter((l) => l.kind === 'incident');
    expect(alerts.filter((a) => a.source === 'falco').map((a) => [a.attribution?.user, a.attribution?.confidence])).toEqual([
      ['alice@example.com', 'high'],
      ['alice@example.com', 'high'],
    ]);
    expect(incidents).toHaveLength(1);
    const ranks = ['debug', 'informational', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];
    const highest = ranks[Math.max(...alerts.map((a) => ranks.indexOf(a.priority)))];
    expect(incidents[0]).toMatchObject({
      kind: 'incident',
      severity: highest,
      chain: null,
      pods: ['prod/shop/web-1'],
      subjects: ['alice@example.com'],
    });
    expect(new Set(incidents[0].alerts)).toEqual(new Set(alerts.map((a) => a.fingerprint)));
    expect(incidents[0].timeline.map((t: any) => t.source).filter((x: string) => x === 'falco')).toEqual(['falco', 'falco']);
    expect(incidents[0].timeline[0].source).toBe('k8s_audit');
    expect(alerts.every((a) => a.incident === incidents[0].id)).toBe(true);
    const second = await cli('replay', '--cluster', 'prod', falco, audit);
    expect(second.out).toBe(first.out);
  });

  it('prints the chain an incident matched, and none for its near miss', async () => {
    for (const [i, s] of CHAIN_SCENARIOS.slice(0, 2).entries()) {
      const file = join(dir, `chain-${i}.jsonl`);
      writeFileSync(file, s.stream.map((item) => JSON.stringify('audit' in item ? item.audit : item.falco)).join('\n'));
      const { out } = await cli('replay', '--cluster', 'prod', file);
      const incidents = out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((l) => l.kind === 'incident');
      expect(incidents.map((x) => x.chain).filter(Boolean)).toEqual(s.chain ? [s.chain] : []);
    }
  });
});
