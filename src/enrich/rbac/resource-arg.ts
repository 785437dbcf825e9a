/** Built-in resources by plural name and short name: their API group and whether they are cluster-scoped. */
const BUILTIN: Readonly<Record<string, { group: string; clusterScoped?: true; plural?: string }>> = {
  pods: { group: '' },
  po: { group: '', plural: 'pods' },
  services: { group: '' },
  svc: { group: '', plural: 'services' },
  secrets: { group: '' },
  configmaps: { group: '' },
  cm: { group: '', plural: 'configmaps' },
  serviceaccounts: { group: '' },
  sa: { group: '', plural: 'serviceaccounts' },
  endpoints: { group: '' },
  events: { group: '' },
  persistentvolumeclaims: { group: '' },
  pvc: { group: '', plural: 'persistentvolumeclaims' },
  replicationcontrollers: { group: '' },
  rc: { group: '', plural: 'replicationcontrollers' },
  namespaces: { group: '', clusterScoped: true },
  ns: { group: '', clusterScoped: true, plural: 'namespaces' },
  nodes: { group: '', clusterScoped: true },
  no: { group: '', clusterScoped: true, plural: 'nodes' },
  persistentvolumes: { group: '', clusterScoped: true },
  pv: { group: '', clusterScoped: true, plural: 'persistentvolumes' },
  deployments: { group: 'apps' },
  deploy: { group: 'apps', plural: 'deployments' },
  daemonsets: { group: 'apps' },
  ds: { group: 'apps', plural: 'daemonsets' },
  statefulsets: { group: 'apps' },
  sts: { group: 'apps', plural: 'statefulsets' },
  replicasets: { group: 'apps' },
  rs: { group: 'apps', plural: 'replicasets' },
  jobs: { group: 'batch' },
  cronjobs: { group: 'batch' },
  cj: { group: 'batch', plural: 'cronjobs' },
  ingresses: { group: 'networking.k8s.io' },
  ing: { group: 'networking.k8s.io', plural: 'ingresses' },
  networkpolicies: { group: 'networking.k8s.io' },
  netpol: { group: 'networking.k8s.io', plural: 'networkpolicies' },
  roles: { group: 'rbac.authorization.k8s.io' },
  rolebindings: { group: 'rbac.authorization.k8s.io' },
  clusterroles: { group: 'rbac.authorization.k8s.io', clusterScoped: true },
  clusterrolebindings: { group: 'rbac.authorization.k8s.io', clusterScoped: true },
  certificatesigningrequests: { group: 'certificates.k8s.io', clusterScoped: true },
  csr: { group: 'certificates.k8s.io', clusterScoped: true, plural: 'certificatesigningrequests' },
  mutatingwebhookconfigurations: { group: 'admissionregistration.k8s.io', clusterScoped: true },
  validatingwebhookconfigurations: { group: 'admissionregistration.k8s.io', clusterScoped: true },
  customresourcedefinitions: { group: 'apiextensions.k8s.io', clusterScoped: true },
  crd: { group: 'apiextensions.k8s.io', clusterScoped: true, plural: 'customresourcedefinitions' },
  storageclasses: { group: 'storage.k8s.io', clusterScoped: true },
  sc: { group: 'storage.k8s.io', clusterScoped: true, plural: 'storageclasses' },
};

export interface ResourceArg {
  resource: string;
  apiGroup: string;
  subresource?: string;
  /** Known to be cluster-scoped: then the request has no namespace. */
  clusterScoped: boolean;
  /** The resource is neither qualified with a group nor a known built-in: the core group was assumed. */
  guessed: boolean;
}

/**
 * Parses RESOURCE[.GROUP][/SUBRESOURCE] as kubectl writes it: `pods`, `po`, `pods/exec`,
 * `deployments.apps`, `deployments.apps/scale`, `*`. Without discovery, a bare name is looked up in
 * the built-in table; anything else is taken to be in the core group (and flagged as a guess).
 */
export function parseResourceArg(arg: string): ResourceArg | undefined {
  const lowered = arg.toLowerCase();
  const slash = lowered.indexOf('/');
  const resourcePart = slash < 0 ? lowered : lowered.slice(0, slash);
  const subresource = slash < 0 ? undefined : lowered.slice(slash + 1);
  if (resourcePart === '' || subresource === '' || subresource?.includes('/')) return undefined;
  const sub = subresource ? { subresource } : {};
  if (resourcePart === '*') return { resource: '*', apiGroup: '', ...sub, clusterScoped: false, guessed: false };
  const dot = resourcePart.indexOf('.');
  if (dot > 0) {
    const name = resourcePart.slice(0, dot);
    const group = resourcePart.slice(dot + 1);
    const known = Object.hasOwn(BUILTIN, name) ? BUILTIN[name] : undefined;
    const plural = known?.group === group ? (known.plural ?? name) : name;
    return {
      resource: plural,
      apiGroup: group,
      ...sub,
      clusterScoped: known?.group === group && !!known.clusterScoped,
      guessed: false,
    };
  }
  const known = Object.hasOwn(BUILTIN, resourcePart) ? BUILTIN[resourcePart] : undefined;
  if (!known) return { resource: resourcePart, apiGroup: '', ...sub, clusterScoped: false, guessed: true };
  return {
    resource: known.plural ?? resourcePart,
    apiGroup: known.group,
    ...sub,
    clusterScoped: !!known.clusterScoped,
    guessed: false,
  };
}
