import { selectorMatches, selectsEverything } from '../enrich/cluster-state/label-selector';
import { slimSelector } from '../enrich/cluster-state/slim';
import type { ClusterState } from '../enrich/cluster-state/state';
import type { LabelSelector, NetworkPolicy, Pod } from '../enrich/cluster-state/types';
import { effectivePolicyTypes, networkExposure, type DirectionExposure, type PolicyType } from '../enrich/network';
import { ConnectionSet, PROTOCOLS, type Protocol } from './connections';
import { cmp, MAX_LISTED_PODS, refString, sortFindings, workloadOf, type Finding, type ObjectRef } from './finding';

export interface NamespaceNetwork {
  namespace: string;
  policies: number;
  defaultDenyIngress: boolean;
  defaultDenyEgress: boolean;
  pods: number;
  /** Pods no policy isolates in either direction: every peer may reach them and they may reach every peer. */
  unisolatedPods: number;
}

export interface NetworkReport {
  namespaces: NamespaceNetwork[];
  findings: Finding[];
  counts: { namespaces: number; pods: number; policies: number };
  note: string;
}

const NOTE = 'Kubernetes NetworkPolicy only; Cilium, Calico or AdminNetworkPolicy rules may restrict further';

/** Default-deny coverage per namespace and the pods isolated in neither direction. */
export function networkReport(state: ClusterState): NetworkReport {
  const podsByNs = new Map<string, Pod[]>();
  for (const obj of state.all('Pod')) {
    const pod = obj as Pod;
    const ns = pod.metadata.namespace as string;
    const list = podsByNs.get(ns);
    if (list) list.push(pod);
    else podsByNs.set(ns, [pod]);
  }
  const names = new Set<string>(podsByNs.keys());
  for (const ns of state.all('Namespace')) names.add(ns.metadata.name);
  const namespaces: NamespaceNetwork[] = [];
  const findings: Finding[] = [];
  let podTotal = 0;
  let policyTotal = 0;
  for (const name of [...names].sort(cmp)) {
    const pods = podsByNs.get(name) ?? [];
    podTotal += pods.length;
    const policies = [...state.networkPolicies(name)];
    policyTotal += policies.length;
    const nsExposure = networkExposure(state, name, undefined);
    const open = new Map<string, { workload: ObjectRef; pods: number }>();
    let unisolated = 0;
    for (const pod of pods) {
      const e = networkExposure(state, name, pod.metadata.labels);
      if (e.ingress.isolated || e.egress.isolated) continue;
      unisolated++;
      const w = workloadOf(pod);
      const k = refString(w);
      const entry = open.get(k);
      if (entry) entry.pods++;
      else open.set(k, { workload: w, pods: 1 });
    }
    namespaces.push({
      namespace: name,
      policies: policies.length,
      defaultDenyIngress: nsExposure.ingress.defaultDeny,
      defaultDenyEgress: nsExposure.egress.defaultDeny,
      pods: pods.length,
      unisolatedPods: unisolated,
    });
    const nsRef = { kind: 'Namespace', name };
    if (!nsExposure.ingress.defaultDeny) {
      findings.push({
        id: 'network.no-default-deny-ingress',
        area: 'network',
        severity: 'medium',
        key: `network.no-default-deny-ingress/${name}`,
        object: nsRef,
        title: `namespace ${name} has no default-deny ingress NetworkPolicy: a pod no policy selects accepts traffic from anywhere`,
        fix: `add a NetworkPolicy in ${name} with podSelector: {} and policyTypes: [Ingress] and no ingress rules, then allow what is needed`,
      });
    }
    if (!nsExposure.egress.defaultDeny) {
      findings.push({
        id: 'network.no-default-deny-egress',
        area: 'network',
        severity: 'low',
        key: `network.no-default-deny-egress/${name}`,
        object: nsRef,
        title: `namespace ${name} has no default-deny egress NetworkPolicy: a pod no policy selects may connect anywhere`,
        fix: `add a NetworkPolicy in ${name} with podSelector: {} and policyTypes: [Egress] and no egress rules (allow DNS explicitly)`,
      });
    }
    for (const { workload, pods: count } of [...open.values()].sort((a, b) =>
      cmp(refString(a.workload), refString(b.workload)),
    )) {
      findings.push({
        id: 'network.pod-not-isolated',
        area: 'network',
        severity: 'medium',
        key: `network.pod-not-isolated/${name}/${workload.kind}/${workload.name}`,
        object: workload,
        title: `${refString(workload)}: ${count} pod${count === 1 ? '' : 's'} isolated in neither direction (any peer in, any peer out)`,
        fix: `select these pods with a NetworkPolicy (or add a default-deny to ${name}) and allow only the peers they need`,
        workloads: [`${workload.kind}/${workload.name}`].slice(0, MAX_LISTED_PODS),
        podCount: count,
      });
    }
  }
  return {
    namespaces,
    findings: sortFindings(findings),
    counts: { namespaces: namespaces.length, pods: podTotal, policies: policyTotal },
    note: NOTE,
  };
}

