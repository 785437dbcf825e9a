import { createHash } from 'node:crypto';
import type { Alert, AlertGroup } from '../core/alert';
import type { Clock, TimerHandle } from '../core/clock';
import { priorityRank } from '../core/priority';
import type { Logger } from '../observability/logger';
import type { StateStore } from '../store/port';
import { groupKey, groupLabels, matchRoutes, type Route } from './route';
import { isSuppressed, type Suppressor } from './suppress';

/** What a group flush asks of the delivery queue. */
export interface GroupDelivery {
  /** The first notification of a group; idempotent across replicas (one send per group, and no refresh when it exists). */
  announce(alert: Alert, options: { refreshExisting: false }): Promise<void>;
  /** A later notification of the same group, sent in place of the first (Slack chat.update...). */
  update(alert: Alert): void;
  /** Every member resolved: the group's resolve. Idempotent across replicas. */
  resolve(alert: Alert, at: number): Promise<void>;
}

export interface GrouperOptions {
  /** A member resolves after this long without an occurrence. */
  resolveAfterMs: number;
  /** Most alerts one group keeps (the rest are counted as truncated). */
  maxAlertsPerGroup: number;
  /** How long a group's state outlives its last change in the store. */
  ttlMs: number;
  /** Whether the route's mute / active time intervals silence it at `now` (time-intervals.ts). */
  isMuted?: (route: Route, now: number) => boolean;
  /** Members that stay firing whatever their quiet period (a finding that still fails: FindingAlerts.holds). */
  held?: (alert: Alert) => boolean;
  /**
   * With a store other processes share (Redis) or that outlives this one (the data dir): how long
   * after its due time a group counts as orphaned (its replica died) and this one flushes it.
   * Undefined: groups are only flushed by the timers of the process that holds them.
   */
  orphanGraceMs?: number;
}

interface Member {
  alert: Alert;
  /** It was part of a sent notification, so its resolve is owed even if it is muted now (AM #226). */
  notified: boolean;
  resolvedAt?: number;
}

/** A group's shared state, one JSON document in the store per receiver and group key. */
interface GroupDoc {
  key: string;
  receiver: string;
  /** Child indexes from the root to the route node (the tree is the same on every replica). */
  path: number[];
  labels: Record<string, string>;
  createdAt: number;
  members: Record<string, Member>;
  truncated: number;
  nextFlushAt: number;
  notifiedAt?: number;
  /** The firing and resolved members the last notification listed. */
  notifiedFiring?: string[];
  seq: number;
}

type Decision = { kind: 'none' } | { kind: 'first' | 'update'; reason: AlertGroup['reason'] } | { kind: 'resolve'; at: number };

const CAS_ATTEMPTS = 8;

/**
 * Grouping and its timers (docs/alerting.md#timing), Alertmanager's model with its best-known surprise
 * fixed. A new group waits `group_wait`, then notifies; after that it is looked at every
 * `group_interval` and notifies again (in place) when its firing alerts changed; unchanged, it repeats
 * once `repeat_interval` has passed since the last notification — as written, not rounded up to a
 * multiple of `group_interval`. The group state lives in the store, and every flush is a
 * compare-and-set, so with several replicas one group is notified once.
 */
export class Grouper {
  private readonly timers = new Map<string, { at: number; handle: TimerHandle }>();
  private readonly active = new Set<Promise<void>>();
  private recoveryTimer: TimerHandle | undefined;
  private closed = false;

  constructor(
    private readonly tree: Route,
    private readonly store: StateStore,
    private readonly delivery: GroupDelivery,
    private readonly suppressor: Suppressor | undefined,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: GrouperOptions,
  ) {}

  /** Adds (or refreshes) the alert in the group of every route it matches; resolves once stored. */
  async add(alert: Alert): Promise<void> {
    const seen = new Set<string>();
    for (const route of matchRoutes(this.tree, alert.labels)) {
      const key = groupKey(route, alert.labels);
      const docKey = groupDocKey(route.receiver, key);
      if (seen.has(docKey)) continue;
      seen.add(docKey);
      let created = false;
      const doc = await this.upsert(docKey, (current) => {
        created = current === undefined;
        const now = this.clock.now();
        const doc: GroupDoc = current ?? {
          key,
          receiver: route.receiver,
          path: pathOf(route),
          labels: groupLabels(route, alert.labels),
          createdAt: now,
          members: {},
          truncated: 0,
          nextFlushAt: now + route.groupWaitMs,
          seq: 0,
        };
        const existing = doc.members[alert.fingerprint];
        if (!existing && Object.keys(doc.members).length >= this.options.maxAlertsPerGroup) {
          doc.truncated++;
          return doc;
        }
        doc.members[alert.fingerprint] = { alert: slim(alert), notified: existing?.notified ?? false };
        return doc;
      });
      if (created) await this.listForRecovery(docKey, doc.nextFlushAt);
      this.ensureTimer(docKey, doc.nextFlushAt);
    }
  }

