import type { JsonObject } from '../../src/core/event';
import { debugPatch, runtime, session, type RuntimeSpec, type SessionSpec } from './streams';

/**
 * The scenario corpus: event streams in arrival order, with the attribution each runtime alert must
 * end up with. `user` alone: that user, any confidence but ambiguous; `ambiguous`: exactly these
 * candidates; null: no attribution at all.
 */
export type Expected = { user: string; confidence?: 'exact' | 'high' | 'low' } | { ambiguous: string[] } | null;

export interface Scenario {
  name: string;
  stream: ({ audit: JsonObject } | { falco: JsonObject })[];
  expect: Record<string, Expected>;
  /** For chain scenarios: the chain the incident must match, or null (a near miss). */
  chain?: string | null;
}

const A = 'alice@example.com';
const B = 'bob@example.com';
const C = 'carol@example.com';

const audit = (events: JsonObject[]) => events.map((e) => ({ audit: e }));
const falco = (r: RuntimeSpec) => ({ falco: runtime(r) });
const exec = (s: SessionSpec) => audit(session({ container: 'app', ...s }));

export const SCENARIOS: Scenario[] = [
  // Plain exec, then a shell.
  {
    name: 'exec over WebSockets (get), then a shell a second later',
    stream: [...exec({ id: 'e1', user: A, start: 0, end: 60_000 }), falco({ id: 'r1', at: 1000 })],
    expect: { r1: { user: A, confidence: 'high' } },
  },
  {
    name: 'exec over SPDY (create)',
    stream: [...exec({ id: 'e1', user: A, verb: 'create', start: 0, end: 60_000 }), falco({ id: 'r1', at: 1000 })],
    expect: { r1: { user: A, confidence: 'high' } },
  },
  {
    name: 'one kubectl exec logs both verbs (WebSocket refused, SPDY fallback)',
    stream: [
      ...exec({ id: 'e1', user: A, start: 0, end: 10, code: 400, stages: ['ResponseComplete'] }),
      ...exec({ id: 'e2', user: A, verb: 'create', start: 20, end: 60_000 }),
      falco({ id: 'r1', at: 1000 }),
    ],
    expect: { r1: { user: A, confidence: 'high' } },
  },
  {
    name: 'exec without container= (kubectl picks the default container)',
    stream: [...audit(session({ id: 'e1', user: A, start: 0, end: 60_000 })), falco({ id: 'r1', at: 1000 })],
    expect: { r1: { user: A, confidence: 'low' } },
  },
  {
    name: 'several processes in one session',
    stream: [
      ...exec({ id: 'e1', user: A, start: 0, end: 600_000 }),
      falco({ id: 'r1', at: 1000 }),
      falco({ id: 'r2', at: 30_000, proc: 'cat', pname: 'bash', rule: 'Read sensitive file untrusted', tags: ['T1555'] }),
      falco({ id: 'r3', at: 90_000, proc: 'curl', pname: 'bash', rule: 'Outbound connection' }),
    ],
    expect: { r1: { user: A }, r2: { user: A }, r3: { user: A } },
  },
  {
    name: 'exec with a command (sh -c) that Falco sees',
    stream: [
      ...exec({ id: 'e1', user: A, command: ['sh', '-c', 'cat /etc/shadow'], tty: false, start: 0, end: 2000 }),
      falco({ id: 'r1', at: 500, proc: 'sh', tty: 0, rule: 'Read sensitive file untrusted' }),
    ],
    expect: { r1: { user: A, confidence: 'high' } },
  },
  {
    name: 'impersonated exec is attributed to the impersonated identity',
    stream: [
      ...audit(
        session({ id: 'e1', user: A, container: 'app', start: 0, end: 60_000 }).map((e) => ({
          ...e,
          impersonatedUser: { username: 'deployer@example.com', groups: ['ops'] },
        })),
      ),
      falco({ id: 'r1', at: 1000 }),
    ],
    expect: { r1: { user: 'deployer@example.com' } },
  },
  // Attach.
  {
    name: 'attach to the main container',
    stream: [...exec({ id: 'a1', user: B, subresource: 'attach', start: 0, end: 60_000 }), falco({ id: 'r1', at: 2000 })],
    expect: { r1: { user: B, confidence: 'high' } },
  },
  {
    name: 'attach with only ResponseComplete logged',
    stream: [
      ...exec({ id: 'a1', user: B, subresource: 'attach', start: 0, end: 60_000, stages: ['ResponseComplete'] }),
      falco({ id: 'r1', at: 2000 }),
    ],
    expect: { r1: { user: B, confidence: 'high' } },
  },
  // Debug.
  {
    name: 'kubectl debug: the ephemeral container, then a shell in it',
    stream: [
      { audit: debugPatch({ id: 'd1', user: C, container: 'debugger-x7k2p', at: 0 }) },
      falco({ id: 'r1', at: 3000, container: 'debugger-x7k2p' }),
    ],
    expect: { r1: { user: C, confidence: 'high' } },
  },
  {
    name: 'kubectl debug, then attach to the ephemeral container (same user twice)',
    stream: [
      { audit: debugPatch({ id: 'd1', user: C, container: 'debugger-abc', at: 0 }) },
      ...exec({ id: 'a1', user: C, subresource: 'attach', container: 'debugger-abc', start: 1500, end: 120_000 }),
      falco({ id: 'r1', at: 3000, container: 'debugger-abc' }),
    ],
    expect: { r1: { user: C, confidence: 'high' } },
  },
  {
    name: 'kubectl debug an hour ago still explains activity in its container',
    stream: [
      { audit: debugPatch({ id: 'd1', user: C, container: 'debugger-old', at: 0 }) },
      falco({ id: 'r1', at: 3_600_000, container: 'debugger-old' }),
    ],
    expect: { r1: { user: C } },
  },
  {
    name: 'debug container of another pod does not count',
    stream: [
      { audit: debugPatch({ id: 'd1', user: C, container: 'debugger-x', pod: 'web-2', at: 0 }) },
      falco({ id: 'r1', at: 3000, container: 'debugger-x' }),
    ],
    expect: { r1: null },
  },
  {
    name: 'refused debug patch (403) opens nothing',
    stream: [
      { audit: debugPatch({ id: 'd1', user: C, container: 'debugger-x', at: 0, code: 403 }) },
      falco({ id: 'r1', at: 3000, container: 'debugger-x' }),
    ],
    expect: { r1: null },
  },
  // Out of order.
  {
    name: 'the audit batch arrives 30 s after the Falco event',
    stream: [falco({ id: 'r1', at: 1000 }), ...exec({ id: 'e1', user: A, start: 0, end: 60_000 })],
    expect: { r1: { user: A, confidence: 'high' } },
  },
  {
    name: 'ResponseComplete arrives before ResponseStarted',
    stream: [...exec({ id: 'e1', user: A, start: 0, end: 60_000 }).reverse(), falco({ id: 'r1', at: 1000 })],
    expect: { r1: { user: A } },
  },
  {
    name: 'late audit, and a second user shows up later: ambiguous in the end',
    stream: [
      falco({ id: 'r1', at: 5000 }),
      ...exec({ id: 'e1', user: A, start: 0, end: 60_000 }),
      ...exec({ id: 'e2', user: B, start: 1000, end: 60_000 }),
    ],
    expect: { r1: { ambiguous: [A, B] } },
  },
  {
    name: 'late audit with exact audit ID',
    stream: [
      falco({ id: 'r1', at: 1000, env: 'HOME=/root KUBERNETES_EXEC_AUDIT_ID=e1 TERM=xterm' }),
      ...exec({ id: 'e1', user: A, start: 0, end: 60_000 }),
    ],
    expect: { r1: { user: A, confidence: 'exact' } },
  },
  {
    name: 'node clock 1.5 s behind the apiserver (within the skew allowance)',
    stream: [...exec({ id: 'e1', user: A, start: 1500, end: 60_000 }), falco({ id: 'r1', at: 200 })],
    expect: { r1: { user: A, confidence: 'low' } },
  },
  {
    name: 'runtime event 10 s before the session: outside the skew allowance',
    stream: [...exec({ id: 'e1', user: A, start: 10_000, end: 60_000 }), falco({ id: 'r1', at: 0 })],
    expect: { r1: null },
  },
  // Long sessions.
  {
    name: 'long session still open after 3 hours (no end seen)',
    stream: [...exec({ id: 'e1', user: A, start: 0 }), falco({ id: 'r1', at: 3 * 3_600_000 })],
    expect: { r1: { user: A } },
  },
  {
    name: 'open session past the maximum (5 hours) no longer attributes',
    stream: [...exec({ id: 'e1', user: A, start: 0 }), falco({ id: 'r1', at: 5 * 3_600_000 })],
    expect: { r1: null },
  },
  {
    name: 'long session that ended after two hours',
    stream: [...exec({ id: 'e1', user: A, start: 0, end: 7_200_000 }), falco({ id: 'r1', at: 7_000_000 })],
    expect: { r1: { user: A } },
  },
  // Ended sessions.
  {
    name: 'shell after the session ended',
    stream: [...exec({ id: 'e1', user: A, start: 0, end: 10_000 }), falco({ id: 'r1', at: 60_000 })],
    expect: { r1: null },
  },
  {
    name: 'ended session of alice, open session of bob',
    stream: [
      ...exec({ id: 'e1', user: A, start: 0, end: 10_000 }),
      ...exec({ id: 'e2', user: B, start: 20_000, end: 90_000 }),
      falco({ id: 'r1', at: 60_000 }),
    ],
    expect: { r1: { user: B, confidence: 'high' } },
  },
  {
    name: 'the end arrives late and shows the shell came after it',
    stream: [
      ...audit(session({ id: 'e1', user: A, container: 'app', start: 0, stages: ['ResponseStarted'] })),
      falco({ id: 'r1', at: 60_000 }),
      ...audit(session({ id: 'e1', user: A, container: 'app', start: 0, end: 10_000, stages: ['ResponseComplete'] })),
    ],
    expect: { r1: null },
  },
  // Denied exec and things that are no session.
  {
    name: 'exec forbidden by RBAC (403)',
    stream: [...exec({ id: 'e1', user: A, start: 0, end: 10, code: 403, decision: 'forbid' }), falco({ id: 'r1', at: 1000 })],
    expect: { r1: null },
  },
  {
    name: 'exec refused by admission (400)',
    stream: [...exec({ id: 'e1', user: A, start: 0, end: 10, code: 400 }), falco({ id: 'r1', at: 1000 })],
    expect: { r1: null },
  },
  {
    name: 'port-forward opens no shell',
    stream: [...exec({ id: 'p1', user: A, subresource: 'portforward', start: 0, end: 60_000 }), falco({ id: 'r1', at: 1000 })],
    expect: { r1: null },
  },
  {
    name: 'reading logs opens no shell',
    stream: [...exec({ id: 'l1', user: A, subresource: 'log', code: 200, start: 0, end: 60_000 }), falco({ id: 'r1', at: 1000 })],
    expect: { r1: null },
  },
  {
    name: 'denied exec of bob beside an allowed one of alice',
    stream: [
      ...exec({ id: 'e1', user: A, start: 0, end: 60_000 }),
      ...exec({ id: 'e2', user: B, start: 500, end: 510, code: 403, decision: 'forbid' }),
      falco({ id: 'r1', at: 1000 }),
    ],
    expect: { r1: { user: A, confidence: 'high' } },
  },
  // Another pod, container or cluster.
  {
    name: 'session in another pod',
    stream: [...exec({ id: 'e1', user: A, pod: 'web-2', start: 0, end: 60_000 }), falco({ id: 'r1', at: 1000 })],
    expect: { r1: null },
  },
  {
    name: 'session in another namespace with the same pod name',
    stream: [...exec({ id: 'e1', user: A, ns: 'staging', start: 0, end: 60_000 }), falco({ id: 'r1', at: 1000 })],
    expect: { r1: null },
  },
  {
    name: 'session in another container of the pod',
    stream: [...exec({ id: 'e1', user: A, container: 'sidecar', start: 0, end: 60_000 }), falco({ id: 'r1', at: 1000 })],
    expect: { r1: null },
  },
  {
    name: 'session in another cluster (Falco names its cluster in a custom field)',
    stream: [...exec({ id: 'e1', user: A, start: 0, end: 60_000 }), falco({ id: 'r1', at: 1000, cluster: 'eu-west' })],
    expect: { r1: null },
  },
  {
    name: 'Falco without container.name: pod-level join',
    stream: [...exec({ id: 'e1', user: A, start: 0, end: 60_000 }), falco({ id: 'r1', at: 1000, container: null })],
    expect: { r1: { user: A, confidence: 'low' } },
  },
  {
    name: 'two users in two containers of one pod',
    stream: [
      ...exec({ id: 'e1', user: A, container: 'app', start: 0, end: 60_000 }),
      ...exec({ id: 'e2', user: B, container: 'sidecar', start: 0, end: 60_000 }),
      falco({ id: 'r1', at: 1000, container: 'app' }),
      falco({ id: 'r2', at: 1000, container: 'sidecar' }),
    ],
    expect: { r1: { user: A, confidence: 'high' }, r2: { user: B, confidence: 'high' } },
  },
  {
    name: 'host process on the node: no pod, no attribution',
    stream: [
      ...exec({ id: 'e1', user: A, start: 0, end: 60_000 }),
      {
        falco: {
          ...runtime({ id: 'r1', at: 1000 }),
          output_fields: { 'container.id': 'host', 'proc.name': 'bash', 'proc.cmdline': 'bash r1' },
        },
      },
    ],
    expect: { r1: null },
  },
  // Two users.
  {
    name: 'two users exec into the same container at once',
    stream: [
      ...exec({ id: 'e1', user: A, start: 0, end: 60_000 }),
      ...exec({ id: 'e2', user: B, start: 500, end: 60_000 }),
      falco({ id: 'r1', at: 1000 }),
    ],
    expect: { r1: { ambiguous: [A, B] } },
  },
  {
    name: 'two users, but their commands tell them apart',
    stream: [
      ...exec({ id: 'e1', user: A, command: ['/bin/bash'], start: 0, end: 60_000 }),
      ...exec({ id: 'e2', user: B, command: ['python3'], start: 500, end: 60_000 }),
      falco({ id: 'r1', at: 1000, proc: 'python3', rule: 'Run python in container' }),
    ],
    expect: { r1: { user: B } },
  },
  {
    name: 'two users, one with a terminal, one without: the tty tells them apart',
    stream: [
      ...exec({ id: 'e1', user: A, command: ['sh'], tty: true, start: 0, end: 60_000 }),
      ...exec({ id: 'e2', user: B, command: ['sh'], tty: false, start: 500, end: 60_000 }),
      falco({ id: 'r1', at: 1000, proc: 'sh', tty: 0 }),
    ],
    expect: { r1: { user: B } },
  },
  {
    name: 'the same user in two sessions is not ambiguous',
    stream: [
      ...exec({ id: 'e1', user: A, start: 0, end: 60_000 }),
      ...exec({ id: 'e2', user: A, start: 500, end: 60_000 }),
      falco({ id: 'r1', at: 1000 }),
    ],
    expect: { r1: { user: A } },
  },
  {
    name: 'three users in one container',
    stream: [
      ...exec({ id: 'e1', user: A, start: 0, end: 60_000 }),
      ...exec({ id: 'e2', user: B, start: 100, end: 60_000 }),
      ...exec({ id: 'e3', user: C, start: 200, end: 60_000 }),
      falco({ id: 'r1', at: 1000 }),
    ],
    expect: { r1: { ambiguous: [A, B, C] } },
  },
  {
    name: 'two users one after the other: each shell to its own session',
    stream: [
      ...exec({ id: 'e1', user: A, start: 0, end: 30_000 }),
      ...exec({ id: 'e2', user: B, start: 40_000, end: 90_000 }),
      falco({ id: 'r1', at: 10_000 }),
      falco({ id: 'r2', at: 50_000 }),
    ],
    expect: { r1: { user: A, confidence: 'high' }, r2: { user: B, confidence: 'high' } },
  },
  // The audit-ID join (KEP-6035).
  {
    name: 'audit ID in proc.env decides between two users',
    stream: [
      ...exec({ id: 'e1', user: A, start: 0, end: 60_000 }),
      ...exec({ id: 'e2', user: B, start: 500, end: 60_000 }),
      falco({ id: 'r1', at: 1000, env: 'PATH=/usr/bin KUBERNETES_EXEC_AUDIT_ID=e2' }),
    ],
    expect: { r1: { user: B, confidence: 'exact' } },
  },
  {
    name: 'audit ID of a session not (yet) seen: nothing rather than a guess',
    stream: [
      ...exec({ id: 'e1', user: A, start: 0, end: 60_000 }),
      falco({ id: 'r1', at: 1000, env: 'KUBERNETES_EXEC_AUDIT_ID=zz9' }),
    ],
    expect: { r1: null },
  },
  {
    name: 'audit ID wins over a container mismatch on a pod-level session',
    stream: [
      ...audit(session({ id: 'e1', user: A, start: 0, end: 60_000 })),
      falco({ id: 'r1', at: 1000, env: 'KUBERNETES_EXEC_AUDIT_ID=e1' }),
    ],
    expect: { r1: { user: A, confidence: 'exact' } },
  },
];