// ---- who may talk to whom -------------------------------------------------------------------------

/** The whole IPv4 space, as netpol-analyzer names "any external address". */
export const ANY_IP = '0.0.0.0-255.255.255.255';
const IPV4_MAX = 2 ** 32 - 1;

/** One connectivity line, `src => dst : conn`, as netpol-analyzer's `list` prints it. */
export interface Connection {
  src: string;
  dst: string;
  conn: string;
}

interface Peer {
  /** `ns/name[Kind]`, as netpol-analyzer names workloads. */
  id: string;
  workload: ObjectRef;
  namespace: string;
  labels: Record<string, string>;
}

type PeerSpec =
  | { kind: 'pods'; podSelector?: LabelSelector; namespaceSelector?: LabelSelector }
  | { kind: 'ipBlock'; cidr: string; except: string[]; ranges: [number, number][] }
  | { kind: 'invalid' };

interface Rule {
  policy: string;
  /** Absent: every peer. */
  peers?: PeerSpec[];
  conn: ConnectionSet;
}

export interface RuleView {
  policy: string;
  /** `any peer`, or each peer as a phrase: `pods app=web in namespace shop`, `10.0.0.0/8 except 10.1.0.0/16`. */
  peers: string[];
  ports: string;
}

export interface DirectionPeers extends DirectionExposure {
  /** The rules of the selecting policies (empty when not isolated: then every peer is allowed). */
  rules: RuleView[];
  /** Peers allowed with the connections allowed, the other side's policies included. */
  peers: { peer: string; conn: string }[];
}

export interface PodPeers {
  pod: string;
  namespace: string;
  workload: string;
  ingress: DirectionPeers;
  egress: DirectionPeers;
  note: string;
}

/**
 * NetworkPolicy connectivity over the workloads in a cluster state, with netpol-analyzer's semantics:
 * a connection from A to B is allowed when A's egress and B's ingress both allow it; a direction no
 * policy isolates allows everything; ipBlocks match addresses outside the cluster (not pods).
 */
export class Connectivity {
  private readonly peers: Peer[] = [];
  private readonly peerById = new Map<string, Peer>();
  private readonly nsLabels = new Map<string, Record<string, string>>();
  private readonly rulesCache = new Map<string, { isolated: boolean; rules: Rule[] }>();

  constructor(private readonly state: ClusterState) {
    for (const ns of state.all('Namespace')) {
      this.nsLabels.set(ns.metadata.name, namespaceLabels(ns.metadata.name, ns.metadata.labels));
    }
    for (const obj of state.all('Pod')) {
      const pod = obj as Pod;
      const workload = workloadOf(pod);
      const id = peerId(workload);
      if (this.peerById.has(id)) continue;
      const namespace = pod.metadata.namespace as string;
      if (!this.nsLabels.has(namespace)) this.nsLabels.set(namespace, namespaceLabels(namespace, undefined));
      const peer = { id, workload, namespace, labels: pod.metadata.labels ?? {} };
      this.peers.push(peer);
      this.peerById.set(id, peer);
    }
    this.peers.sort((a, b) => cmp(a.id, b.id));
  }

  workloadOfPod(namespace: string, name: string): string | undefined {
    const pod = this.state.pod(namespace, name);
    return pod ? peerId(workloadOf(pod)) : undefined;
  }

