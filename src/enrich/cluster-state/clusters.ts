import { ClusterState } from './state';

/** One ClusterState per cluster name, so state (and the alerts enriched from it) never mix clusters. */
export class ClusterStates {
  private readonly states = new Map<string, ClusterState>();

  /** The state for a cluster, created empty on first use. */
  get(cluster: string): ClusterState {
    let state = this.states.get(cluster);
    if (!state) this.states.set(cluster, (state = new ClusterState(cluster)));
    return state;
  }

  /** The state for a cluster, if anything was ever recorded for it. */
  peek(cluster: string): ClusterState | undefined {
    return this.states.get(cluster);
  }

  /** Swaps in a freshly loaded state (a snapshot reload). */
  replace(state: ClusterState): void {
    this.states.set(state.cluster, state);
  }

  clusters(): string[] {
    return [...this.states.keys()];
  }
}
