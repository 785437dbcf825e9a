/**
 * The Kubernetes client, loaded on first use: it is a large ES module (seconds and ~75 MB to load on a
 * busy machine), and most users of ClusterState (snapshot, audit, the CLI) never talk to an API server.
 */
export function loadKubeClient(): Promise<typeof import('@kubernetes/client-node')> {
  return import('@kubernetes/client-node');
}
