import type { Container, PodSpec } from './types';

/** Every container in the order the admission controller visits them: init, regular, ephemeral. */
export function allContainers(spec: PodSpec): Container[] {
  return [...asArray(spec.initContainers), ...asArray(spec.containers), ...asArray(spec.ephemeralContainers)];
}

export function containerName(container: Container): string {
  return typeof container.name === 'string' ? container.name : '';
}

export function asArray<T>(value: T[] | undefined): T[] {
  return Array.isArray(value) ? value.filter((v) => v !== null && typeof v === 'object') : [];
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Reads a string field the way Go reads an unset one: absent or non-string is "". */
export function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export function isWindowsPod(spec: PodSpec): boolean {
  return isObject(spec.os) && spec.os.name === 'windows';
}
