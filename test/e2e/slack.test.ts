import { resolve } from 'node:path';
import type { RunningFalconer } from '../../src/app';
import { FakeSlack } from '../support/slack-server';
import { falcoEvent, sampleText } from '../support/events';
import { eventually, post, startTestFalconer } from '../support/falconer';

/**
 * The whole embedded path: HTTP ingest → memory bus → detect → dedup → the real @slack/web-api
 * client → a local Slack-compatible server that records every call.
 */
describe('end to end: events in, deduplicated Slack alerts out', () => {
  let slack: FakeSlack;
  let f: RunningFalconer;

  beforeEach(async () => {
    slack = new FakeSlack();
    const apiUrl = await slack.start();
    f = await startTestFalconer({
      receivers: [
        { type: 'slack', name: 'sec', token: 'xoxb-test-token', channel: '#security', apiUrl },
        { type: 'slack', name: 'pager', token: 'xoxb-other', channel: '#oncall', apiUrl, minPriority: 'critical' },
      ],
    });
  });
  afterEach(async () => {
    await f.stop();
    await slack.stop();
  });

  it('posts one message per new alert, with the bot token, to each receiver the priority reaches', async () => {
    const a = await post(`${f.url}/v1/events/falco`, sampleText('falco-terminal-shell.json'));
    const b = await post(
      `${f.url}/v1/events/falco`,
      JSON.stringify(falcoEvent({ uuid: 'u-2', rule: 'Drop and execute new binary in container', priority: 'Critical' })),
    );
    expect([a.status, b.status]).toEqual([202, 202]);
    await eventually(() => expect(slack.posts).toHaveLength(3));
    const byChannel = slack.posts.map((p) => [p.args.channel, p.token, (p.args.attachments as any[])[0].blocks[0].text.text]);
    expect(byChannel).toEqual(
      expect.arrayContaining([
        ['#security', 'xoxb-test-token', 'Terminal shell in container'],
        ['#security', 'xoxb-test-token', 'Drop and execute new binary in container'],
        ['#oncall', 'xoxb-other', 'Drop and execute new binary in container'],
      ]),
    );
  });

  it('folds duplicates into the first message and updates its count in place with chat.update', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent({ uuid: `dup-${i}` })));
      expect(r.status).toBe(202);
    }
    await eventually(() => expect(slack.posts).toHaveLength(1));
    await f.stop(); // shutdown flushes the debounced update
    expect(slack.posts).toHaveLength(1);
    expect(slack.updates).toHaveLength(1);
    const update = slack.updates[0]!;
    expect(update.args).toMatchObject({ channel: 'C0FALCONER', ts: '1700000000.000001' });
    expect(JSON.stringify(update.args.attachments)).toContain('*Occurrences*\\n4 (first');

    const res = await fetch(`${f.url}/v1/alerts`, { headers: { authorization: 'Bearer test-token-0123456789abcdef' } }).catch(
      () => undefined,
    );
    expect(res).toBeUndefined(); // stopped: nothing listens any more
  });

  it('ignores an audit batch the apiserver sends again (same auditID and stage)', async () => {
    await post(`${f.url}/v1/events/audit`, sampleText('audit-eventlist.json'));
    await eventually(() => expect(slack.posts.length).toBeGreaterThan(0));
    await eventually(async () => {
      const m = await f.metrics.registry.getSingleMetricAsString('falconer_alerts_total');
      expect(m).toMatch(/rule="Attach\/Exec Pod",priority="notice"} 1/);
    });
    await f.dispatcher.settled();
    const postsAfterFirst = slack.posts.length;
    expect(postsAfterFirst).toBe(f.recent.list().length); // one post per alert to #security
    const again = await post(`${f.url}/v1/events/audit`, sampleText('audit-eventlist.json'));
    expect(again.status).toBe(202);
    expect(again.json).toEqual({
      accepted: 0,
      duplicates: [0, 1, 2].map((index) => ({ index, id: expect.stringMatching(/\/(ResponseComplete|ResponseStarted)$/) })),
      skipped: [],
    });
    await eventually(async () => {
      const m = await f.metrics.registry.getSingleMetricAsString('falconer_events_duplicate_total');
      expect(m).toMatch(/source="k8s_audit"} 3/);
    });
    await f.dispatcher.settled();
    expect(slack.posts.length).toBe(postsAfterFirst);
    expect(f.recent.list().every((a) => a.count === 1)).toBe(true);
  });

  it('ignores a retried event (same uuid) entirely', async () => {
    const body = JSON.stringify(falcoEvent({ uuid: 'same' }));
    expect((await post(`${f.url}/v1/events/falco`, body)).json).toEqual({ accepted: 1, id: 'same' });
    const again = await post(`${f.url}/v1/events/falco`, body);
    expect(again.status).toBe(202);
    expect(again.json).toEqual({ accepted: 0, duplicate: true, id: 'same' });
    await eventually(() => expect(slack.posts).toHaveLength(1));
    await eventually(async () => {
      const m = await f.metrics.registry.getSingleMetricAsString('falconer_events_duplicate_total');
      expect(m).toMatch(/source="falco"} 1/);
    });
    expect(f.recent.list()[0]!.count).toBe(1);
  });

  it('escapes a hostile command line end to end', async () => {
    await post(
      `${f.url}/v1/events/falco`,
      JSON.stringify(
        falcoEvent({
          output_fields: { 'proc.cmdline': '<!channel> <https://evil|click>', 'k8s.ns.name': 'a', 'k8s.pod.name': 'b' },
        }),
      ),
    );
    await eventually(() => expect(slack.posts).toHaveLength(1));
    const raw = JSON.stringify(slack.posts[0]!.args).replace(/\u200b/g, ''); // as a reader sees it
    expect(raw).not.toContain('<!channel>');
    expect(raw).not.toContain('<https://evil|click>');
    expect(raw).toContain('&lt;!channel&gt; &lt;https://evil|click&gt;');
  });

  it('waits out a 429 with Retry-After, then delivers', async () => {
    slack.next({ kind: 'rate_limited', retryAfterSeconds: 1 });
    await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent({ uuid: 'rl' })));
    await eventually(() => expect(slack.posts).toHaveLength(2), 4000); // the 429'd call, then the retry
    expect(f.dispatcher.deadLetters()).toHaveLength(0);
  });

  it('retries a 500, and dead-letters ok:false channel_not_found without retrying', async () => {
    slack.next({ kind: 'http_error', status: 500 });
    await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent({ uuid: 'e500' })));
    await eventually(() => expect(slack.posts).toHaveLength(2), 4000);
    slack.next({ kind: 'platform_error', error: 'channel_not_found' });
    await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent({ uuid: 'nf', rule: 'Other' })));
    await eventually(() => expect(f.dispatcher.deadLetters()).toHaveLength(1));
    expect(f.dispatcher.deadLetters()[0]).toMatchObject({
      receiver: 'sec',
      rule: 'Other',
      attempts: 1,
      error: 'Slack error: channel_not_found',
    });
    expect(slack.posts).toHaveLength(3);
  });

  it('lists alerts with counts and first/last seen on GET /v1/alerts (authenticated)', async () => {
    await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent({ uuid: 'l1' })));
    await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent({ uuid: 'l2' })));
    await post(`${f.url}/v1/events/audit`, sampleText('audit-eventlist.json'));
    await eventually(async () => {
      const res = await fetch(`${f.url}/v1/alerts`, { headers: { authorization: 'Bearer test-token-0123456789abcdef' } });
      const body = (await res.json()) as { alerts: any[] };
      const falco = body.alerts.find((a) => a.source === 'falco');
      expect(falco).toMatchObject({ rule: 'Terminal shell in container', count: 2, evidence: ['l1', 'l2'] });
      expect(typeof falco.firstSeen).toBe('number');
      expect(falco.event.raw).toBeUndefined();
      // The audit batch went through the built-in rule pack.
      expect(body.alerts.find((a) => a.rule === 'Attach/Exec Pod')).toMatchObject({
        source: 'k8s_audit',
        count: 1,
        labels: { user: 'alice@example.com', namespace: 'shop', pod: 'web-7c9f8d-abcde' },
        evidence: ['927fcde7-74e5-4a57-af53-dceacefaf47c/ResponseStarted'],
      });
      expect(body.alerts.map((a) => a.rule)).toEqual(
        expect.arrayContaining(['Attach to cluster-admin Role', 'Create Privileged Pod']),
      );
    });
    expect((await fetch(`${f.url}/v1/alerts`)).status).toBe(401);
  });

  it("enriches the exec alert from a cluster snapshot: the subject's risky findings, the pod's PSS level, its isolation", async () => {
    const ownSlack = new FakeSlack();
    const g = await startTestFalconer({
      cluster: 'prod',
      enrichment: { snapshots: [resolve(__dirname, '..', 'fixtures', 'cluster', 'snapshot.json')], waitForStateMs: 0 },
      receivers: [{ type: 'slack', name: 'sec', token: 'xoxb-test-token', channel: '#security', apiUrl: await ownSlack.start() }],
    });
    try {
      await post(`${g.url}/v1/events/audit`, sampleText('audit-eventlist.json'));
      await post(`${g.url}/v1/events/falco`, sampleText('falco-terminal-shell.json'));
      const message = (rule: string) => ownSlack.posts.find((p) => (p.args.attachments as any[])[0].blocks[0].text.text === rule);
      await eventually(() => expect(message('Attach/Exec Pod') && message('Terminal shell in container')).toBeDefined());
      const exec = JSON.stringify(message('Attach/Exec Pod')!.args.attachments).replace(/\u200b/g, ''); // as a reader sees it
      expect(exec).toContain('*Subject* alice@example.com (user) can');
      expect(exec).toMatch(/high: exec into pods \(in shop\) via RoleBinding \\"shop-debuggers\/shop\\"/);
      expect(exec).toContain('*Pod security* privileged (latest); short of baseline: ');
      expect(exec).toContain('namespace enforces baseline:latest: pod *does not meet it*');
      expect(exec).toContain('*Network* ingress isolated by default-deny-ingress, web-from-lb');
      const shell = JSON.stringify(message('Terminal shell in container')!.args.attachments).replace(/\u200b/g, '');
      expect(shell).toContain(
        "*Subject* system:serviceaccount:shop:default (the pod's service account): no risky permissions found",
      );

      const res = await fetch(`${g.url}/v1/alerts`, { headers: { authorization: 'Bearer test-token-0123456789abcdef' } });
      const alerts = ((await res.json()) as { alerts: any[] }).alerts;
      const execAlert = alerts.find((a) => a.rule === 'Attach/Exec Pod');
      expect(execAlert.enrichment).toMatchObject({
        subject: {
          known: true,
          user: 'alice@example.com',
          origin: 'audit-user',
          findings: expect.arrayContaining([expect.objectContaining({ id: 'pods-exec' })]),
        },
        pod: {
          known: true,
          name: 'web-7c9f8d-abcde',
          pss: { level: 'privileged' },
          namespacePolicy: { enforce: 'baseline:latest', meetsEnforce: false },
        },
        network: { known: true, ingress: { isolated: true, defaultDeny: true }, egress: { isolated: false } },
      });
      // The privileged pod created in the same batch is evaluated from the audit event's own object.
      expect(alerts.find((a) => a.rule === 'Create Privileged Pod').enrichment.pod).toMatchObject({
        known: true,
        origin: 'audit-object',
        privileged: true,
      });
    } finally {
      await g.stop();
      await ownSlack.stop();
    }
  });

  it('exposes metrics, health and readiness', async () => {
    await post(`${f.url}/v1/events/falco`, JSON.stringify(falcoEvent({ uuid: 'm1' })));
    await eventually(() => expect(slack.posts).toHaveLength(1));
    const text = await (await fetch(`${f.url}/metrics`)).text();
    expect(text).toMatch(/falconer_events_received_total\{source="falco",outcome="accepted"} 1/);
    expect(text).toMatch(/falconer_notifications_total\{receiver="sec",outcome="sent"} 1/);
    expect(text).toMatch(/falconer_ingest_to_notify_seconds_count\{receiver="sec"} 1/);
    expect(text).toMatch(/falconer_process_cpu_seconds_total/);
    expect(text).not.toContain('xoxb-');
    expect((await fetch(`${f.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${f.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ok: true, checks: { bus: { ok: true }, store: { ok: true } } });
  });
});
