/**
 * A real kube-apiserver (built by scripts/provision-kube-apiserver.sh) and etcd on free loopback ports,
 * wired to a Falconer the way deploy/ wires a cluster: deploy/'s audit policy, and the audit webhook
 * kubeconfig rendered from deploy/'s template (batch mode, max wait lowered to 1 s). Secure serving with
 * a self-signed certificate; static tokens for an admin (system:masters), a low-privilege user, and
 * Falconer's informers (the service-account name deploy/rbac.yaml binds).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { freePort } from './services';

const REPO_ROOT = resolve(__dirname, '../..');
const KUBE_BIN = join(REPO_ROOT, '.services', 'kube', 'bin');
export const PROVISION_HINT = 'run scripts/provision-kube-apiserver.sh (builds kube-apiserver once, installs etcd-server)';

/** Users of the static token file. */
export const USERS = {
  admin: { name: 'kube-admin', groups: ['system:masters'] },
  dev: { name: 'dev-user', groups: ['devs'] },
  falconer: { name: 'system:serviceaccount:falconer:falconer', groups: [] as string[] },
} as const;
export type UserName = keyof typeof USERS;

export interface Binaries {
  apiserver: string;
  etcd: string;
}

/** The provisioned binaries, or an error that says how to get them. */
export function kubeBinaries(): Binaries {
  const apiserver = join(KUBE_BIN, 'kube-apiserver');
  const etcd = existsSync(join(KUBE_BIN, 'etcd')) ? join(KUBE_BIN, 'etcd') : onPath('etcd');
  const missing = [!existsSync(apiserver) && apiserver, !etcd && 'etcd on PATH'].filter(Boolean);
  if (missing.length) throw new Error(`no real kube-apiserver: missing ${missing.join(' and ')}; ${PROVISION_HINT}`);
  return { apiserver, etcd: etcd! };
}

