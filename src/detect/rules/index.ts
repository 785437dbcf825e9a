/**
 * The audit rule index: rules bucketed by (stage, verb, resource pattern), `*` being a bucket of its own.
 * An event looks up at most 12 buckets whatever the pack size, and the merged candidate list per
 * (stage, verb, resource) is memoised.
 */
export interface Indexable {
  order: number;
  match: { stages: string[]; verbs: string[]; resources: string[] };
}

const MEMO_LIMIT = 4096;

/** stage → verb → resource → subresource → the merged candidates. */
type Memo<R> = Map<string, Map<string, Map<string, Map<string, readonly R[]>>>>;

export class AuditIndex<R extends Indexable> {
  private buckets = new Map<string, R[]>();
  /**
   * Nested maps rather than one map keyed by the four joined: a joined key is a new string per event,
   * hashed each time, which cost as much as evaluating a rule (bench/detect.js); the event's own
   * strings are hashed once each.
   */
  private memo: Memo<R> = new Map();
  private memoSize = 0;

  constructor(rules: readonly R[]) {
    for (const r of rules) {
      for (const s of r.match.stages) {
        for (const v of r.match.verbs) {
          for (const res of r.match.resources) {
            const key = `${s}\u0000${v}\u0000${res}`;
            const b = this.buckets.get(key);
            if (b) b.push(r);
            else this.buckets.set(key, [r]);
          }
        }
      }
    }
  }

  candidates(stage: string, verb: string, resource: string, subresource: string): readonly R[] {
    const hit = this.memo.get(stage)?.get(verb)?.get(resource)?.get(subresource);
    if (hit) return hit;
    const resources = subresource ? [`${resource}/${subresource}`, `${resource}/*`, '*'] : [resource, '*'];
    const found = new Set<R>();
    for (const s of [stage, '*']) {
      for (const v of [verb, '*']) {
        for (const res of resources) {
          const b = this.buckets.get(`${s}\u0000${v}\u0000${res}`);
          if (b) for (const r of b) found.add(r);
        }
      }
    }
    const list = [...found].sort((a, b) => a.order - b.order);
    // Resources come from the wire (CRDs, typos, attackers): bound the memo rather than trust them.
    if (this.memoSize >= MEMO_LIMIT) {
      this.memo.clear();
      this.memoSize = 0;
    }
    this.memoSize++;
    child(child(child(this.memo, stage), verb), resource).set(subresource, list);
    return list;
  }
}

function child<V>(map: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let next = map.get(key);
  if (!next) map.set(key, (next = new Map()));
  return next;
}

/** Whether a rule's match selector admits an event (what the index computes, for one rule). */
export function selectorAdmits(
  match: Indexable['match'],
  stage: string,
  verb: string,
  resource: string,
  subresource: string,
): boolean {
  const any = (list: string[], v: string) => list.includes('*') || list.includes(v);
  const resources = subresource ? [`${resource}/${subresource}`, `${resource}/*`] : [resource];
  return (
    any(match.stages, stage) &&
    any(match.verbs, verb) &&
    (match.resources.includes('*') || resources.some((r) => match.resources.includes(r)))
  );
}
