import type { Attribution, AttributionCandidate } from '../core/alert';
import type { SecurityEvent } from '../core/event';
import { podKey, type Session } from './sessions';

export interface AttributionOptions {
  /** A session with no end seen stays open this long after its start (kubelet's idle timeout is 4 h). */
  maxSessionMs: number;
  /** Allowed clock difference between the node (Falco) and the apiserver (audit). */
  skewMs: number;
}

/** What a runtime event offers to the join: where it ran, when, and what the process looks like. */
export interface RuntimeTarget {
  key: string;
  container?: string;
  timeMs: number;
  /** KEP-6035's `KUBERNETES_EXEC_AUDIT_ID`, read from Falco's `proc.env` output field. */
  execAuditID?: string;
  /** Process names to compare with the first word of a session's `command=`. */
  names: string[];
  tty?: boolean;
}

const AUDIT_ID_FIELD = 'proc.env[KUBERNETES_EXEC_AUDIT_ID]';
const ENV_FIELDS = ['proc.env', 'proc.aenv'] as const;
const AUDIT_ID_IN_ENV = /(?:^|[\s,;])KUBERNETES_EXEC_AUDIT_ID=([A-Za-z0-9-]{1,64})/;

/**
 * The runtime side of the join, or undefined for events that are not about a process in a pod. One
 * literal, not spreads of optional parts: it runs for every runtime alert, and a pending alert keeps
 * it (docs/performance.md § track-cost).
 */
export function runtimeTarget(event: SecurityEvent): RuntimeTarget | undefined {
  const f = event.falco;
  const k8s = event.k8s;
  const { namespace, pod } = k8s;
  if (!f || f.source === 'k8s_audit' || !namespace || !pod || k8s.containerId === 'host') return undefined;
  const fields = f.fields;
  const names: string[] = [];
  addName(names, fields['proc.name']);
  addName(names, fields['proc.pname']);
  const cmdline = event.process?.cmdline;
  if (cmdline) addName(names, cmdline.slice(0, cmdline.indexOf(' ') >>> 0));
  for (const k in fields) if (k.startsWith('proc.aname[')) addName(names, fields[k]);
  const tty = event.process?.tty;
  // Every field in the literal (absent ones undefined, which JSON leaves out): one shape, its fields in the object.
  return {
    key: podKey(k8s.cluster, namespace, pod),
    container: k8s.container || undefined,
    timeMs: nsToMs(event.timeNs),
    execAuditID: execAuditID(fields),
    // Copied to its length: an array grown by `push` has room for 16 (a pending alert keeps it).
    names: names.slice(),
    tty: typeof tty === 'number' ? tty !== 0 : undefined,
  };
}

function addName(names: string[], n: unknown): void {
  if (typeof n === 'string' && n !== '' && n !== '<NA>') names.push(n);
}

/** Whole milliseconds of a nanosecond count written in decimal (BigInt-free: this runs for every runtime event). */
function nsToMs(ns: string): number {
  return ns.length > 6 ? Number(ns.slice(0, -6)) : 0;
}

function execAuditID(fields: Record<string, string | number | boolean | null>): string | undefined {
  const direct = fields[AUDIT_ID_FIELD];
  if (typeof direct === 'string' && /^[A-Za-z0-9-]{1,64}$/.test(direct)) return direct;
  for (const name of ENV_FIELDS) {
    const env = fields[name];
    const m = typeof env === 'string' ? AUDIT_ID_IN_ENV.exec(env) : null;
    if (m) return m[1];
  }
  return undefined;
}

interface Fit {
  session: Session;
  containerNamed: boolean;
  inside: boolean;
}

/**
 * Which session the runtime event happened in. An audit ID carried by the process decides alone
 * (`exact`). Otherwise every session open on the pod at the event time (± skew) whose container fits
 * is a candidate; candidates are narrowed by what tells them apart (a container both sides name, the
 * command, the terminal), and if more than one user remains the answer is `ambiguous`, never a guess.
 * Undefined when nothing attributes the event (or the audit ID's session is not known yet).
 */