  /**
   * Flushes the groups whose due time passed more than the grace ago with nobody flushing them (their
   * replica stopped); each flush is a compare-and-set, so a live replica racing this one is harmless.
   */
  async recover(limit = 100): Promise<void> {
    if (this.options.orphanGraceMs === undefined) return;
    for (const key of await this.store.due(this.clock.now(), limit)) {
      if (!key.startsWith('group:') || this.timers.has(key)) continue;
      await this.flush(key);
    }
  }

  private async listForRecovery(docKey: string, nextFlushAt: number): Promise<void> {
    if (this.options.orphanGraceMs !== undefined) await this.store.schedule(docKey, nextFlushAt + this.options.orphanGraceMs);
  }

  /** Resolves once no flush is running (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.active.size) await Promise.all([...this.active]);
  }

  /** Looks for orphaned groups every `intervalMs` (only with `orphanGraceMs`). */
  startRecovery(intervalMs: number): void {
    if (this.options.orphanGraceMs === undefined || this.closed) return;
    this.recoveryTimer = this.clock.setTimeout(() => {
      const work = this.recover()
        .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'group recovery failed'))
        .finally(() => this.startRecovery(intervalMs));
      const tracked = work.finally(() => this.active.delete(tracked));
      this.active.add(tracked);
    }, intervalMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.recoveryTimer) this.clock.clearTimeout(this.recoveryTimer);
    for (const { handle } of this.timers.values()) this.clock.clearTimeout(handle);
    this.timers.clear();
    await this.settled();
  }

  private ensureTimer(docKey: string, at: number): void {
    if (this.closed) return;
    const current = this.timers.get(docKey);
    if (current && current.at <= at) return;
    if (current) this.clock.clearTimeout(current.handle);
    const handle = this.clock.setTimeout(
      () => {
        this.timers.delete(docKey);
        const work = this.flush(docKey).catch((err: unknown) => {
          this.log.warn({ err: (err as Error).message }, 'group flush failed; retrying at the next interval');
          this.ensureTimer(docKey, this.clock.now() + 1000);
        });
        const tracked = work.finally(() => this.active.delete(tracked));
        this.active.add(tracked);
      },
      Math.max(0, at - this.clock.now()),
    );
    this.timers.set(docKey, { at, handle });
  }

  private async flush(docKey: string): Promise<void> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const raw = await this.store.get(docKey);
      if (raw === undefined) {
        if (this.options.orphanGraceMs !== undefined) await this.store.unschedule(docKey); // expired meanwhile
        return;
      }
      const doc = JSON.parse(raw) as GroupDoc;
      const now = this.clock.now();
      if (now < doc.nextFlushAt) return this.ensureTimer(docKey, doc.nextFlushAt); // another replica flushed
      const route = nodeAt(this.tree, doc.path);
      if (!route) {
        await this.store.delete(docKey); // the tree changed under the group
        if (this.options.orphanGraceMs !== undefined) await this.store.unschedule(docKey);
        return;
      }
      const members = Object.entries(doc.members);
      for (const [, m] of members) {
        const quietUntil = m.alert.lastSeen + this.options.resolveAfterMs;
        if (m.resolvedAt === undefined && now >= quietUntil && !this.options.held?.(m.alert)) m.resolvedAt = quietUntil;
      }
      const firing: string[] = [];
      for (const [fp, m] of members) {
        if (m.resolvedAt !== undefined) continue;
        if (this.suppressor && isSuppressed(await this.suppressor.check(m.alert))) continue;
        firing.push(fp);
      }
      firing.sort();
      const resolvedOwed = members.filter(([, m]) => m.resolvedAt !== undefined && m.notified).map(([fp]) => fp);
      const stillOpen = members.some(([, m]) => m.resolvedAt === undefined);
      const decision = this.decide(doc, route, now, firing, resolvedOwed, stillOpen);

      const next = structuredClone(doc);
      next.seq++;
      let notification: Alert | undefined;
      if (decision.kind !== 'none') {
        const listed = decision.kind === 'resolve' ? resolvedOwed : [...firing, ...resolvedOwed];
        const reason = decision.kind === 'resolve' ? 'all alerts resolved' : decision.reason;
        notification = groupAlert(doc, listed, reason);
        next.notifiedAt = now;
        next.notifiedFiring = firing;
        for (const fp of firing) next.members[fp]!.notified = true;
      }
      // Resolved members leave once they are reported (or were never notified).
      for (const [fp, m] of members) if (m.resolvedAt !== undefined && (!m.notified || notification)) delete next.members[fp];
      const empty = Object.keys(next.members).length === 0;
      next.nextFlushAt = this.nextFlush(route, now, next.notifiedAt);

      // A first notification and a resolve are handed off before the state moves on (each is idempotent
      // across replicas), so a crash between the two repeats the hand-off rather than losing it.
      if (notification && decision.kind === 'first') await this.delivery.announce(notification, { refreshExisting: false });
      if (notification && decision.kind === 'resolve') await this.delivery.resolve(notification, decision.at);
      const written = empty
        ? await this.store.replace(docKey, raw, JSON.stringify({ ...next, members: {} }), 1000)
        : await this.store.replace(docKey, raw, JSON.stringify(next), this.options.ttlMs);
      if (!written) continue; // changed meanwhile (a new alert, or another replica's flush): look again
      if (empty) await this.store.delete(docKey);
      if (empty && this.options.orphanGraceMs !== undefined) await this.store.unschedule(docKey);
      if (notification && decision.kind === 'update') this.delivery.update(notification);
      if (!empty) await this.listForRecovery(docKey, next.nextFlushAt);
      if (!empty) this.ensureTimer(docKey, next.nextFlushAt);
      return;
    }
    throw new Error(`group ${docKey} changed ${CAS_ATTEMPTS} times during one flush`);
  }

  private decide(
    doc: GroupDoc,
    route: Route,
    now: number,
    firing: string[],
    resolvedOwed: string[],
    stillOpen: boolean,
  ): Decision {
    if (this.options.isMuted?.(route, now)) return { kind: 'none' };
    if (doc.notifiedAt === undefined) return firing.length ? { kind: 'first', reason: 'first notification' } : { kind: 'none' };
    if (!stillOpen) {
      const at = Math.max(...resolvedOwed.map((fp) => doc.members[fp]!.resolvedAt!));
      return resolvedOwed.length ? { kind: 'resolve', at } : { kind: 'none' };
    }
    const before = new Set(doc.notifiedFiring ?? []);
    const added = firing.some((fp) => !before.has(fp));
    const changed = added || resolvedOwed.length > 0 || firing.length !== before.size;
    if (changed && firing.length) return { kind: 'update', reason: added ? 'new alerts added' : 'some alerts resolved' };
    if (!changed && firing.length && now >= doc.notifiedAt + route.repeatIntervalMs)
      return { kind: 'update', reason: 'repeat interval elapsed' };
    return { kind: 'none' };
  }

  /** The next look: one group_interval on, or sooner when the repeat falls due before it. */
  private nextFlush(route: Route, now: number, notifiedAt: number | undefined): number {
    const tick = now + route.groupIntervalMs;
    if (notifiedAt === undefined) return tick;
    const repeatAt = notifiedAt + route.repeatIntervalMs;
    return repeatAt > now && repeatAt < tick ? repeatAt : tick;
  }

  private async upsert(docKey: string, edit: (doc: GroupDoc | undefined) => GroupDoc): Promise<GroupDoc> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const raw = await this.store.get(docKey);
      const doc = edit(raw === undefined ? undefined : (JSON.parse(raw) as GroupDoc));
      const json = JSON.stringify(doc);
      const ok =
        raw === undefined
          ? await this.store.setIfAbsent(docKey, json, this.options.ttlMs)
          : await this.store.replace(docKey, raw, json, this.options.ttlMs);
      if (ok) return doc;
    }
    throw new Error(`group ${docKey} changed ${CAS_ATTEMPTS} times while adding an alert`);
  }
}

