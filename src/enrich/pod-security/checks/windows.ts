import { isWindowsPod } from '../pod-spec';
import type { CheckFn } from '../types';

/**
 * Windows pods cannot set Linux-only fields (the API rejects them), so from policy v1.25 the
 * restricted level stops asking Windows pods for them.
 */
export function exemptingWindows(check: CheckFn): CheckFn {
  return (meta, spec) => (isWindowsPod(spec) ? undefined : check(meta, spec));
}
