import { mkdtempSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main';
import { classify, eventsInText, Replay } from '../../src/detect/replay';
import { RuleEngine } from '../../src/detect/engine';
import { auditRule, rules } from './helpers';
import { BASE_AUDIT_EVENT, BASE_FALCO_EVENT } from '../../src/detect/fixtures';

// Copies of the hand-built wire samples (see the brief's samples/README.md).
const SAMPLES = join(__dirname, 'data');

/** Runs the CLI in-process; returns exit code, stdout and stderr. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    const code = await main(argv);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const audit = (auditID: string, extra: Record<string, unknown> = {}) => ({ ...BASE_AUDIT_EVENT, auditID, ...extra });

test('classify tells audit, Falco and other JSON apart', () => {
  expect(classify(audit('a'))).toBe('k8s_audit');
  expect(classify(BASE_FALCO_EVENT)).toBe('falco');
  expect(classify({ kind: 'Status' })).toBeUndefined();
  expect(classify([1])).toBeUndefined();
});

test.each([
  ['EventList', JSON.stringify({ kind: 'EventList', items: [audit('a'), audit('b')] }), 2, 0],
  [
    'JSON lines with a broken line and a blank line',
    `${JSON.stringify(audit('a'))}\n{"nope"\n\n${JSON.stringify(BASE_FALCO_EVENT)}\n`,
    2,
    1,
  ],
  ['single Falco event', JSON.stringify(BASE_FALCO_EVENT), 1, 0],
  ['array of events', JSON.stringify([audit('a'), audit('b'), audit('c')]), 3, 0],
])('eventsInText: %s', (_n, text, good, bad) => {
  const values = [...eventsInText(text)];
  expect(values.filter((v) => v !== undefined)).toHaveLength(good);
  expect(values.filter((v) => v === undefined)).toHaveLength(bad);
});

test('replay deduplicates by fingerprint, counts, keeps evidence ids, skips bad and repeated events', () => {
  const engine = new RuleEngine(rules(['r.yaml', auditRule('gets', 'verb == "get"')]));
  const replay = new Replay(engine, { cluster: 'c', receivedAt: 0, maxFieldLength: 1024 });
  replay.add(audit('a'));
  replay.add(audit('b'));
  replay.add(audit('b')); // apiserver retry: same auditID and stage
  replay.add(audit('c', { objectRef: { resource: 'pods', namespace: 'other', name: 'x' } }));
  replay.add({ auditID: 'broken', stage: 'ResponseComplete' }); // not a valid audit event
  replay.add(undefined);
  const alerts = replay.results();
  expect(alerts.map((a) => [a.rule, a.count, a.evidence])).toEqual([
    ['gets name', 2, ['a/ResponseComplete', 'b/ResponseComplete']],
    ['gets name', 1, ['c/ResponseComplete']],
  ]);
  expect(alerts[0]!.fingerprint).not.toBe(alerts[1]!.fingerprint);
  expect(replay.stats).toEqual({ events: 3, skipped: 2, duplicates: 1, detections: 3 });
});

test('falconer replay on the samples prints one JSON alert per line, Falco and audit alike', async () => {
  const { code, out, err } = await cli(
    'replay',
    join(SAMPLES, 'audit-eventlist.json'),
    join(SAMPLES, 'falco-terminal-shell.json'),
    join(SAMPLES, 'falco-raw-http-output.json'),
  );
  expect(code).toBe(0);
  const alerts = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const byRule = Object.fromEntries(alerts.map((a) => [a.rule, a]));
  for (const rule of [
    'Attach/Exec Pod',
    'Attach to cluster-admin Role',
    'Create Privileged Pod',
    'Pod Violates PodSecurity Level',
    'Terminal shell in container',
  ]) {
    expect(byRule[rule]).toEqual(
      expect.objectContaining({
        priority: expect.any(String),
        source: expect.any(String),
        fingerprint: expect.any(String),
        count: 1,
        evidence: [expect.any(String)],
      }),
    );
  }
  expect(byRule['Attach/Exec Pod']).toMatchObject({
    source: 'k8s_audit',
    evidence: ['927fcde7-74e5-4a57-af53-dceacefaf47c/ResponseStarted'],
  });
  expect(err).toMatch(/replayed 5 events \(0 skipped, 0 duplicates\)/);
});

test('falconer replay --enrich --state adds who did it and how exposed the pod is; without --enrich nothing', async () => {
  const snapshot = join(__dirname, '..', 'fixtures', 'cluster', 'snapshot.json');
  const files = [join(SAMPLES, 'audit-eventlist.json'), join(SAMPLES, 'falco-terminal-shell.json')];
  const enriched = await cli('replay', '--enrich', '--state', snapshot, '--cluster', 'prod', ...files);
  expect(enriched.code).toBe(0);
  const byRule = Object.fromEntries(
    enriched.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .map((a) => [a.rule, a]),
  );
  expect(byRule['Attach/Exec Pod'].enrichment.subject).toMatchObject({ known: true, user: 'alice@example.com' });
  expect(byRule['Attach/Exec Pod'].enrichment.subject.bindingCount).toBeGreaterThan(0);
  expect(byRule['Create Privileged Pod'].enrichment.pod).toMatchObject({ known: true, origin: 'audit-object', privileged: true });
  expect(byRule['Terminal shell in container'].enrichment).toHaveProperty('pod');

  const plain = await cli('replay', ...files);
  expect(
    plain.out
      .trim()
      .split('\n')
      .every((l) => !('enrichment' in JSON.parse(l))),
  ).toBe(true);
  expect((await cli('replay', '--enrich', '--state', '/nonexistent.json', ...files)).code).toBe(2);
});

describe('falconer rules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'falconer-rules-'));
  mkdirSync(join(dir, 'fixtures'));
  writeFileSync(
    join(dir, 'mine.yaml'),
    `- list: allowed_impersonators
  items: [auth-proxy]
  override: {items: append}
- rule: port-forward
  enabled: false
${auditRule('shop-deletes', 'ns == "shop"', '  match: {verbs: [delete]}')}`,
  );
  const fixtures = (missEvent: string) =>
    `- rule: shop-deletes
  fire:
    - name: delete in shop
      event: {verb: delete, objectRef: {resource: pods, namespace: shop, name: x}}
  miss:
    - name: near miss
      event: ${missEvent}
`;

  test('lint accepts a user folder on top of the built-in pack', async () => {
    const { code, out } = await cli('rules', 'lint', dir);
    expect(code).toBe(0);
    expect(out).toMatch(/^ok: \d+ rules/);
  });

  test('test passes when fixtures agree and fails (exit 1) on a mismatch', async () => {
    writeFileSync(
      join(dir, 'fixtures', 'mine.yaml'),
      fixtures('{verb: delete, objectRef: {resource: pods, namespace: dev, name: x}}'),
    );
    const ok = await cli('rules', 'test', dir);
    expect(ok.out).toMatch(/ 0 failed/);
    expect(ok.code).toBe(0);
    writeFileSync(
      join(dir, 'fixtures', 'mine.yaml'),
      fixtures('{verb: delete, objectRef: {resource: pods, namespace: shop, name: y}}'),
    );
    const bad = await cli('rules', 'test', dir);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/FAIL shop-deletes miss: near miss \(.*mine\.yaml\) — fired/);
  });

  test('test fails a user rule without fixtures', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'falconer-rules-'));
    writeFileSync(join(d2, 'r.yaml'), auditRule('lonely', 'true'));
    const { code, out } = await cli('rules', 'test', '--no-builtin', d2);
    expect(code).toBe(1);
    expect(out).toMatch(/FAIL lonely coverage: .* missing a firing fixture/);
  });

  test('lint reports problems with file and line, exit 1', async () => {
    const d3 = mkdtempSync(join(tmpdir(), 'falconer-rules-'));
    writeFileSync(join(d3, 'bad.yaml'), auditRule('bad', 'verb ==='));
    const { code, err } = await cli('rules', 'lint', d3);
    expect(code).toBe(1);
    expect(err).toMatch(/bad\.yaml:2: rule "bad": condition: /);
  });

  test('replay exits 2 on broken rules and 1 on a missing file', async () => {
    const d4 = mkdtempSync(join(tmpdir(), 'falconer-rules-'));
    writeFileSync(join(d4, 'bad.yaml'), '- rule: x\n  nonsense: 1');
    expect((await cli('replay', '-r', d4, join(SAMPLES, 'audit-eventlist.json'))).code).toBe(2);
    expect((await cli('replay', '/nonexistent/file.json')).code).toBe(1);
    expect(readFileSync(join(SAMPLES, 'audit-eventlist.json'), 'utf8').length).toBeGreaterThan(0);
  });
});
