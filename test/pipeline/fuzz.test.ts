import fc from 'fast-check';
import type { RunningFalconer } from '../../src/app';
import type { MemoryBus } from '../../src/bus/memory';
import { capturingLogger } from '../support/capture-log';
import { falcoEvent, sample } from '../support/events';
import { post, startTestFalconer } from '../support/falconer';

jest.setTimeout(120_000);

/** Reproduce a failure with FALCONER_FUZZ_SEED=<seed> (fast-check prints the seed and path). */
const SEED = Number(process.env.FALCONER_FUZZ_SEED ?? 0x8badf00d);
const RUNS = Number(process.env.FALCONER_FUZZ_RUNS ?? 200);

/** Text an attacker would pick: any code point, lone surrogates, mrkdwn, pings, links, bidi overrides, template braces. */
const hostileText = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
      fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
      fc.constantFrom(
        '\n',
        '*',
        '_',
        '~',
        '`',
        '<!channel>',
        '<https://evil.example|runbook>',
        '\u202e',
        '%',
        '{rule}',
        '\u0000',
        '..',
        '/',
      ),
    ),
    { maxLength: 10 },
  )
  .map((parts) => parts.join(''));

const anyJson = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' });
const scalar = fc.oneof(hostileText, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.bigInt().map(String));

const FALCO_FIELDS = [
  'k8s.ns.name',
  'k8s.pod.name',
  'container.id',
  'container.name',
  'proc.cmdline',
  'proc.tty',
  'user.name',
  'evt.time',
];
/** Mostly a value ingest accepts, so most cases reach the pipeline; now and then anything. */
const mostly = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 9, arbitrary: valid }, { weight: 1, arbitrary: fc.oneof(hostileText, anyJson) });
const nonEmpty = hostileText.filter((t) => t.trim() !== '');

const falco = fc.record(
  {
    uuid: hostileText,
    output: hostileText,
    priority: mostly(fc.constantFrom('Emergency', 'Critical', 'Warning', 'Notice', 'Debug', 'informational')),
    rule: mostly(nonEmpty),
    time: mostly(
      fc.oneof(
        fc.constant('2025-11-10T12:51:00.891344775Z'),
        fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString()),
      ),
    ),
    output_fields: mostly(
      fc.dictionary(fc.oneof(fc.constantFrom(...FALCO_FIELDS), hostileText), fc.oneof(scalar, anyJson), { maxKeys: 8 }),
    ),
    source: fc.oneof(fc.constantFrom('syscall', 'k8s_audit'), hostileText),
    tags: fc.oneof(fc.array(hostileText, { maxLength: 4 }), anyJson),
    hostname: hostileText,
  },
  { requiredKeys: ['priority', 'rule', 'time', 'output_fields'] },
);

const RESOURCES = [
  'pods',
  'clusterroles',
  'clusterrolebindings',
  'rolebindings',
  'roles',
  'secrets',
  'namespaces',
  'networkpolicies',
  'serviceaccounts',
];
const kubeObject = fc.record(
  {
    kind: fc.constantFrom(
      'Pod',
      'ClusterRole',
      'ClusterRoleBinding',
      'RoleBinding',
      'Role',
      'Namespace',
      'NetworkPolicy',
      'Secret',
    ),
    apiVersion: fc.constantFrom('v1', 'rbac.authorization.k8s.io/v1', 'networking.k8s.io/v1'),
    metadata: fc.record(
      { name: hostileText, namespace: hostileText, labels: fc.dictionary(hostileText, hostileText, { maxKeys: 3 }) },
      { requiredKeys: [] },
    ),
    spec: anyJson,
    rules: anyJson,
    subjects: anyJson,
    roleRef: anyJson,
    aggregationRule: anyJson,
  },
  { requiredKeys: [] },
);
const audit = fc.record(
  {
    kind: fc.constant('Event'),
    apiVersion: fc.constant('audit.k8s.io/v1'),
    level: fc.constantFrom('Metadata', 'Request', 'RequestResponse'),
    auditID: mostly(nonEmpty),
    stage: mostly(fc.constantFrom('ResponseComplete', 'ResponseStarted', 'RequestReceived', 'Panic')),
    requestURI: mostly(nonEmpty),
    verb: mostly(fc.oneof(fc.constantFrom('create', 'update', 'patch', 'delete', 'get'), nonEmpty)),
    user: fc.oneof(
      fc.record({ username: hostileText, groups: fc.array(hostileText, { maxLength: 3 }), extra: anyJson }, { requiredKeys: [] }),
      anyJson,
    ),
    sourceIPs: fc.array(hostileText, { maxLength: 3 }),
    userAgent: hostileText,
    objectRef: fc.record(
      {
        resource: fc.oneof(fc.constantFrom(...RESOURCES), hostileText),
        namespace: hostileText,
        name: hostileText,
        subresource: fc.constantFrom('exec', 'attach', '', 'status'),
        apiGroup: hostileText,
      },
      { requiredKeys: [] },
    ),
    requestObject: fc.oneof(kubeObject, anyJson),
    responseObject: fc.oneof(kubeObject, anyJson),
    responseStatus: fc.record({ code: fc.oneof(fc.integer({ min: 100, max: 599 }), anyJson) }, { requiredKeys: [] }),
    requestReceivedTimestamp: fc.oneof(fc.constant('2025-11-10T12:50:59.402118Z'), hostileText),
    stageTimestamp: mostly(fc.constant('2025-11-10T12:50:59.431907Z')),
    annotations: fc.dictionary(hostileText, fc.oneof(hostileText, anyJson), { maxKeys: 3 }),
  },
  { requiredKeys: ['kind', 'apiVersion', 'auditID', 'stage', 'requestURI', 'verb', 'user', 'stageTimestamp', 'objectRef'] },
);

