import type { CommandRegistrar } from '../main';
import { KubeCredentialsError } from '../../enrich/cluster-state/kube-credentials';
import { Connectivity, connectionsDot, type DirectionPeers, type PodPeers } from '../../posture/network';
import { loadSource, SourceError, type SourceOptions } from './posture-source';
import { withSource } from './posture';

interface NetpolOptions extends SourceOptions {
  namespace: string;
  json?: boolean;
  dot?: boolean;
}

const out = (text: string) => process.stdout.write(text);
const err = (line: string) => process.stderr.write(`${line}\n`);
// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');

export const registerNetpol: CommandRegistrar = (program, exit) => {
  const netpol = program
    .command('netpol')
    .description('NetworkPolicy questions about one pod, answered from a snapshot or manifests');
  withSource(
    netpol
      .command('exposure')
      .description('whether the pod is isolated per direction, by which policies, default deny, any-peer rules')
      .argument('<pod>', 'the pod name (for manifests: WORKLOAD-template)')
      .option('-n, --namespace <namespace>', 'the pod namespace', 'default')
      .option('--json', 'as JSON'),
  ).action(async (pod: string, opts: NetpolOptions) => {
    exit(await run(pod, opts, 'exposure'));
  });
  withSource(
    netpol
      .command('peers')
      .description("who may talk to the pod and whom it may talk to, as netpol-analyzer's `list` (both ends' policies count)")
      .argument('<pod>', 'the pod name (for manifests: WORKLOAD-template)')
      .option('-n, --namespace <namespace>', 'the pod namespace', 'default')
      .option('--json', 'as JSON')
      .option('--dot', "the namespace's allowed-traffic graph in Graphviz DOT (render: dot -Tsvg)"),
  ).action(async (pod: string, opts: NetpolOptions) => {
    exit(await run(pod, opts, 'peers'));
  });
};

async function run(podName: string, opts: NetpolOptions, what: 'exposure' | 'peers'): Promise<number> {
  if (opts.json && opts.dot) return bad('--json and --dot exclude each other');
  let state;
  try {
    state = (await loadSource(opts, err)).state;
  } catch (e) {
    if (e instanceof SourceError || e instanceof KubeCredentialsError) return bad(e.message);
    throw e;
  }
  const net = new Connectivity(state);
  const peers = net.podPeers(opts.namespace, podName);
  if (!peers) return bad(`pod ${opts.namespace}/${podName} is not in the state`);
  if (what === 'peers' && opts.dot) {
    out(connectionsDot(net.connections({ namespace: opts.namespace })));
    return 0;
  }
  if (what === 'exposure') {
    const view = {
      pod: peers.pod,
      workload: peers.workload,
      ingress: exposureOf(peers.ingress),
      egress: exposureOf(peers.egress),
      note: peers.note,
    };
    if (opts.json) out(`${JSON.stringify(view, null, 2)}\n`);
    else {
      const lines = [`${peers.pod} (${peers.workload})`];
      for (const dir of ['ingress', 'egress'] as const) {
        const d = view[dir];
        lines.push(
          `  ${dir}: ${d.isolated ? `isolated by ${d.policies.join(', ')}` : 'not isolated (every peer allowed)'}` +
            `${d.defaultDeny ? '; namespace default-deny' : ''}${d.anyPeerAllowed ? '; a rule allows any peer' : ''}`,
        );
      }
      lines.push(`  (${peers.note})`);
      out(`${lines.map(plain).join('\n')}\n`);
    }
    return 0;
  }
  if (opts.json) out(`${JSON.stringify(peers, null, 2)}\n`);
  else out(peersText(peers));
  return 0;
}

function exposureOf(d: DirectionPeers) {
  return { isolated: d.isolated, policies: d.policies, defaultDeny: d.defaultDeny, anyPeerAllowed: d.anyPeerAllowed };
}

function peersText(p: PodPeers): string {
  const lines = [`${p.pod} (${p.workload})`];
  for (const dir of ['ingress', 'egress'] as const) {
    const d = p[dir];
    lines.push(`${dir}: ${d.isolated ? `isolated by ${d.policies.join(', ')}` : 'not isolated'}`);
    for (const r of d.rules) lines.push(`  rule of ${r.policy}: ${r.peers.join('; ')} on ${r.ports}`);
    if (d.peers.length === 0) lines.push('  no peers allowed');
    for (const peer of d.peers)
      lines.push(
        dir === 'ingress' ? `  ${peer.peer} => ${p.workload} : ${peer.conn}` : `  ${p.workload} => ${peer.peer} : ${peer.conn}`,
      );
  }
  lines.push(`(${p.note})`);
  return `${lines.map(plain).join('\n')}\n`;
}

function bad(message: string): number {
  err(`falconer netpol: ${message}`);
  return 2;
}