export function groupDocKey(receiver: string, key: string): string {
  return `group:${receiver}:${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

/** The alert that stands for a group in the delivery queue: its own fingerprint, the group's start time. */
function groupAlert(doc: GroupDoc, listed: string[], reason: AlertGroup['reason']): Alert {
  const alerts = listed.map((fp) => doc.members[fp]!.alert);
  const lead = [...alerts].sort((a, b) => priorityRank(b.priority) - priorityRank(a.priority) || b.lastSeen - a.lastSeen)[0]!;
  const resolvedAt: Record<string, number> = {};
  for (const fp of listed) if (doc.members[fp]!.resolvedAt !== undefined) resolvedAt[fp] = doc.members[fp]!.resolvedAt!;
  return {
    ...lead,
    fingerprint: `g${createHash('sha256').update(`${doc.receiver}\u0000${doc.key}`).digest('hex').slice(0, 23)}`,
    labels: doc.labels,
    evidence: [],
    count: alerts.reduce((n, a) => n + a.count, 0),
    firstSeen: doc.createdAt,
    lastSeen: Math.max(...alerts.map((a) => a.lastSeen)),
    group: { key: doc.key, receiver: doc.receiver, labels: doc.labels, alerts, truncated: doc.truncated, resolvedAt, reason },
  };
}

/** The alert as a group member keeps it: without the raw payload. */
function slim(alert: Alert): Alert {
  const { silencedBy: _s, inhibitedBy: _i, resolvedAt: _r, ...rest } = alert;
  return { ...rest, event: { ...alert.event, raw: {} } };
}

function pathOf(route: Route): number[] {
  const path: number[] = [];
  for (let r = route; r.parent; r = r.parent) path.unshift(r.parent.routes.indexOf(r));
  return path;
}

function nodeAt(root: Route, path: number[]): Route | undefined {
  let node: Route | undefined = root;
  for (const i of path) node = node?.routes[i];
  return node;
}