/** One request: a route and a body (valid JSON of any shape, or not JSON at all). */
const request = fc.oneof(
  { weight: 4, arbitrary: falco.map((e) => ['falco', JSON.stringify(e)] as const) },
  {
    weight: 3,
    arbitrary: fc
      .array(audit, { minLength: 1, maxLength: 4 })
      .map((items) => ['audit', JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items })] as const),
  },
  { weight: 2, arbitrary: audit.map((e) => ['audit', JSON.stringify(e)] as const) },
  fc.tuple(
    fc.constantFrom('falco', 'audit'),
    anyJson.map((v) => JSON.stringify(v)),
  ),
  fc.tuple(fc.constantFrom('falco', 'audit'), hostileText),
);

describe('arbitrary Unicode and JSON through the whole pipeline (property)', () => {
  let f: RunningFalconer;
  const log = capturingLogger();
  beforeAll(async () => {
    f = await startTestFalconer(
      {
        receivers: [{ type: 'console', name: 'console' }],
        enrichment: { waitForStateMs: 0, snapshots: [] },
      },
      { logger: log.logger },
    );
  });
  afterAll(() => f.stop());

  const settled = async () => {
    await (f.bus as MemoryBus).drain();
    await f.dispatcher.settled();
  };
  let canaries = 0;
  let accepted = 0;
  const canaryAlerts = (pod: string) =>
    log.lines.filter((l) => l.msg.startsWith('ALERT ') && (l.alert as { pod?: string }).pod === pod);

  it('answers every request below 500, never fails a batch, and a canary sent after it still alerts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 4 }), async (requests) => {
        for (const [route, body] of requests) {
          const r = await post(`${f.url}/v1/events/${route}`, body);
          expect(r.status).toBeLessThan(500);
          if (r.status === 202) accepted++;
        }
        const pod = `canary-${canaries++}`;
        const canary = falcoEvent({
          uuid: `${pod}-uuid`,
          output_fields: { ...(falcoEvent().output_fields as object), 'k8s.pod.name': pod },
        });
        expect((await post(`${f.url}/v1/events/falco`, JSON.stringify(canary))).status).toBe(202);
        await settled();
        expect(canaryAlerts(pod)).toHaveLength(1);
        expect(log.messages(/pipeline batch failed/)).toEqual([]);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    // Most cases reached the pipeline (a generator ingest refuses wholesale would test nothing).
    expect(accepted).toBeGreaterThan(RUNS / 2);
    // The samples the team ships still alert after all that.
    expect((await post(`${f.url}/v1/events/falco`, JSON.stringify(sample('falco-terminal-shell.json')))).status).toBe(202);
    await settled();
    expect(log.lines.some((l) => l.msg.startsWith('ALERT ') && (l.alert as { pod?: string }).pod === 'web-7c9f8d-abcde')).toBe(
      true,
    );
    // A parked event is a bug found: name what failed, so the run says where to look.
    const parked = log.messages('event parked in the dead-letter store after repeated failures');
    expect(parked.map((l) => `${String(l.stage)}: ${String(l.err)}`)).toEqual([]);
  });
});
