import { renderSlackMessage } from '../../src/notify/slack-message';
import { escapeMrkdwn } from '../../src/notify/mrkdwn';
import { alertOf, falcoSecurityEvent } from '../support/alerts';
import type { Enrichment, PodFacts, SubjectFacts } from '../../src/core/alert';

/** Every mrkdwn text in the message (plain_text is not parsed by Slack), as a reader sees it (zero-width spaces dropped). */
function mrkdwnTexts(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => mrkdwnTexts(n, out));
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.type === 'mrkdwn' && typeof o.text === 'string') out.push(o.text.replace(/\u200b/g, ''));
    Object.values(o).forEach((v) => mrkdwnTexts(v, out));
  }
  return out;
}

describe('Slack message', () => {
  const hostile = '<!channel> <https://evil.example|click> & <@U123>';
  const event = falcoSecurityEvent({
    output_fields: { 'proc.cmdline': hostile, 'k8s.ns.name': 'shop', 'k8s.pod.name': '<!here>', 'container.name': 'c' },
  });
  const message = renderSlackMessage(alertOf(event, { count: 3, firstSeen: 0, lastSeen: 60_000 }));

  it('escapes every event-derived string in mrkdwn: no ping, no spoofed link', () => {
    const texts = mrkdwnTexts(message.attachments).join('\n') + message.text;
    expect(texts).not.toMatch(/<!channel>|<!here>|<https?:|<@U/);
    expect(texts).toContain('&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; &lt;@U123&gt;');
    expect(texts).toContain('&lt;!here&gt;');
  });

  it('shows rule, priority colour, where, the command, the count, and a runbook button', () => {
    const [attachment] = message.attachments;
    expect(attachment!.color).toBe('#2979ff');
    const blocks = attachment!.blocks as Record<string, any>[];
    expect(blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'Terminal shell in container', emoji: false },
    });
    const fields = blocks.find((b) => b.fields)!.fields.map((f: { text: string }) => f.text);
    expect(fields).toEqual(
      expect.arrayContaining([
        '*Priority*\nNotice',
        '*Namespace*\nshop',
        '*Container*\nc',
        '*Host*\nnode-a',
        expect.stringMatching(/^\*Occurrences\*\n3 \(first 1970/),
      ]),
    );
    const actions = blocks.find((b) => b.type === 'actions')!;
    expect(actions.elements[0]).toMatchObject({
      type: 'button',
      url: 'https://runbooks.example.com/terminal-shell-in-container',
    });
    expect(mrkdwnTexts(blocks).some((t) => t.startsWith('*Command*\n`'))).toBe(true);
  });

  it('keeps within Slack limits for huge values', () => {
    const big = falcoSecurityEvent({
      rule: 'R'.repeat(400),
      output: 'o'.repeat(10_000),
      output_fields: { 'proc.cmdline': 'c'.repeat(10_000) },
    });
    const m = renderSlackMessage(alertOf(big));
    const blocks = m.attachments[0]!.blocks as Record<string, any>[];
    expect(blocks[0]!.text.text.length).toBeLessThanOrEqual(150);
    for (const t of mrkdwnTexts(blocks)) expect(t.length).toBeLessThanOrEqual(3000);
    expect(blocks[1]!.text.text.length).toBeLessThanOrEqual(3000);
  });

  it('escapes exactly the three control characters', () => {
    expect(escapeMrkdwn('a&b<c>d *e* _f_')).toBe('a&amp;b&lt;c&gt;d *e* _f_');
  });
});

