import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { main } from '../../src/cli/main';
import { one, revised } from './fixtures';

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { code: await main(argv), out };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

test('falconer replay --enrich --state includes the vulnerability and policy context from a findings snapshot', async () => {
  const cluster = join(__dirname, '..', 'fixtures', 'cluster', 'snapshot.json');
  const report = revised(one('vulnerabilityreport'), (o) => {
    o.metadata.labels['trivy-operator.resource.name'] = 'web-7c9f8d';
    o.metadata.labels['trivy-operator.container.name'] = 'nginx';
  });
  const audit = revised(one('configauditreport'), (o) => (o.metadata.labels['trivy-operator.resource.name'] = 'web-7c9f8d'));
  const dir = mkdtempSync(join(tmpdir(), 'falconer-replay-findings-'));
  const findings = join(dir, 'findings.yaml');
  writeFileSync(findings, `${stringify(report)}---\n${stringify(audit)}`);
  const shell = join(__dirname, '..', 'detect', 'data', 'falco-terminal-shell.json');
  const { code, out } = await cli('replay', '--enrich', '--state', cluster, '--state', findings, '--cluster', 'prod', shell);
  expect(code).toBe(0);
  const alert = JSON.parse(out.trim().split('\n')[0] as string);
  expect(alert.enrichment.vulnerabilities).toMatchObject({ critical: 1, high: 2, fixable: 2, criticalFixable: 1 });
  expect(alert.enrichment.vulnerabilities.images[0].top[0]).toMatchObject({
    id: 'CVE-2024-2961',
    fixedVersion: '2.36-9+deb12u7',
  });
  expect(alert.enrichment.policy.results.map((r: { check: string }) => r.check)).toEqual(['KSV017', 'KSV012']);
});
