import { joinQuote, pluralize, sortedUnique } from '../format';
import { asArray, str } from '../pod-spec';
import type { CheckFn, Volume } from '../types';
import type { CheckDefinition } from './definition';

/** Volume sources restricted pods may use: ephemeral or backed by the cluster's own objects and PersistentVolumes. */
const ALLOWED_SOURCES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'image',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

/** The restricted sources upstream names in its message, in the order it tests them. */
const NAMED_RESTRICTED_SOURCES = [
  'hostPath',
  'gcePersistentDisk',
  'awsElasticBlockStore',
  'gitRepo',
  'nfs',
  'iscsi',
  'glusterfs',
  'rbd',
  'flexVolume',
  'cinder',
  'cephfs',
  'flocker',
  'fc',
  'azureFile',
  'vsphereVolume',
  'quobyte',
  'azureDisk',
  'photonPersistentDisk',
  'portworxVolume',
  'scaleIO',
  'storageos',
];

function sourceKeys(volume: Volume): string[] {
  return Object.keys(volume).filter((k) => k !== 'name' && volume[k] !== null && volume[k] !== undefined);
}

/**
 * The restricted type a volume uses, or undefined when allowed. A volume without any source is
 * allowed: the API server defaults it to emptyDir before admission sees it.
 */
export function restrictedVolumeType(volume: Volume): string | undefined {
  const keys = sourceKeys(volume);
  if (keys.length === 0 || keys.some((k) => ALLOWED_SOURCES.has(k))) return undefined;
  return NAMED_RESTRICTED_SOURCES.find((k) => keys.includes(k)) ?? 'unknown';
}

const restrictedVolumes: CheckFn = (_meta, spec) => {
  const bad: string[] = [];
  const types: string[] = [];
  for (const volume of asArray(spec.volumes)) {
    const type = restrictedVolumeType(volume);
    if (type === undefined) continue;
    bad.push(str(volume.name));
    types.push(type);
  }
  if (bad.length === 0) return undefined;
  const distinct = sortedUnique(types);
  return {
    reason: 'restricted volume types',
    detail: `${pluralize('volume', 'volumes', bad.length)} ${joinQuote(bad)} ${pluralize('uses', 'use', bad.length)} ${pluralize('restricted volume type', 'restricted volume types', distinct.length)} ${joinQuote(distinct)}`,
  };
};

export const RESTRICTED_VOLUMES: CheckDefinition = {
  id: 'restrictedVolumes',
  level: 'restricted',
  versions: [{ since: 0, check: restrictedVolumes }],
};
