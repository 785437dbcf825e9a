import { containersPhrase } from '../format';

/** `pod and containers "a", "b"` — who set a forbidden value, in upstream wording. */
export function settersPhrase(pod: boolean, containers: readonly string[]): string {
  const setters: string[] = [];
  if (pod) setters.push('pod');
  if (containers.length > 0) setters.push(containersPhrase(containers));
  return setters.join(' and ');
}
