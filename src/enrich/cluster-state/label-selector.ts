import type { LabelSelector, LabelSelectorRequirement } from './types';

/**
 * metav1.LabelSelector semantics, shared by ClusterRole aggregation and NetworkPolicy podSelector:
 * matchLabels and matchExpressions are ANDed; an empty selector matches everything; `NotIn` and
 * `DoesNotExist` match objects without the key. A selector the apiserver would reject (unknown operator,
 * `In`/`NotIn` without values, values on `Exists`) matches nothing, as an unparseable selector selects nothing.
 */
const EMPTY: readonly LabelSelectorRequirement[] = [];

export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false;
  const have = labels ?? {};
  const matchLabels = selector.matchLabels;
  if (matchLabels) {
    for (const key in matchLabels) {
      if (!Object.hasOwn(have, key) || have[key] !== matchLabels[key]) return false;
    }
  }
  for (const req of selector.matchExpressions ?? EMPTY) {
    const present = Object.hasOwn(have, req.key);
    const values = req.values ?? [];
    switch (req.operator) {
      case 'In':
        if (values.length === 0 || !present || !values.includes(have[req.key] as string)) return false;
        break;
      case 'NotIn':
        if (values.length === 0 || (present && values.includes(have[req.key] as string))) return false;
        break;
      case 'Exists':
        if (values.length > 0 || !present) return false;
        break;
      case 'DoesNotExist':
        if (values.length > 0 || present) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** True for `{}`: the selector that selects every object. */
export function selectsEverything(selector: LabelSelector | undefined): boolean {
  return (
    selector !== undefined &&
    Object.keys(selector.matchLabels ?? {}).length === 0 &&
    (selector.matchExpressions ?? []).length === 0
  );
}
