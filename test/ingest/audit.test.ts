import { normaliseAudit, splitAuditPayload } from '../../src/ingest/audit';
import { parseJson } from '../../src/ingest/json';
import { InvalidEventError } from '../../src/core/errors';
import { sampleText } from '../support/events';

const ctx = { cluster: 'prod', receivedAt: 1000, maxFieldLength: 4096 };

describe('audit payloads', () => {
  const list = parseJson(sampleText('audit-eventlist.json'), { maxDepth: 128 });

  it('splits an EventList, a single Event and an array', () => {
    const items = splitAuditPayload(list);
    expect(items).toHaveLength(3);
    expect(splitAuditPayload(items[0]!)).toEqual([items[0]]);
    expect(splitAuditPayload(items)).toBe(items);
    expect(() => splitAuditPayload('x')).toThrow(InvalidEventError);
    expect(() => splitAuditPayload({ kind: 'EventList', items: 3 })).toThrow(/items/);
  });

  it('normalises a kubectl exec over WebSockets (verb get, ResponseStarted), decoding the \\u0026 query', () => {
    const e = normaliseAudit(splitAuditPayload(list)[0]!, ctx);
    expect(e.id).toBe('927fcde7-74e5-4a57-af53-dceacefaf47c/ResponseStarted');
    expect(e.source).toBe('k8s_audit');
    expect(e.audit?.verb).toBe('get');
    expect(e.audit?.exec).toEqual({ command: ['/bin/bash'], container: 'nginx', tty: true });
    expect(e.audit?.responseCode).toBe(101);
    expect(e.k8s).toEqual({ cluster: 'prod', namespace: 'shop', pod: 'web-7c9f8d-abcde', container: 'nginx' });
    expect(e.actor?.user).toBe('alice@example.com');
    expect(e.actor?.groups).toEqual(['devs', 'system:authenticated']);
    expect(e.timeNs).toBe('1762779059431907000');
    expect(e.audit?.annotations['authorization.k8s.io/decision']).toBe('allow');
  });

  it('takes the last source IP, the only one the apiserver vouches for, and the token pod', () => {
    const e = normaliseAudit(
      {
        auditID: 'x',
        stage: 'ResponseComplete',
        verb: 'list',
        requestURI: '/api/v1/secrets',
        user: {
          username: 'system:serviceaccount:ci:builder',
          groups: ['system:serviceaccounts'],
          extra: { 'authentication.kubernetes.io/pod-name': ['runner-1'] },
        },
        sourceIPs: ['1.2.3.4', '10.0.0.7'],
        stageTimestamp: '2025-11-10T12:00:00.000001Z',
      },
      ctx,
    );
    expect(e.actor?.sourceIp).toBe('10.0.0.7');
    expect(e.actor?.tokenPod).toBe('runner-1');
    expect(e.actor?.tokenPodNamespace).toBe('ci');
  });

  it('reads repeated command= parameters as argv (SPDY create verb too)', () => {
    const e = normaliseAudit(
      {
        auditID: 'y',
        stage: 'ResponseStarted',
        verb: 'create',
        requestURI:
          '/api/v1/namespaces/a/pods/p/exec?command=sh&command=-c&command=id%3Bcat%20%2Fetc%2Fshadow&container=c&tty=false',
        user: { username: 'bob' },
        objectRef: { resource: 'pods', subresource: 'exec', namespace: 'a', name: 'p' },
        stageTimestamp: '2025-11-10T12:00:00Z',
      },
      ctx,
    );
    expect(e.audit?.exec).toEqual({ command: ['sh', '-c', 'id;cat /etc/shadow'], container: 'c', tty: false });
  });

  it.each([
    ['no auditID', { auditID: undefined }, /auditID/],
    ['bad stage', { stage: 'Done' }, /stage/],
    ['no user', { user: undefined }, /user.username/],
    ['bad timestamp', { stageTimestamp: 'yesterday', requestReceivedTimestamp: undefined }, /stageTimestamp/],
  ])('rejects an event with %s', (_n, overrides, message) => {
    const base = splitAuditPayload(list)[0] as Record<string, unknown>;
    expect(() => normaliseAudit({ ...base, ...overrides } as never, ctx)).toThrow(message);
  });
});