export function attribute(
  target: RuntimeTarget,
  sessions: readonly Session[],
  options: AttributionOptions,
): Attribution | undefined {
  if (target.execAuditID) {
    const session = sessions.find((s) => s.auditID === target.execAuditID);
    return session ? attributionOf([session], 'exact') : undefined;
  }
  let fits: Fit[] = [];
  for (const session of sessions) {
    const end = session.end ?? session.start + options.maxSessionMs;
    if (target.timeMs < session.start - options.skewMs || target.timeMs > end + options.skewMs) continue;
    const named = session.containers.length > 0 && target.container !== undefined;
    if (named && !session.containers.includes(target.container!)) continue;
    fits.push({ session, containerNamed: named, inside: target.timeMs >= session.start && target.timeMs <= end });
  }
  if (fits.length === 0) return undefined;
  if (fits.length === 1) {
    // What the narrowing below comes to for one session (the usual case), without its arrays.
    const only = fits[0]!;
    return attributionOf([only.session], only.containerNamed && only.inside ? 'high' : 'low');
  }
  fits = narrow(fits, (f) => f.containerNamed);
  fits = narrow(fits, (f) => commandFits(f.session, target.names));
  if (target.tty !== undefined) fits = narrow(fits, (f) => f.session.tty === target.tty);
  fits = narrow(fits, (f) => f.inside);

  const users = new Set(fits.map((f) => f.session.user));
  if (users.size > 1) return attributionOf(onePerUser(fits.map((f) => f.session)), 'ambiguous');
  const best = fits.find((f) => f.containerNamed && f.inside) ?? fits[0]!;
  return attributionOf([best.session], best.containerNamed && best.inside ? 'high' : 'low');
}

/** Keeps the fits that have the property, unless none has it. */
function narrow(fits: Fit[], has: (f: Fit) => boolean): Fit[] {
  const kept = fits.filter(has);
  return kept.length ? kept : fits;
}

function commandFits(session: Session, names: string[]): boolean {
  const first = session.command[0];
  if (!first) return false;
  const base = first.slice(first.lastIndexOf('/') + 1);
  // Falco cuts proc.name at 15 characters (the kernel's comm).
  return base !== '' && names.some((n) => n === base || (n.length === 15 && base.startsWith(n)));
}

function onePerUser(sessions: Session[]): Session[] {
  const byUser = new Map<string, Session>();
  for (const s of sessions) if (!byUser.has(s.user)) byUser.set(s.user, s);
  return [...byUser.values()].sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
}

function candidateOf(s: Session): AttributionCandidate {
  return {
    user: s.user,
    groups: s.groups,
    sourceIPs: s.sourceIPs,
    userAgent: s.userAgent,
    auditID: s.auditID,
    command: s.command.length ? s.command.join(' ') : null,
    kind: s.kind,
  };
}

function attributionOf(sessions: Session[], confidence: Attribution['confidence']): Attribution {
  const candidates = sessions.map(candidateOf);
  if (confidence === 'ambiguous') {
    return {
      user: null,
      groups: [],
      sourceIPs: [],
      userAgent: null,
      auditID: null,
      command: null,
      confidence,
      candidates,
    };
  }
  const c = candidates[0]!;
  return {
    user: c.user,
    groups: c.groups,
    sourceIPs: c.sourceIPs,
    userAgent: c.userAgent,
    auditID: c.auditID,
    command: c.command,
    confidence,
    candidates,
  };
}

/** Whether `next` says more than `previous` (used to decide whether an announced alert is updated). */
export function sameAttribution(
  a: Pick<Attribution, 'confidence' | 'user' | 'auditID' | 'candidates'> | undefined,
  b: (Pick<Attribution, 'confidence' | 'user' | 'auditID'> & { candidates: { auditID: string }[] }) | undefined,
): boolean {
  if (!a || !b) return a === b;
  return (
    a.confidence === b.confidence &&
    a.user === b.user &&
    a.auditID === b.auditID &&
    a.candidates.map((c) => c.auditID).join() === b.candidates.map((c) => c.auditID).join()
  );
}
