/**
 * Sets of allowed connections (protocol × port), with the operations connectivity analysis needs:
 * union (policies add up) and intersection (the source's egress and the destination's ingress must
 * both allow). Printed as netpol-analyzer prints them: `All Connections`, `No Connections`,
 * `TCP 80,8080-8090,UDP 53`. A named port (`http`) is kept as a name: state snapshots do not carry
 * the container port names it resolves against.
 */
export const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

const MAX_PORT = 65535;
type Range = [number, number];

export class ConnectionSet {
  private constructor(
    /** Per protocol: disjoint, sorted port ranges. A protocol missing allows nothing on it. */
    private readonly ports: ReadonlyMap<Protocol, readonly Range[]>,
    /** Per protocol: named ports allowed. */
    private readonly named: ReadonlyMap<Protocol, ReadonlySet<string>>,
  ) {}

  static all(): ConnectionSet {
    return new ConnectionSet(new Map(PROTOCOLS.map((p) => [p, [[1, MAX_PORT]]])), new Map());
  }

  static none(): ConnectionSet {
    return new ConnectionSet(new Map(), new Map());
  }

  /** One NetworkPolicy port entry: protocol (default TCP), port (number, name or absent: all), endPort. */
  static fromPort(protocol: Protocol, port: number | string | undefined, endPort?: number): ConnectionSet {
    if (port === undefined) return new ConnectionSet(new Map([[protocol, [[1, MAX_PORT]]]]), new Map());
    if (typeof port === 'string') return new ConnectionSet(new Map(), new Map([[protocol, new Set([port])]]));
    const hi = endPort !== undefined && endPort >= port ? endPort : port;
    return new ConnectionSet(new Map([[protocol, [[port, hi]]]]), new Map());
  }

  isAll(): boolean {
    return PROTOCOLS.every((p) => {
      const r = this.ports.get(p);
      return r?.length === 1 && r[0]![0] === 1 && r[0]![1] === MAX_PORT;
    });
  }

  isEmpty(): boolean {
    return this.ports.size === 0 && this.named.size === 0;
  }

  union(other: ConnectionSet): ConnectionSet {
    const ports = new Map<Protocol, Range[]>();
    for (const p of PROTOCOLS) {
      const merged = normalise([...(this.ports.get(p) ?? []), ...(other.ports.get(p) ?? [])]);
      if (merged.length) ports.set(p, merged);
    }
    const named = new Map<Protocol, Set<string>>();
    for (const p of PROTOCOLS) {
      const names = new Set([...(this.named.get(p) ?? []), ...(other.named.get(p) ?? [])]);
      if (names.size) named.set(p, names);
    }
    return new ConnectionSet(ports, dropCovered(ports, named));
  }

  intersect(other: ConnectionSet): ConnectionSet {
    const ports = new Map<Protocol, Range[]>();
    const named = new Map<Protocol, Set<string>>();
    for (const p of PROTOCOLS) {
      const a = this.ports.get(p) ?? [];
      const b = other.ports.get(p) ?? [];
      const out: Range[] = [];
      for (const [alo, ahi] of a)
        for (const [blo, bhi] of b) {
          const lo = Math.max(alo, blo);
          const hi = Math.min(ahi, bhi);
          if (lo <= hi) out.push([lo, hi]);
        }
      if (out.length) ports.set(p, normalise(out));
      // A name survives where the other side allows every port of the protocol, or names it too.
      const names = new Set<string>();
      for (const n of this.named.get(p) ?? []) if (coversAll(b) || other.named.get(p)?.has(n)) names.add(n);
      for (const n of other.named.get(p) ?? []) if (coversAll(a)) names.add(n);
      if (names.size) named.set(p, names);
    }
    return new ConnectionSet(ports, named);
  }

  equals(other: ConnectionSet): boolean {
    return this.toString() === other.toString();
  }

  toString(): string {
    if (this.isAll()) return 'All Connections';
    if (this.isEmpty()) return 'No Connections';
    const parts: string[] = [];
    for (const p of [...PROTOCOLS].sort()) {
      const items = (this.ports.get(p) ?? []).map(([lo, hi]) =>
        lo === 1 && hi === MAX_PORT ? '' : lo === hi ? `${lo}` : `${lo}-${hi}`,
      );
      const names = [...(this.named.get(p) ?? [])].sort();
      if (items.length === 0 && names.length === 0) continue;
      if (items.includes('')) parts.push(p);
      else parts.push(`${p} ${[...items, ...names].join(',')}`);
    }
    return parts.join(',');
  }

  /** `{TCP: ["80", "8080-8090", "http"]}`, or `"all"`, for JSON output. */
  toJSON(): 'all' | Record<string, string[]> {
    if (this.isAll()) return 'all';
    const out: Record<string, string[]> = {};
    for (const p of PROTOCOLS) {
      const items = (this.ports.get(p) ?? []).map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`));
      const names = [...(this.named.get(p) ?? [])].sort();
      if (items.length || names.length) out[p] = [...items, ...names];
    }
    return out;
  }
}

function normalise(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

function coversAll(ranges: readonly Range[]): boolean {
  return ranges.length === 1 && ranges[0]![0] === 1 && ranges[0]![1] === MAX_PORT;
}

function dropCovered(ports: Map<Protocol, Range[]>, named: Map<Protocol, Set<string>>): Map<Protocol, Set<string>> {
  for (const p of [...named.keys()]) if (coversAll(ports.get(p) ?? [])) named.delete(p);
  return named;
}