  /** Every allowed connection with at least one end in `namespace` (or, with `peerIdFilter`, at that workload). */
  connections(filter: { namespace?: string; peer?: string }): Connection[] {
    const inScope = (p: Peer) =>
      filter.peer ? p.id === filter.peer : filter.namespace ? p.namespace === filter.namespace : true;
    const out: Connection[] = [];
    for (const dst of this.peers) {
      for (const src of this.peers) {
        if (src === dst || (!inScope(src) && !inScope(dst))) continue;
        const conn = this.egress(src).allowTo(dst, this).intersect(this.ingress(dst).allowFrom(src, this));
        if (!conn.isEmpty()) out.push({ src: src.id, dst: dst.id, conn: conn.toString() });
      }
    }
    for (const peer of this.peers) {
      if (!inScope(peer)) continue;
      for (const seg of this.externalSegments(this.ingress(peer))) out.push({ src: seg.range, dst: peer.id, conn: seg.conn });
      for (const seg of this.externalSegments(this.egress(peer))) out.push({ src: peer.id, dst: seg.range, conn: seg.conn });
    }
    return out.sort((a, b) => cmp(a.src, b.src) || cmp(a.dst, b.dst));
  }

  /** Who may talk to one pod, and whom it may talk to. */
  podPeers(namespace: string, name: string): PodPeers | undefined {
    const pod = this.state.pod(namespace, name);
    if (!pod) return undefined;
    const id = peerId(workloadOf(pod));
    const self = this.peerById.get(id) as Peer;
    const exposure = networkExposure(this.state, namespace, pod.metadata.labels);
    const lines = this.connections({ peer: id });
    return {
      pod: `${namespace}/${name}`,
      namespace,
      workload: id,
      ingress: {
        ...exposure.ingress,
        rules: this.ingress(self).rules.map((r) => ruleView(r, namespace)),
        peers: lines.filter((l) => l.dst === id).map((l) => ({ peer: l.src, conn: l.conn })),
      },
      egress: {
        ...exposure.egress,
        rules: this.egress(self).rules.map((r) => ruleView(r, namespace)),
        peers: lines.filter((l) => l.src === id).map((l) => ({ peer: l.dst, conn: l.conn })),
      },
      note: NOTE,
    };
  }

  private ingress(peer: Peer): DirectionRules {
    return this.direction(peer, 'Ingress');
  }

  private egress(peer: Peer): DirectionRules {
    return this.direction(peer, 'Egress');
  }

  private direction(peer: Peer, type: PolicyType): DirectionRules {
    const key = `${type}\u0000${peer.id}`;
    let cached = this.rulesCache.get(key);
    if (!cached) {
      const rules: Rule[] = [];
      let isolated = false;
      const policies = [...this.state.networkPolicies(peer.namespace)].sort((a, b) => cmp(a.metadata.name, b.metadata.name));
      for (const policy of policies) {
        if (!effectivePolicyTypes(policy).includes(type) || !selectorMatches(policy.spec.podSelector, peer.labels)) continue;
        isolated = true;
        rules.push(...policyRules(policy, type));
      }
      this.rulesCache.set(key, (cached = { isolated, rules }));
    }
    return new DirectionRules(peer.namespace, cached.isolated, cached.rules);
  }

  /** @internal Labels of a namespace, with the name label the apiserver sets on every namespace. */
  namespaceLabelsOf(namespace: string): Record<string, string> {
    return this.nsLabels.get(namespace) ?? namespaceLabels(namespace, undefined);
  }

  /** The IPv4 space split where any ipBlock of these rules starts or ends, equal neighbours merged. */
  private externalSegments(dir: DirectionRules): { range: string; conn: string }[] {
    if (!dir.isolated) return [{ range: ANY_IP, conn: 'All Connections' }];
    const cuts = new Set<number>([0, IPV4_MAX + 1]);
    for (const rule of dir.rules) {
      for (const p of rule.peers ?? []) {
        if (p.kind !== 'ipBlock') continue;
        for (const [lo, hi] of p.ranges) {
          cuts.add(lo);
          cuts.add(hi + 1);
        }
      }
    }
    const points = [...cuts].sort((a, b) => a - b);
    const segments: { lo: number; hi: number; conn: ConnectionSet }[] = [];
    for (let i = 0; i + 1 < points.length; i++) {
      const lo = points[i] as number;
      const hi = (points[i + 1] as number) - 1;
      const conn = dir.allowFromIp(lo);
      const last = segments[segments.length - 1];
      if (last && last.conn.equals(conn)) last.hi = hi;
      else segments.push({ lo, hi, conn });
    }
    return segments
      .filter((s) => !s.conn.isEmpty())
      .map((s) => ({ range: `${ipString(s.lo)}-${ipString(s.hi)}`, conn: s.conn.toString() }));
  }
}

