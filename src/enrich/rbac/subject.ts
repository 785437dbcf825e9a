/** Who a request is authorised as: the user name and every group, the implicit ones included. */
export interface RequestSubject {
  user: string;
  groups: string[];
  /** Set when the user name is a service account's. */
  serviceAccount?: { namespace: string; name: string };
}

const SA_PREFIX = 'system:serviceaccount:';
const ANONYMOUS = 'system:anonymous';

/** `system:serviceaccount:<ns>:<name>` → its namespace and name; undefined for any other user name. */
export function parseServiceAccountUser(user: string): { namespace: string; name: string } | undefined {
  if (!user.startsWith(SA_PREFIX)) return undefined;
  const parts = user.slice(SA_PREFIX.length).split(':');
  if (parts.length !== 2) return undefined;
  const [namespace, name] = parts as [string, string];
  return namespace && name ? { namespace, name } : undefined;
}

/**
 * The subject the apiserver would authorise: the given groups plus the ones authentication adds —
 * `system:authenticated` for every user but `system:anonymous` (who gets `system:unauthenticated`), and
 * `system:serviceaccounts` and `system:serviceaccounts:<ns>` for a service account.
 */
export function subjectFor(user: string, groups: readonly string[] = []): RequestSubject {
  const all = [...groups];
  const add = (g: string) => {
    if (!all.includes(g)) all.push(g);
  };
  const serviceAccount = parseServiceAccountUser(user);
  if (serviceAccount) {
    add('system:serviceaccounts');
    add(`system:serviceaccounts:${serviceAccount.namespace}`);
  }
  add(user === ANONYMOUS ? 'system:unauthenticated' : 'system:authenticated');
  return serviceAccount ? { user, groups: all, serviceAccount } : { user, groups: all };
}