function onPath(name: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export interface RealKubeOptions {
  /** Where the audit webhook posts, e.g. http://127.0.0.1:PORT/v1/events/audit/NAME (replaces `server:`). */
  auditWebhookUrl: string;
  /** The bearer token the webhook presents (the template's `token:`). */
  auditWebhookToken: string;
  /** PEM of the CA that signed Falconer's certificate; default: the apiserver's own serving certificate. */
  auditWebhookCa?: string;
}

export interface AuditCounters {
  /** apiserver_audit_event_total: events the apiserver generated for its backends. */
  events: number;
  /** apiserver_audit_error_total (webhook): events it dropped after failing to send them. */
  errors: number;
}

export class RealKubeApiServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'falconer-real-kube-'));
  readonly tokens: Record<UserName, string> = {
    admin: randomBytes(16).toString('hex'),
    dev: randomBytes(16).toString('hex'),
    falconer: randomBytes(16).toString('hex'),
  };
  url = '';
  version = '';
  private etcd?: ChildProcess;
  private apiserver?: ChildProcess;
  private args: string[] = [];
  private readonly bin: Binaries;
  private ca = '';
  /** Counters of earlier apiserver processes (a restart starts its metrics from zero). */
  private earlier: AuditCounters = { events: 0, errors: 0 };

  constructor(private readonly options: RealKubeOptions) {
    this.bin = kubeBinaries();
  }

  private ports?: { etcdClient: number; etcdPeer: number; secure: number };

  /** Picks the ports and writes the certificates, so `url` and kubeconfigs are known before start. */
  async prepare(): Promise<this> {
    if (this.ports) return this;
    const [etcdClient, etcdPeer, secure] = await Promise.all([freePort(), freePort(), freePort()]);
    this.ports = { etcdClient, etcdPeer, secure };
    this.url = `https://127.0.0.1:${secure}`;
    const ssl = (...a: string[]) => execFileSync('openssl', a, { cwd: this.dir, stdio: 'pipe' });
    ssl(
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=kube-apiserver',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', 'serving.key', '-out', 'serving.crt',
    ); // prettier-ignore
    ssl('genrsa', '-out', 'sa.key', '2048');
    ssl('rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
    this.ca = readFileSync(join(this.dir, 'serving.crt'), 'utf8');
    return this;
  }

  async start(timeoutMs = 90_000): Promise<this> {
    await this.prepare();
    const { etcdClient, etcdPeer, secure: securePort } = this.ports!;
    const d = (f: string) => join(this.dir, f);
    writeFileSync(
      d('tokens.csv'),
      (Object.keys(USERS) as UserName[])
        .map((u) => `${this.tokens[u]},${USERS[u].name},uid-${u},"${USERS[u].groups.join(',')}"`)
        .join('\n') + '\n',
    );
    writeFileSync(d('audit-webhook.yaml'), this.renderWebhookConfig());

    this.etcd = this.spawn('etcd', this.bin.etcd, [
      '--name=default',
      `--data-dir=${d('etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      '--log-level=warn',
    ]);
    this.args = [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${securePort}`,
      `--tls-cert-file=${d('serving.crt')}`,
      `--tls-private-key-file=${d('serving.key')}`,
      `--cert-dir=${d('certs')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${d('sa.pub')}`,
      `--service-account-signing-key-file=${d('sa.key')}`,
      '--advertise-address=127.0.0.1',
      '--endpoint-reconciler-type=none',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--allow-privileged=true',
      `--token-auth-file=${d('tokens.csv')}`,
      '--authorization-mode=RBAC',
      `--audit-policy-file=${join(REPO_ROOT, 'deploy/apiserver/audit-policy.yaml')}`,
      `--audit-webhook-config-file=${d('audit-webhook.yaml')}`,
      '--audit-webhook-mode=batch',
      '--audit-webhook-batch-max-wait=1s',
      '--v=1',
    ];
    await this.startApiserver(timeoutMs);
    this.version = String(((await this.get('/version')).json as { gitVersion?: string }).gitVersion ?? '');
    return this;
  }

  /** Stops kube-apiserver (etcd keeps the data) and starts it again with the same flags and port. */
  async restart(timeoutMs = 90_000): Promise<void> {
    this.earlier = await this.auditCounters();
    await stopChild(this.apiserver);
    await this.startApiserver(timeoutMs);
  }

  async stop(): Promise<void> {
    await stopChild(this.apiserver);
    await stopChild(this.etcd);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A client-node KubeConfig for one of the token users. */
  kubeConfig(user: UserName): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'real', server: this.url, caData: Buffer.from(this.ca).toString('base64') }],
      users: [{ name: user, token: this.tokens[user] }],
      contexts: [{ name: user, cluster: 'real', user }],
      currentContext: user,
    });
    return kc;
  }

  /** A kubeconfig file for Falconer's informers (enrichment.live source kubeconfig). */
  writeKubeconfig(user: UserName): string {
    const file = join(this.dir, `kubeconfig-${user}`);
    writeFileSync(file, this.kubeConfig(user).exportConfig());
    return file;
  }

  /** Summed over this server's processes, restarts included. */
  async auditCounters(): Promise<AuditCounters> {
    const text = (await this.get('/metrics')).text;
    return {
      events: this.earlier.events + sumMetric(text, 'apiserver_audit_event_total'),
      errors: this.earlier.errors + sumMetric(text, 'apiserver_audit_error_total'),
    };
  }

  /** Raw HTTPS with a user's token (`kubectl get --raw`, and requests client-node has no method for). */
  call(
    method: string,
    path: string,
    user: UserName = 'admin',
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<HttpsAnswer> {
    return httpsRequest(new URL(path, this.url).toString(), {
      method,
      ca: this.ca,
      body,
      headers: { authorization: `Bearer ${this.tokens[user]}`, ...headers },
    });
  }

  /**
   * `call` for a write that PodSecurity admission judges right after the namespace's pod-security
   * labels changed. The admission reads namespaces from the apiserver's informer cache, which can trail
   * the PATCH: on a loaded box 2 of 10 pod creates right after a label change were judged by the old
   * level. So a refusal by PodSecurity is tried again (every 100 ms, up to `timeoutMs`); the last answer
   * comes back with how many refusals came first, for a test counting what the apiserver audited.
   */
  async callAfterRelabel(
    method: string,
    path: string,
    user: UserName,
    body: unknown,
    timeoutMs = 10_000,
  ): Promise<{ answer: HttpsAnswer; refusals: number }> {
    const deadline = Date.now() + timeoutMs;
    for (let refusals = 0; ; refusals++) {
      const answer = await this.call(method, path, user, body);
      const stale = answer.status === 403 && answer.text.includes('violates PodSecurity');
      if (!stale || Date.now() > deadline) return { answer, refusals };
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The apiserver's self-signed serving certificate (names 127.0.0.1): Falconer may serve with it too. */
  get serving(): { certFile: string; keyFile: string; ca: string } {
    return { certFile: join(this.dir, 'serving.crt'), keyFile: join(this.dir, 'serving.key'), ca: this.ca };
  }

  get(path: string, user: UserName = 'admin') {
    return this.call('GET', path, user);
  }

  private renderWebhookConfig(): string {
    const doc = parseYaml(readFileSync(join(REPO_ROOT, 'deploy/apiserver/audit-webhook-kubeconfig.yaml'), 'utf8')) as {
      clusters: { cluster: Record<string, unknown> }[];
      users: { user: Record<string, unknown> }[];
    };
    const cluster = doc.clusters[0]!.cluster;
    cluster.server = this.options.auditWebhookUrl;
    // client-go sends the bearer token only over HTTPS; without a CA given, Falconer serves with ours.
    cluster['certificate-authority-data'] = Buffer.from(this.options.auditWebhookCa ?? this.ca).toString('base64');
    doc.users[0]!.user.token = this.options.auditWebhookToken;
    return stringifyYaml(doc);
  }

  private async startApiserver(timeoutMs: number): Promise<void> {
    this.apiserver = this.spawn('kube-apiserver', this.bin.apiserver, this.args);
    const child = this.apiserver;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null) {
        throw new Error(
          `kube-apiserver exited with ${child.exitCode}; see ${join(this.dir, 'kube-apiserver.log')}:\n${this.tail('kube-apiserver')}`,
        );
      }
      if (this.etcd?.exitCode !== null) throw new Error(`etcd exited:\n${this.tail('etcd')}`);
      try {
        const r = await this.get('/readyz');
        if (r.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(`kube-apiserver not ready after ${timeoutMs} ms:\n${this.tail('kube-apiserver')}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  private spawn(name: string, bin: string, args: string[]): ChildProcess {
    const log = openSync(join(this.dir, `${name}.log`), 'a');
    const child = spawn(bin, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    return child;
  }

  private tail(name: string): string {
    try {
      return readFileSync(join(this.dir, `${name}.log`), 'utf8')
        .split('\n')
        .slice(-30)
        .join('\n');
    } catch {
      return '';
    }
  }
}

export interface HttpsAnswer {
  status: number;
  text: string;
  json: unknown;
}

/** One HTTPS request trusting `ca`; a JSON body is serialised. */
export function httpsRequest(
  url: string,
  options: { method: string; ca: string; body?: unknown; headers?: Record<string, string> },
): Promise<HttpsAnswer> {
  return new Promise((resolvePromise, reject) => {
    const u = new URL(url);
    const payload =
      options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: options.method,
        ca: options.ca,
        headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...options.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolvePromise({ status: res.statusCode ?? 0, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function sumMetric(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
