import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** The wire-format samples the README's quick start posts (examples/events). */
export const SAMPLES_DIR = resolve(__dirname, '..', '..', 'examples', 'events');

export function sampleText(name: string): string {
  return readFileSync(resolve(SAMPLES_DIR, name), 'utf8');
}

export function sample<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(sampleText(name)) as T;
}

/** A Falco event like Falcosidekick posts it, with overrides. */
export function falcoEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    uuid: 'a3c2f1e0-0000-4000-8000-000000000001',
    output: '12:51:00.891344775: Notice A shell was spawned in a container with an attached terminal',
    priority: 'Notice',
    rule: 'Terminal shell in container',
    time: '2025-11-10T12:51:00.891344775Z',
    output_fields: {
      'container.id': '734cfc07ae4d',
      'container.name': 'nginx',
      'evt.time': 1762779060891344640, // a double: exact ns values arrive as text (see json.test.ts)
      'k8s.ns.name': 'shop',
      'k8s.pod.name': 'web-7c9f8d-abcde',
      'proc.cmdline': 'bash',
      'proc.tty': 34816,
      'user.name': 'root',
    },
    source: 'syscall',
    tags: ['T1059', 'container', 'shell'],
    hostname: 'node-a',
    ...overrides,
  };
}
