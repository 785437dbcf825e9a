import type { KubeConfig } from '@kubernetes/client-node';
import { FalconerError } from '../../core/errors';
import { loadKubeClient } from './kube-client';

/** Where the live source gets its API server address and credentials. */
export type CredentialSource =
  /** The pod's service account: KUBERNETES_SERVICE_HOST/PORT and the mounted token and CA. */
  | { from: 'in-cluster' }
  /** A kubeconfig file, optionally with a context other than its current one. */
  | { from: 'file'; path: string; context?: string }
  /** $KUBECONFIG, ~/.kube/config, or in-cluster, in the order the client library tries them. */
  | { from: 'default'; context?: string }
  /** A KubeConfig built by the caller (tests, embedding). */
  | { from: 'kubeconfig'; kubeConfig: KubeConfig };

export class KubeCredentialsError extends FalconerError {
  constructor(message: string) {
    super('kube_credentials', message, 500);
  }
}

export async function loadKubeConfig(source: CredentialSource): Promise<KubeConfig> {
  if (source.from === 'kubeconfig') return requireCluster(source.kubeConfig, 'the given kubeconfig');
  const { KubeConfig } = await loadKubeClient();
  const kc = new KubeConfig();
  try {
    switch (source.from) {
      case 'in-cluster':
        // Without these the client would aim at https://undefined:undefined.
        if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
          throw new Error('KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (not running in a pod?)');
        }
        kc.loadFromCluster();
        break;
      case 'file':
        kc.loadFromFile(source.path);
        break;
      case 'default':
        kc.loadFromDefault();
        break;
    }
    if ((source.from === 'file' || source.from === 'default') && source.context) kc.setCurrentContext(source.context);
  } catch (err) {
    throw new KubeCredentialsError(`cannot load Kubernetes credentials (${source.from}): ${(err as Error).message}`);
  }
  return requireCluster(kc, source.from === 'file' ? source.path : source.from);
}

function requireCluster(kc: KubeConfig, origin: string): KubeConfig {
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) throw new KubeCredentialsError(`no current cluster with a server address in ${origin}`);
  return kc;
}
