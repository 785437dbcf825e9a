import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningFalconer } from '../../src/app';
import { main } from '../../src/cli/main';
import { falcoEvent } from '../support/events';
import { eventually, post, startTestFalconer, TEST_TOKEN } from '../support/falconer';

const auth = { authorization: `Bearer ${TEST_TOKEN}` };
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

async function call(url: string, method: string, body?: unknown, headers: Record<string, string> = auth) {
  const res = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as any };
}

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((stdout += String(c)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += String(c)), true));
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('/v1/silences and falconer silence', () => {
  let f: RunningFalconer;
  const file = join(mkdtempSync(join(tmpdir(), 'falconer-silences-')), 'silences.json');
  beforeAll(async () => {
    f = await startTestFalconer({ alerting: { silences: { file } } });
  });
  afterAll(() => f.stop());

  it('creates, lists, reads and expires a silence; writes need the token', async () => {
    const body = {
      matchers: [{ name: 'namespace', value: 'shop', isRegex: false, isEqual: true }],
      endsAt: inAnHour(),
      createdBy: 'alice',
      comment: 'deploy',
    };
    expect((await call(`${f.url}/v1/silences`, 'POST', body, {})).status).toBe(401);
    const created = await call(`${f.url}/v1/silences`, 'POST', body);
    expect(created.status).toBe(200);
    const id = created.json.silenceID as string;
    const listed = await call(`${f.url}/v1/silences`, 'GET');
    expect(listed.json.silences).toEqual([
      expect.objectContaining({ id, createdBy: 'alice', comment: 'deploy', status: { state: 'active' } }),
    ]);
    expect((await call(`${f.url}/v1/silences/${id}`, 'GET')).json.matchers).toEqual(body.matchers);
    expect((await call(`${f.url}/v1/silences/${id}`, 'DELETE')).status).toBe(200);
    expect((await call(`${f.url}/v1/silences/${id}`, 'GET')).json.status.state).toBe('expired');
    expect((await call(`${f.url}/v1/silences/${id}`, 'DELETE')).status).toBe(409);
    expect((await call(`${f.url}/v1/silences/nope`, 'DELETE')).status).toBe(404);
    expect(JSON.parse(readFileSync(file, 'utf8')).map((s: { id: string }) => s.id)).toContain(id); // the embedded mirror
  });

  it('answers bad input with a 4xx that says why', async () => {
    const bad = await call(`${f.url}/v1/silences`, 'POST', { matchers: [], endsAt: inAnHour(), createdBy: 'a', comment: 'c' });
    expect(bad).toEqual({
      status: 400,
      json: { error: 'invalid_silence', message: 'at least one matcher is required' },
    });
    expect((await call(`${f.url}/v1/silences`, 'POST', '{not json')).status).toBe(400);
    expect((await call(`${f.url}/v1/silences`, 'POST', [1, 2])).status).toBe(400);
  });

  it('mutes matching alerts, shows the silence on them, and counts them', async () => {
    const created = await call(`${f.url}/v1/silences`, 'POST', {
      matchers: [{ name: 'rule', value: 'Muted.*', isRegex: true, isEqual: true }],
      endsAt: inAnHour(),
      createdBy: 'bob',
      comment: 'noisy',
    });
    const id = created.json.silenceID as string;
    expect((await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent({ uuid: 'm-1', rule: 'Muted rule' })))).status).toBe(
      202,
    );
    expect((await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent({ uuid: 'm-2', rule: 'Loud rule' })))).status).toBe(
      202,
    );
    await eventually(async () => {
      const { json } = await call(`${f.url}/v1/alerts`, 'GET');
      expect(json.alerts.map((a: any) => [a.rule, a.state, a.silencedBy])).toEqual(
        expect.arrayContaining([
          ['Muted rule', 'suppressed', [id]],
          ['Loud rule', 'active', []],
        ]),
      );
    });
    const metrics = await (await fetch(`${f.url}/metrics`)).text();
    expect(metrics).toContain('falconer_alerts_suppressed_total{reason="silenced"} 1');
  });

  it('falconer silence add / query / expire talk to the API as amtool does', async () => {
    const conn = ['--url', f.url, '--token', TEST_TOKEN];
    const added = await cli(
      'silence',
      'add',
      ...conn,
      'pod=~"web-.*"',
      'namespace=shop',
      '-d',
      '2h',
      '-a',
      'carol',
      '-c',
      'rollout',
    );
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const id = added.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const quiet = await cli('silence', 'query', ...conn, '-q', 'namespace=shop');
    expect(quiet.stdout.split('\n')).toContain(id);
    const table = await cli('silence', 'query', ...conn, 'pod=~"web-.*"');
    expect(table.stdout).toMatch(/^ID\s+Matchers\s+Ends At\s+Created By\s+Comment\n/);
    expect(table.stdout).toContain(`pod=~"web-.*" namespace="shop"`);
    expect(table.stdout).toContain('carol');
    expect((await cli('silence', 'query', ...conn, '-q', 'namespace=web')).stdout).toBe('');
    expect((await cli('silence', 'expire', ...conn, id)).code).toBe(0);
    expect((await cli('silence', 'query', ...conn, '-q', '--expired', 'namespace=shop')).stdout.split('\n')).toContain(id);
    const again = await cli('silence', 'expire', ...conn, id);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('HTTP 409');
    expect((await cli('silence', 'add', ...conn, 'namespace=shop', '-c', 'x', '-d', 'forever')).stderr).toContain(
      'invalid duration',
    );
  });

  it('keeps silences across a restart in embedded mode with the data dir (no file needed)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'falconer-data-'));
    const first = await startTestFalconer({ dataDir });
    let id: string;
    try {
      const created = await call(`${first.url}/v1/silences`, 'POST', {
        matchers: [{ name: 'namespace', value: 'kept', isRegex: false, isEqual: true }],
        endsAt: inAnHour(),
        createdBy: 'erin',
        comment: 'across a restart',
      });
      id = created.json.silenceID as string;
    } finally {
      await first.stop();
    }
    const second = await startTestFalconer({ dataDir });
    try {
      const listed = await call(`${second.url}/v1/silences/${id}`, 'GET');
      expect([listed.status, listed.json.createdBy, listed.json.status.state]).toEqual([200, 'erin', 'active']);
    } finally {
      await second.stop();
    }
  });

  it('keeps silences across a restart in memory-only embedded mode (the file)', async () => {
    const { json } = await call(`${f.url}/v1/silences`, 'GET');
    const ids = json.silences.map((s: { id: string }) => s.id).sort();
    const again = await startTestFalconer({ alerting: { silences: { file } } });
    try {
      const after = await call(`${again.url}/v1/silences`, 'GET');
      expect(after.json.silences.map((s: { id: string }) => s.id).sort()).toEqual(ids);
    } finally {
      await again.stop();
    }
  });
});
