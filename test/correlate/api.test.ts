import type { RunningFalconer } from '../../src/app';
import { eventually, post, startTestFalconer, TEST_TOKEN } from '../support/falconer';
import { runtime, session } from './streams';
import { QUIET_RULES } from './harness';

const get = async (url: string, token = TEST_TOKEN) => {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, json: (await res.json()) as any };
};

describe('/v1/alerts attribution and /v1/incidents', () => {
  let falconer: RunningFalconer;
  beforeAll(async () => {
    falconer = await startTestFalconer({ enrichment: { enabled: false }, rules: { dirs: [QUIET_RULES] } });
  });
  afterAll(() => falconer.stop());

  it('serves the attribution of a runtime alert and the incident it belongs to, authenticated', async () => {
    const audit = {
      kind: 'EventList',
      apiVersion: 'audit.k8s.io/v1',
      items: session({ id: 'e1', user: 'alice@example.com', container: 'app', start: 0, end: 60_000 }),
    };
    expect((await post(`${falconer.url}/v1/events/audit?cluster=prod`, JSON.stringify(audit))).status).toBe(202);
    const shell = runtime({ id: 'r1', at: 1000, cluster: 'prod' });
    expect((await post(`${falconer.url}/v1/events/falco`, JSON.stringify(shell))).status).toBe(202);

    let alerts: any[] = [];
    await eventually(async () => {
      alerts = (await get(`${falconer.url}/v1/alerts`)).json.alerts;
      expect(alerts.find((a) => a.rule === 'Terminal shell in container')?.attribution?.user).toBe('alice@example.com');
    });
    const shellAlert = alerts.find((a) => a.rule === 'Terminal shell in container');
    expect(shellAlert.attribution).toMatchObject({
      user: 'alice@example.com',
      groups: ['system:authenticated'],
      sourceIPs: ['203.0.113.7'],
      auditID: 'e1',
      command: '/bin/bash',
      confidence: 'high',
      candidates: [{ user: 'alice@example.com', auditID: 'e1', kind: 'exec' }],
    });
    expect(shellAlert.labels).toMatchObject({ attributed_user: 'alice@example.com', incident: shellAlert.incident.id });
    const execAlert = alerts.find((a) => a.ruleId === 'attach-exec-pod');
    expect(execAlert.attribution).toBeUndefined();
    expect(execAlert.incident.id).toBe(shellAlert.incident.id);

    const list = await get(`${falconer.url}/v1/incidents`);
    expect(list.status).toBe(200);
    expect(list.json.incidents.map((i: any) => i.id)).toEqual([shellAlert.incident.id]);
    const one = await get(`${falconer.url}/v1/incidents/${shellAlert.incident.id}`);
    expect(one.json).toMatchObject({
      id: shellAlert.incident.id,
      alerts: expect.arrayContaining([execAlert.fingerprint, shellAlert.fingerprint]),
      pods: ['prod/shop/web-1'],
      subjects: ['alice@example.com'],
      chain: null,
    });
    expect(one.json.timeline.at(0).source).toBe('k8s_audit');
    expect(one.json.timeline.at(-1).source).toBe('falco');

    expect((await get(`${falconer.url}/v1/incidents`, '')).status).toBe(401);
    expect((await get(`${falconer.url}/v1/incidents/inc-0000000000000000`)).status).toBe(404);
    expect((await get(`${falconer.url}/v1/incidents/..%2Fetc`)).status).toBe(404);
  });
});
