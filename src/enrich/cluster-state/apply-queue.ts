import type { ArrivalMode } from '../../findings/store';
import type { ClusterState } from './state';
import type { StateKind } from './types';

type Op =
  | { op: 'upsert'; kind: StateKind; object: Record<string, unknown> }
  | { op: 'delete'; kind: StateKind; namespace?: string; name: string; resourceVersion?: string }
  | { op: 'finding-upsert'; object: Record<string, unknown>; mode: ArrivalMode }
  | { op: 'finding-delete'; kind: string; namespace?: string; name: string; mode: ArrivalMode }
  | { op: 'run'; fn: () => void };

/**
 * Applies informer changes to a ClusterState in order, a bounded number per event-loop turn, so a full
 * re-list of a big cluster does not hold up request handling. After an upsert the informer's copy of the
 * object is cut down to its identity: the informer only needs name, namespace and resourceVersion to
 * diff the next re-list, and ClusterState keeps its own slim copy.
 */
export class ApplyQueue {
  private ops: Op[] = [];
  private head = 0;
  private scheduled = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly state: ClusterState,
    private readonly chunkSize: number,
  ) {}

  upsert(kind: StateKind, object: Record<string, unknown>): void {
    this.push({ op: 'upsert', kind, object });
  }

  delete(kind: StateKind, object: Record<string, unknown>): void {
    const meta = metadataOf(object);
    if (typeof meta.name !== 'string') return;
    this.push({
      op: 'delete',
      kind,
      name: meta.name,
      ...(typeof meta.namespace === 'string' ? { namespace: meta.namespace } : {}),
      ...(typeof meta.resourceVersion === 'string' ? { resourceVersion: meta.resourceVersion } : {}),
    });
  }

  /** A policy/vulnerability report or Event (raw, or normalised while listing). */
  upsertFinding(object: Record<string, unknown>, mode: ArrivalMode): void {
    this.push({ op: 'finding-upsert', object, mode });
  }

  /** `kind` is the report's kind (a Gatekeeper constraint's own kind). */
  deleteFinding(kind: string, object: Record<string, unknown>, mode: ArrivalMode): void {
    const meta = metadataOf(object);
    if (typeof meta.name !== 'string') return;
    const namespace = typeof meta.namespace === 'string' ? { namespace: meta.namespace } : {};
    this.push({ op: 'finding-delete', kind, name: meta.name, ...namespace, mode });
  }

  /** Runs `fn` once everything queued before it has been applied. */
  afterQueued(fn: () => void): void {
    this.push({ op: 'run', fn });
  }

  pending(): number {
    return this.ops.length - this.head;
  }

  /** Resolves when the queue is empty. */
  idle(): Promise<void> {
    if (this.pending() === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops whatever is still queued; later pushes are ignored. */
  close(): void {
    this.closed = true;
    this.ops = [];
    this.head = 0;
    this.wakeIdle();
  }

  private push(op: Op): void {
    if (this.closed) return;
    this.ops.push(op);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  private readonly drain = (): void => {
    const end = Math.min(this.ops.length, this.head + this.chunkSize);
    while (this.head < end) {
      const op = this.ops[this.head] as Op;
      this.ops[this.head++] = undefined as unknown as Op; // let the raw object go
      this.apply(op);
    }
    if (this.head < this.ops.length) {
      setImmediate(this.drain);
      return;
    }
    this.ops = [];
    this.head = 0;
    this.scheduled = false;
    this.wakeIdle();
  };

  private apply(op: Op): void {
    switch (op.op) {
      case 'upsert':
        this.state.upsert(op.object, op.kind);
        shrinkToIdentity(op.object);
        break;
      case 'delete':
        this.state.delete(op.kind, op.namespace, op.name, op.resourceVersion);
        break;
      case 'finding-upsert':
        this.state.upsertFinding(op.object, op.mode);
        shrinkToIdentity(op.object);
        break;
      case 'finding-delete':
        this.state.deleteFinding(op.kind, op.namespace, op.name, op.mode);
        break;
      case 'run':
        op.fn();
        break;
    }
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

const IDENTITY_FIELDS = new Set(['name', 'namespace', 'resourceVersion']);

/** Cuts an object down in place to `{metadata: {name, namespace, resourceVersion}}`. */
export function shrinkToIdentity(object: Record<string, unknown>): void {
  for (const key of Object.keys(object)) if (key !== 'metadata') delete object[key];
  const meta = metadataOf(object);
  for (const key of Object.keys(meta)) if (!IDENTITY_FIELDS.has(key)) delete meta[key];
}

function metadataOf(object: Record<string, unknown>): Record<string, unknown> {
  const meta = object.metadata;
  return typeof meta === 'object' && meta !== null && !Array.isArray(meta) ? (meta as Record<string, unknown>) : {};
}