class DirectionRules {
  constructor(
    readonly namespace: string,
    readonly isolated: boolean,
    readonly rules: Rule[],
  ) {}

  /** Ingress: what this peer accepts from `src`. */
  allowFrom(src: Peer, net: Connectivity): ConnectionSet {
    return this.allowPeer(src, net);
  }

  /** Egress: what this peer may send to `dst`. */
  allowTo(dst: Peer, net: Connectivity): ConnectionSet {
    return this.allowPeer(dst, net);
  }

  allowFromIp(ip: number): ConnectionSet {
    if (!this.isolated) return ConnectionSet.all();
    let conn = ConnectionSet.none();
    for (const rule of this.rules) {
      if (!rule.peers || rule.peers.some((p) => p.kind === 'ipBlock' && p.ranges.some(([lo, hi]) => ip >= lo && ip <= hi))) {
        conn = conn.union(rule.conn);
      }
    }
    return conn;
  }

  private allowPeer(other: Peer, net: Connectivity): ConnectionSet {
    if (!this.isolated) return ConnectionSet.all();
    let conn = ConnectionSet.none();
    for (const rule of this.rules) {
      if (!rule.peers || rule.peers.some((p) => peerMatches(p, other, this.namespace, net))) conn = conn.union(rule.conn);
    }
    return conn;
  }
}

function peerMatches(spec: PeerSpec, peer: Peer, policyNamespace: string, net: Connectivity): boolean {
  if (spec.kind !== 'pods') return false;
  if (spec.namespaceSelector) {
    if (!selectorMatches(spec.namespaceSelector, net.namespaceLabelsOf(peer.namespace))) return false;
  } else if (peer.namespace !== policyNamespace) return false;
  return spec.podSelector ? selectorMatches(spec.podSelector, peer.labels) : true;
}

function policyRules(policy: NetworkPolicy, type: PolicyType): Rule[] {
  const raw =
    type === 'Ingress'
      ? (policy.spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports }))
      : (policy.spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports }));
  return raw.map((r) => ({
    policy: policy.metadata.name,
    ...(r.peers && r.peers.length > 0 ? { peers: r.peers.map(peerSpec) } : {}),
    conn: portsConn(r.ports),
  }));
}

function peerSpec(raw: unknown): PeerSpec {
  if (typeof raw !== 'object' || raw === null) return { kind: 'invalid' };
  const r = raw as Record<string, unknown>;
  if (r.ipBlock && typeof r.ipBlock === 'object') {
    const b = r.ipBlock as Record<string, unknown>;
    const cidr = typeof b.cidr === 'string' ? b.cidr : '';
    const except = Array.isArray(b.except) ? b.except.filter((e): e is string => typeof e === 'string') : [];
    return { kind: 'ipBlock', cidr, except, ranges: subtract(cidrRange(cidr), except.map(cidrRange)) };
  }
  const podSelector = slimSelector(r.podSelector);
  const namespaceSelector = slimSelector(r.namespaceSelector);
  if (!podSelector && !namespaceSelector) return { kind: 'invalid' };
  return { kind: 'pods', ...(podSelector ? { podSelector } : {}), ...(namespaceSelector ? { namespaceSelector } : {}) };
}

function portsConn(ports: unknown[] | undefined): ConnectionSet {
  if (!ports || ports.length === 0) return ConnectionSet.all();
  let conn = ConnectionSet.none();
  for (const raw of ports) {
    if (typeof raw !== 'object' || raw === null) continue;
    const p = raw as Record<string, unknown>;
    const protocol = (
      typeof p.protocol === 'string' && (PROTOCOLS as readonly string[]).includes(p.protocol) ? p.protocol : 'TCP'
    ) as Protocol;
    const port = typeof p.port === 'number' || typeof p.port === 'string' ? p.port : undefined;
    const endPort = typeof p.endPort === 'number' ? p.endPort : undefined;
    conn = conn.union(
      ConnectionSet.fromPort(protocol, typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : port, endPort),
    );
  }
  return conn;
}

