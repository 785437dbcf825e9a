import type http from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * A KubeConfig whose connections can all be cut at once. The informer opens each watch on a fresh agent
 * from `applyToFetchOptions`, and a stop can land between that call and the request going out, which
 * would leave a watch running after `stop()`. This view remembers the agents it handed out so `close()`
 * can destroy their sockets, and after `close()` it never hands out another one (the pending call just
 * never resolves, holding no socket or timer).
 */
export class ClosableKubeConfig {
  readonly kubeConfig: KubeConfig;
  private readonly agents = new Map<http.Agent, number>();
  private closed = false;

  constructor(source: KubeConfig) {
    const view = Object.create(source) as KubeConfig;
    view.applyToFetchOptions = async (opts) => {
      if (this.closed) return new Promise(() => {});
      const init = await source.applyToFetchOptions(opts);
      if (this.closed) return new Promise(() => {});
      const agent = init.agent as http.Agent | undefined;
      if (agent && typeof agent.destroy === 'function') this.remember(agent);
      return init;
    };
    this.kubeConfig = view;
  }

  close(): void {
    this.closed = true;
    for (const agent of this.agents.keys()) agent.destroy();
    this.agents.clear();
  }

  private remember(agent: http.Agent): void {
    // A just-made agent has no socket until its request goes out, so only older idle ones are forgotten.
    const now = Date.now();
    for (const [old, since] of this.agents) if (now - since > FORGET_IDLE_AFTER_MS && idle(old)) this.agents.delete(old);
    this.agents.set(agent, now);
  }
}

const FORGET_IDLE_AFTER_MS = 10_000;

function idle(agent: http.Agent): boolean {
  const inUse = (group: NodeJS.ReadOnlyDict<unknown[]>) => Object.values(group).some((list) => (list?.length ?? 0) > 0);
  return !inUse(agent.sockets) && !inUse(agent.requests);
}
