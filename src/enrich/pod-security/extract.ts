import { FalconerError } from '../../core/errors';
import { isObject } from './pod-spec';
import type { ObjectMeta, PodSpec } from './types';

/** A pod's spec and the metadata that goes with it (the pod template's, for workloads). */
export interface ExtractedPod {
  kind: string;
  /** The object's own name and namespace (the workload's, not its template's). */
  name: string;
  namespace: string;
  metadata: ObjectMeta;
  spec: PodSpec;
}

export class NotAPodError extends FalconerError {
  constructor(kind: string) {
    super('not_a_pod', `${kind || 'object'} has no pod spec to evaluate`, 400);
  }
}

/** Where each kind keeps its pod template, as a path of keys below the object. */
const TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
  PodTemplate: ['template'],
};

export const EVALUABLE_KINDS: readonly string[] = ['Pod', ...Object.keys(TEMPLATE_PATHS)];

function dig(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) current = isObject(current) ? current[key] : undefined;
  return current;
}

function asMeta(value: unknown): ObjectMeta {
  return isObject(value) ? (value as ObjectMeta) : {};
}

function asSpec(value: unknown): PodSpec {
  return isObject(value) ? (value as PodSpec) : {};
}

/** Finds the pod template in an object, or undefined when it has none (Service, ConfigMap, ...). */
export function tryExtractPod(object: unknown): ExtractedPod | undefined {
  if (!isObject(object)) return undefined;
  const kind = typeof object.kind === 'string' ? object.kind : '';
  const ownMeta = asMeta(object.metadata);
  const identity = {
    name: typeof ownMeta.name === 'string' ? ownMeta.name : '',
    namespace: typeof ownMeta.namespace === 'string' ? ownMeta.namespace : '',
  };
  const templatePath = TEMPLATE_PATHS[kind];
  if (templatePath) {
    const template = dig(object, templatePath);
    if (!isObject(template)) return undefined;
    return {
      kind,
      ...identity,
      metadata: asMeta(template.metadata),
      spec: asSpec(template.spec),
    };
  }
  if (kind === 'Pod' || (kind === '' && isObject(object.spec))) {
    return {
      kind: kind || 'Pod',
      ...identity,
      metadata: ownMeta,
      spec: asSpec(object.spec),
    };
  }
  // A bare PodSpec.
  if (kind === '' && (Array.isArray(object.containers) || Array.isArray(object.initContainers))) {
    return {
      kind: 'PodSpec',
      name: '',
      namespace: '',
      metadata: {},
      spec: object as PodSpec,
    };
  }
  return undefined;
}

export function extractPod(object: unknown): ExtractedPod {
  const pod = tryExtractPod(object);
  if (!pod) throw new NotAPodError(isObject(object) && typeof object.kind === 'string' ? object.kind : '');
  return pod;
}