function ruleView(rule: Rule, namespace: string): RuleView {
  return {
    policy: rule.policy,
    peers: rule.peers ? rule.peers.map((p) => peerPhrase(p, namespace)) : ['any peer'],
    ports: rule.conn.toString(),
  };
}

function peerPhrase(p: PeerSpec, namespace: string): string {
  if (p.kind === 'invalid') return 'nothing (invalid peer)';
  if (p.kind === 'ipBlock') return p.except.length ? `${p.cidr} except ${p.except.join(', ')}` : p.cidr;
  const pods = p.podSelector
    ? selectsEverything(p.podSelector)
      ? 'all pods'
      : `pods ${selectorText(p.podSelector)}`
    : 'all pods';
  const nss = p.namespaceSelector
    ? selectsEverything(p.namespaceSelector)
      ? 'in all namespaces'
      : `in namespaces ${selectorText(p.namespaceSelector)}`
    : `in namespace ${namespace}`;
  return `${pods} ${nss}`;
}

export function selectorText(s: LabelSelector): string {
  const parts = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions ?? []) {
    if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
    else parts.push(`${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${(e.values ?? []).join(',')})`);
  }
  return parts.join(',');
}

function peerId(w: ObjectRef): string {
  return `${w.namespace}/${w.name}[${w.kind}]`;
}

function namespaceLabels(name: string, labels: Record<string, string> | undefined): Record<string, string> {
  return { ...labels, 'kubernetes.io/metadata.name': name };
}

/** An IPv4 CIDR as an inclusive address range; IPv6 and malformed CIDRs give none (IPv4 space only). */
function cidrRange(cidr: string): [number, number] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255) || bits > 32) return undefined;
  const ip = octets.reduce((n, o) => n * 256 + o, 0);
  const size = 2 ** (32 - bits);
  const lo = Math.floor(ip / size) * size;
  return [lo, lo + size - 1];
}

function subtract(range: [number, number] | undefined, holes: ([number, number] | undefined)[]): [number, number][] {
  if (!range) return [];
  let out: [number, number][] = [range];
  for (const h of holes) {
    if (!h) continue;
    out = out.flatMap(([lo, hi]): [number, number][] => {
      if (h[1] < lo || h[0] > hi) return [[lo, hi]];
      const parts: [number, number][] = [];
      if (h[0] > lo) parts.push([lo, h[0] - 1]);
      if (h[1] < hi) parts.push([h[1] + 1, hi]);
      return parts;
    });
  }
  return out;
}

function ipString(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** The namespace's allowed-traffic graph in Graphviz DOT, drawn as netpol-analyzer draws it (namespaces as frames). */
export function connectionsDot(lines: Connection[]): string {
  const nodes = new Set<string>();
  for (const l of lines) {
    nodes.add(l.src);
    nodes.add(l.dst);
  }
  const byNs = new Map<string, string[]>();
  const external: string[] = [];
  for (const n of [...nodes].sort(cmp)) {
    const m = /^([^/]+)\/(.+)$/.exec(n);
    if (!m || /^\d/.test(n)) external.push(n);
    else {
      const list = byNs.get(m[1] as string) ?? [];
      list.push(n);
      byNs.set(m[1] as string, list);
    }
  }
  const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const out = ['digraph {'];
  for (const [ns, members] of byNs) {
    out.push(`\tsubgraph ${q(`cluster_${ns}`)} {`);
    for (const m of members) out.push(`\t\t${q(m)} [label=${q(m.slice(ns.length + 1))} color="blue" fontcolor="blue"]`);
    out.push(`\t\tlabel=${q(ns)}`, '\t}');
  }
  for (const e of external) out.push(`\t${q(e)} [label=${q(e)} color="red2" fontcolor="red2"]`);
  for (const l of lines) out.push(`\t${q(l.src)} -> ${q(l.dst)} [label=${q(l.conn)} color="gold2" fontcolor="darkgreen"]`);
  out.push('}');
  return `${out.join('\n')}\n`;
}
