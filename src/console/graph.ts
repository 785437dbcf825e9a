import type { ClusterState } from '../enrich/cluster-state/state';
import type { Pod } from '../enrich/cluster-state/types';
import { networkExposure } from '../enrich/network';
import { ANY_IP, Connectivity } from '../posture/network';

export interface GraphNode {
  /** `pod:<ns>/<name>`, `namespace:<ns>` (pods of another namespace), `external:<range>`. */
  id: string;
  kind: 'pod' | 'external' | 'namespace';
  label: string;
  isolatedIngress: boolean;
  isolatedEgress: boolean;
}

export interface GraphEdge {
  from: string;
  to: string;
  /** `all`, or `TCP 80`, `UDP 53`, `TCP` (every TCP port)... */
  ports: string[];
}

export interface NetworkGraph {
  namespace: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** The graph was cut at MAX_NODES / MAX_EDGES. */
  truncated: boolean;
}

export const MAX_NODES = 2000;
export const MAX_EDGES = 20_000;

/**
 * Who may talk to whom in one namespace, from the same Connectivity as `falconer netpol peers`
 * (both ends' policies count): a node per pod of the namespace, one per other namespace its pods
 * talk with, one per external address range. Connectivity works per workload; its lines are drawn
 * between every pod of the two workloads.
 */
export function networkGraph(state: ClusterState, namespace: string): NetworkGraph {
  const net = new Connectivity(state);
  const podsOf = new Map<string, string[]>(); // workload id -> pod node ids (this namespace)
  const namespaceOf = new Map<string, string>(); // workload id -> namespace (all)
  const nodes = new Map<string, GraphNode>();
  let truncated = false;
  const addNode = (node: GraphNode) => {
    if (nodes.has(node.id)) return true;
    if (nodes.size >= MAX_NODES) return !(truncated = true);
    nodes.set(node.id, node);
    return true;
  };
  for (const obj of state.all('Pod')) {
    const pod = obj as Pod;
    const ns = pod.metadata.namespace ?? '';
    const workload = net.workloadOfPod(ns, pod.metadata.name);
    if (!workload) continue;
    namespaceOf.set(workload, ns);
    if (ns !== namespace) continue;
    const id = `pod:${ns}/${pod.metadata.name}`;
    const exposure = networkExposure(state, ns, pod.metadata.labels);
    if (
      !addNode({
        id,
        kind: 'pod',
        label: pod.metadata.name,
        isolatedIngress: exposure.ingress.isolated,
        isolatedEgress: exposure.egress.isolated,
      })
    )
      continue;
    podsOf.set(workload, [...(podsOf.get(workload) ?? []), id]);
  }
  const ends = (end: string): string[] => {
    const pods = podsOf.get(end);
    if (pods) return pods;
    const ns = namespaceOf.get(end);
    const node: GraphNode =
      ns !== undefined
        ? { id: `namespace:${ns}`, kind: 'namespace', label: ns, isolatedIngress: false, isolatedEgress: false }
        : {
            id: `external:${end}`,
            kind: 'external',
            label: end === ANY_IP ? 'any address' : end,
            isolatedIngress: false,
            isolatedEgress: false,
          };
    return addNode(node) ? [node.id] : [];
  };
  const edges = new Map<string, GraphEdge>();
  for (const line of net.connections({ namespace })) {
    const ports = portsOf(line.conn);
    for (const from of ends(line.src)) {
      for (const to of ends(line.dst)) {
        if (from === to) continue;
        const key = `${from}\u0000${to}`;
        const edge = edges.get(key);
        if (edge) {
          for (const p of ports) if (!edge.ports.includes(p)) edge.ports.push(p);
          continue;
        }
        if (edges.size >= MAX_EDGES) {
          truncated = true;
          continue;
        }
        edges.set(key, { from, to, ports: [...ports] });
      }
    }
  }
  return { namespace, nodes: [...nodes.values()], edges: [...edges.values()], truncated };
}

/** Connectivity's `TCP 80,443,UDP 53` as `["TCP 80", "TCP 443", "UDP 53"]`; `All Connections` as `["all"]`. */
export function portsOf(conn: string): string[] {
  if (conn === 'All Connections') return ['all'];
  const out: string[] = [];
  let protocol = '';
  for (const token of conn.split(',')) {
    const [first, rest] = token.split(' ', 2) as [string, string | undefined];
    if (/^(TCP|UDP|SCTP)$/.test(first)) {
      protocol = first;
      out.push(rest === undefined ? first : `${first} ${rest}`);
    } else out.push(`${protocol} ${token}`);
  }
  return out;
}
