import type { FindingChange } from '../../findings/store';
import { ClusterState } from './state';

type FindingListener = (change: FindingChange, state: ClusterState) => void;

/** One ClusterState per cluster name, so state (and the alerts enriched from it) never mix clusters. */
export class ClusterStates {
  private readonly states = new Map<string, ClusterState>();
  private findingListener: FindingListener | undefined;

  /** The state for a cluster, created empty on first use. */
  get(cluster: string): ClusterState {
    let state = this.states.get(cluster);
    if (!state) {
      this.states.set(cluster, (state = new ClusterState(cluster)));
      state.onFindingChange(this.findingListener);
    }
    return state;
  }

  /** Told about findings news and resolutions of every cluster's state, present and future. */
  onFindingChange(listener: FindingListener | undefined): void {
    this.findingListener = listener;
    for (const state of this.states.values()) state.onFindingChange(listener);
  }

  /** The state for a cluster, if anything was ever recorded for it. */
  peek(cluster: string): ClusterState | undefined {
    return this.states.get(cluster);
  }

  /** Swaps in a freshly loaded state (a snapshot reload). */
  replace(state: ClusterState): void {
    state.onFindingChange(this.findingListener);
    this.states.set(state.cluster, state);
  }

  clusters(): string[] {
    return [...this.states.keys()];
  }
}
