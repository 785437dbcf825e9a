import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ErrorBox, Loading, Section } from '../components';
import { portsText } from '../format';
import { useApi } from '../hooks';
import { href, navigate } from '../router';
import type { NetworkGraph, PostureReport } from '../types';

type Cytoscape = typeof import('cytoscape');

const CYTOSCAPE_STYLE_ID = '__________cytoscape_stylesheet';

export function NetworkPage({ search }: { search: string }) {
  const params = useMemo(() => new URLSearchParams(search), [search]);
  const namespace = params.get('namespace') ?? '';
  const cluster = params.get('cluster') ?? '';
  const [draft, setDraft] = useState({ namespace, cluster });
  useEffect(() => setDraft({ namespace, cluster }), [namespace, cluster]);

  const known = useApi<Pick<PostureReport, 'network'>>('/v1/posture/network');
  const query = new URLSearchParams({ namespace });
  if (cluster) query.set('cluster', cluster);
  const graph = useApi<NetworkGraph>(namespace ? `/v1/posture/network/graph?${query}` : undefined);
  const namespaces = known.data?.network?.namespaces.map((n) => n.namespace) ?? [];

  return (
    <>
      <div class="page-head">
        <h1>Network graph</h1>
      </div>
      <form
        class="card filters"
        aria-label="Choose a namespace"
        onSubmit={(e) => {
          e.preventDefault();
          const q = new URLSearchParams();
          if (draft.namespace.trim()) q.set('namespace', draft.namespace.trim());
          if (draft.cluster.trim()) q.set('cluster', draft.cluster.trim());
          navigate(href('/network', q));
        }}
      >
        <div class="field">
          <label for="network-namespace">Namespace</label>
          <input
            id="network-namespace"
            data-testid="network-namespace"
            type="text"
            list="network-namespaces"
            value={draft.namespace}
            onInput={(e) => setDraft((d) => ({ ...d, namespace: e.currentTarget.value }))}
            onChange={(e) => {
              // Picking a namespace from the list shows it at once.
              const v = e.currentTarget.value.trim();
              if (v && namespaces.includes(v) && v !== namespace) {
                const q = new URLSearchParams({ namespace: v });
                if (draft.cluster.trim()) q.set('cluster', draft.cluster.trim());
                navigate(href('/network', q));
              }
            }}
          />
          <datalist id="network-namespaces">
            {namespaces.map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
        </div>
        <div class="field">
          <label for="network-cluster">Cluster</label>
          <input
            id="network-cluster"
            type="text"
            placeholder="default"
            value={draft.cluster}
            onInput={(e) => setDraft((d) => ({ ...d, cluster: e.currentTarget.value }))}
          />
        </div>
        <div class="actions">
          <button type="submit" data-testid="network-show">
            Show
          </button>
        </div>
      </form>
      {!namespace && <p class="muted">Choose a namespace to see which pods may talk to which, and to what outside.</p>}
      <ErrorBox error={graph.error} />
      {namespace && graph.loading && !graph.data && <Loading what="the graph" />}
      {namespace && graph.data && <GraphView graph={graph.data} />}
    </>
  );
}

function GraphView({ graph }: { graph: NetworkGraph }) {
  const exposed = graph.nodes.filter((n) => n.kind === 'pod' && !n.isolatedIngress && !n.isolatedEgress);
  const label = new Map(graph.nodes.map((n) => [n.id, n.label]));
  return (
    <>
      <Section title={`Namespace ${graph.namespace}`}>
        <div class="legend" aria-hidden="true">
          <span class="l-pod">pod</span>
          <span class="l-exposed">pod isolated in neither direction</span>
          <span class="l-namespace">namespace</span>
          <span class="l-external">outside the cluster</span>
        </div>
        {graph.truncated && (
          <p class="notice">The namespace is larger than the graph draws: some pods or connections are left out.</p>
        )}
        <Graph graph={graph} />
      </Section>
      <div class="grid-2">
        <Section title={`Isolated in neither direction (${exposed.length})`}>
          <p class="muted small">No NetworkPolicy selects these pods: any peer may reach them, and they may reach any peer.</p>
          <ul class="plain" data-testid="network-exposed">
            {exposed.map((n) => (
              <li key={n.id} data-node-id={n.id}>
                {n.label}
              </li>
            ))}
          </ul>
          {exposed.length === 0 && <p>None.</p>}
        </Section>
        <Section title={`Allowed connections (${graph.edges.length})`}>
          <div class="table-wrap scroll">
            <table data-testid="network-edges">
              <thead>
                <tr>
                  <th scope="col">From</th>
                  <th scope="col">To</th>
                  <th scope="col">Ports</th>
                </tr>
              </thead>
              <tbody>
                {graph.edges.map((e) => (
                  <tr key={`${e.from}->${e.to}`}>
                    <td>{label.get(e.from) ?? e.from}</td>
                    <td>{label.get(e.to) ?? e.to}</td>
                    <td>{portsText(e.ports)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Section>
      </div>
    </>
  );
}

function Graph({ graph }: { graph: NetworkGraph }) {
  const box = useRef<HTMLDivElement>(null);
  const [lib, setLib] = useState<Cytoscape | undefined>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    // Cytoscape adds a one-rule <style> element unless an element with this id exists; the console's
    // CSP forbids inline styles, and style.css has the rule (.graph is position: relative).
    if (!document.getElementById(CYTOSCAPE_STYLE_ID)) {
      const marker = document.createElement('meta');
      marker.id = CYTOSCAPE_STYLE_ID;
      document.head.append(marker);
    }
    import('cytoscape').then((m) => setLib(() => m.default), setError);
  }, []);

  useEffect(() => {
    if (!lib || !box.current) return;
    const ids = new Set(graph.nodes.map((n) => n.id));
    const cy = lib({
      container: box.current,
      elements: [
        ...graph.nodes.map((n) => ({
          data: { id: n.id, label: n.label },
          classes: [n.kind, n.kind === 'pod' && !n.isolatedIngress && !n.isolatedEgress ? 'exposed' : ''].join(' ').trim(),
        })),
        ...graph.edges
          .filter((e) => ids.has(e.from) && ids.has(e.to))
          .map((e, i) => ({ data: { id: `e${i}`, source: e.from, target: e.to, ports: portsText(e.ports) } })),
      ],
      style: [
        {
          selector: 'node',
          style: {
            label: 'data(label)',
            'font-size': 10,
            'min-zoomed-font-size': 7,
            'text-wrap': 'ellipsis',
            'text-max-width': '140px',
            'text-background-color': '#ffffff',
            'text-background-opacity': 0.85,
            'text-background-padding': '2px',
            'text-valign': 'bottom',
            'text-margin-y': 4,
            color: '#1c2430',
            'background-color': '#4b83d6',
            width: 26,
            height: 26,
          },
        },
        { selector: 'node.exposed', style: { 'background-color': '#b3261e', 'border-width': 3, 'border-color': '#f0a400' } },
        { selector: 'node.external', style: { shape: 'round-rectangle', 'background-color': '#8a94a3' } },
        { selector: 'node.namespace', style: { shape: 'round-rectangle', 'background-color': '#7c5fc0' } },
        {
          selector: 'edge',
          style: {
            width: 1.5,
            'line-color': '#9aa3ae',
            'target-arrow-color': '#9aa3ae',
            'target-arrow-shape': 'triangle',
            'curve-style': 'bezier',
            'arrow-scale': 0.8,
          },
        },
        // The ports of a connection show when it or one of its ends is selected (the table lists them all).
        {
          selector: 'edge:selected',
          style: { label: 'data(ports)', 'font-size': 10, color: '#1c2430', 'line-color': '#1f5fbf', width: 2.5 },
        },
        { selector: 'node:selected', style: { 'border-width': 3, 'border-color': '#1f5fbf' } },
      ],
      // The namespace's pods in the middle, what they talk to (other namespaces, addresses) around them.
      layout: {
        name: 'concentric',
        concentric: (n: { hasClass: (c: string) => boolean }) => (n.hasClass('pod') ? 2 : 1),
        levelWidth: () => 1,
        minNodeSpacing: 60,
        animate: false,
        padding: 30,
      },
    });
    // Selecting a node highlights its connections.
    cy.on('select', 'node', (e) => e.target.connectedEdges().select());
    cy.on('unselect', 'node', (e) => e.target.connectedEdges().unselect());
    return () => cy.destroy();
  }, [lib, graph]);

  return (
    <>
      {error ? <ErrorBox error={error} /> : null}
      <div
        class="graph"
        ref={box}
        data-testid="network-graph"
        data-nodes={JSON.stringify(graph.nodes.map((n) => n.id))}
        data-edges={JSON.stringify(graph.edges.map((e) => `${e.from}->${e.to}`))}
        role="img"
        aria-label={`Network graph of namespace ${graph.namespace}: ${graph.nodes.length} nodes, ${graph.edges.length} allowed connections (listed below)`}
      />
    </>
  );
}