describe('Slack message: enrichment section', () => {
  const event = falcoSecurityEvent();
  const finding = (i: number, over: Partial<SubjectFacts['findings'][number]> = {}) => ({
    id: `f${i}`,
    severity: 'high' as const,
    title: `finding number ${i}`,
    scope: 'shop',
    grantedBy: `RoleBinding "b${i}/shop" of ClusterRole "r${i}" to Group "devs"`,
    ...over,
  });
  const subject: SubjectFacts & { known: true } = {
    known: true,
    user: 'alice@example.com',
    kind: 'user',
    groups: ['devs', 'system:authenticated'],
    origin: 'audit-user',
    bindings: [],
    bindingCount: 4,
    findings: [finding(1, { severity: 'critical', scope: 'cluster' }), finding(2), finding(3), finding(4)],
    findingCount: 5,
  };
  const pod: PodFacts & { known: true } = {
    known: true,
    namespace: 'shop',
    name: 'web',
    origin: 'state',
    privileged: true,
    privilegedContainers: ['nginx'],
    hostNetwork: true,
    hostPID: false,
    hostIPC: false,
    capabilitiesAdded: ['SYS_ADMIN'],
    runAsRoot: 'yes',
    hostPathVolumes: ['/var/log'],
    pss: {
      level: 'privileged',
      version: 'latest',
      violations: [
        { check: 'hostNamespaces', reason: 'host namespaces', detail: 'hostNetwork=true' },
        { check: 'privileged', reason: 'privileged', detail: '' },
        { check: 'capabilities_baseline', reason: 'non-default capabilities', detail: '' },
        { check: 'hostPathVolumes', reason: 'hostPath volumes', detail: '' },
      ],
    },
    namespacePolicy: {
      known: true,
      enforce: 'baseline:latest',
      audit: 'restricted:latest',
      warn: 'restricted:latest',
      meetsEnforce: false,
      errors: [],
    },
  };
  const isolated = {
    isolated: true,
    policies: ['default-deny-ingress', 'web-from-lb'],
    defaultDeny: true,
    anyPeerAllowed: false,
  };
  const open = { isolated: false, policies: [], defaultDeny: false, anyPeerAllowed: false };
  const render = (enrichment: Enrichment) =>
    mrkdwnTexts(renderSlackMessage(alertOf(event, { enrichment })).attachments).join('\n');

  it('shows the subject with its top 3 risky findings, the PSS level, worst violations, posture and isolation', () => {
    const text = render({ subject, pod, network: { known: true, namespace: 'shop', ingress: isolated, egress: open } });
    expect(text).toContain('*Subject* alice@example.com (user) can (top 3 of 5):');
    expect(text).toContain('• critical: finding number 1 (cluster-wide) via RoleBinding "b1/shop"');
    expect(text).toContain('• high: finding number 3 (in shop)');
    expect(text).not.toContain('finding number 4');
    expect(text).toContain(
      '*Pod security* privileged (latest); short of baseline: host namespaces, privileged, non-default capabilities, +1 more',
    );
    expect(text).toContain('namespace enforces baseline:latest: pod *does not meet it*');
    expect(text).toContain('*Pod* privileged (nginx) · hostNetwork · adds SYS_ADMIN · runs as root · hostPath /var/log');
    expect(text).toContain('*Network* ingress isolated by default-deny-ingress, web-from-lb · no NetworkPolicy isolates egress');
  });

  it.each<[string, Enrichment, string[]]>([
    [
      'state unknown',
      {
        subject: { known: false, reason: 'no cluster state for cluster "prod"', user: 'alice' },
        pod: { known: false, reason: 'pod shop/web not in cluster state', namespace: 'shop', name: 'web' },
        network: { known: false, reason: 'pod labels unknown' },
      },
      [
        '*Subject* alice: state unknown (no cluster state for cluster "prod")',
        '*Pod* shop/web: state unknown (pod shop/web not in cluster state)',
        '*Network* state unknown (pod labels unknown)',
      ],
    ],
    [
      'a service account without findings, a restricted pod and no policy at all',
      {
        subject: {
          ...subject,
          user: 'system:serviceaccount:shop:default',
          kind: 'serviceaccount',
          origin: 'pod-service-account',
          findings: [],
          findingCount: 0,
        },
        pod: {
          ...pod,
          privileged: false,
          privilegedContainers: [],
          hostNetwork: false,
          capabilitiesAdded: [],
          runAsRoot: 'no',
          hostPathVolumes: [],
          pss: { level: 'restricted', version: 'latest', violations: [] },
          namespacePolicy: { known: false, reason: 'namespace shop not in cluster state' },
        },
        network: { known: true, namespace: 'shop', ingress: open, egress: open },
      },
      [
        "*Subject* system:serviceaccount:shop:default (the pod's service account): no risky permissions found",
        '*Pod security* restricted (latest) · namespace policy unknown',
        '*Network* no NetworkPolicy isolates this pod (ingress or egress)',
      ],
    ],
    [
      'impersonation',
      { subject: { ...subject, user: 'bob', impersonatedBy: 'alice', findingCount: 1, findings: [finding(1)] } },
      ['*Subject* bob (user, impersonated by alice) can:'],
    ],
  ])('renders %s', (_name, enrichment, expected) => {
    const text = render(enrichment);
    for (const line of expected) expect(text).toContain(line);
  });

  it('adds no section when there is no enrichment', () => {
    const blocks = renderSlackMessage(alertOf(event)).attachments[0]!.blocks as Record<string, any>[];
    expect(mrkdwnTexts(blocks).some((t) => /\*(Subject|Pod security|Network)\*/.test(t))).toBe(false);
  });

  it('escapes every state-derived value and stays within Slack limits', () => {
    const hostile = '<!channel> <https://evil|x> &';
    const text = render({
      subject: {
        ...subject,
        user: hostile,
        findings: [finding(1, { title: hostile, scope: hostile, grantedBy: hostile + 'g'.repeat(5000) })],
        findingCount: 1,
      },
      pod: { ...pod, privilegedContainers: [hostile], capabilitiesAdded: [hostile], hostPathVolumes: Array(200).fill(hostile) },
      network: { known: true, namespace: 'shop', ingress: { ...isolated, policies: Array(50).fill(hostile) }, egress: open },
    });
    expect(text).not.toMatch(/<!channel>|<https?:/);
    expect(text).toContain('&lt;!channel&gt; &lt;https://evil|x&gt; &amp;');
    const blocks = renderSlackMessage(
      alertOf(event, {
        enrichment: { subject: { ...subject, findings: Array(20).fill(finding(1, { grantedBy: 'x'.repeat(2000) })) } },
      }),
    ).attachments[0]!.blocks as Record<string, any>[];
    for (const t of mrkdwnTexts(blocks)) expect(t.length).toBeLessThanOrEqual(3000);
    expect(blocks.length).toBeLessThanOrEqual(50);
  });
});
