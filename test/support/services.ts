/**
 * Real Redis and Kafka for the test suite. Three ways to get them, tried in order:
 *   1. the environment names running ones (FALCONER_TEST_KAFKA_BROKERS, FALCONER_TEST_REDIS_URL);
 *   2. a Docker engine is reachable: testcontainers starts redis and apache/kafka (KRaft);
 *   3. native: Debian's redis-server and the Maven Central Kafka jars (scripts/provision.sh) run
 *      with Java on free loopback ports, data in a temporary folder.
 * When none works the run fails with what to install. test/global-setup.ts calls this once per run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';

export const KAFKA_ENV = 'FALCONER_TEST_KAFKA_BROKERS';
export const REDIS_ENV = 'FALCONER_TEST_REDIS_URL';
/** Set to `off` to start nothing (fast targeted unit runs); suites that need a service then fail. */
export const SERVICES_SWITCH_ENV = 'FALCONER_TEST_SERVICES';

const REPO_ROOT = resolve(__dirname, '../..');
const KAFKA_IMAGE = 'apache/kafka:4.1.1';
const REDIS_IMAGE = 'redis:7-alpine';

export type Origin = 'env' | 'docker' | 'native';

export interface RunningService {
  origin: Origin;
  /** For Kafka a comma-separated broker list; for Redis a redis:// URL. */
  address: string;
  stop(): Promise<void>;
}

export interface TestServices {
  kafka: RunningService;
  redis: RunningService;
  stop(): Promise<void>;
}

/** Starts (or finds) Redis and Kafka in parallel. */
export async function startTestServices(env: NodeJS.ProcessEnv = process.env): Promise<TestServices> {
  const docker = env[KAFKA_ENV] && env[REDIS_ENV] ? false : await dockerReachable(env);
  const [kafka, redis] = await settleBoth(
    env[KAFKA_ENV] ? Promise.resolve(fromEnv(env[KAFKA_ENV])) : docker ? dockerKafka() : startNativeKafka(),
    env[REDIS_ENV] ? Promise.resolve(fromEnv(env[REDIS_ENV])) : docker ? dockerRedis() : startNativeRedis(),
  );
  return {
    kafka,
    redis,
    stop: async () => {
      await Promise.allSettled([kafka.stop(), redis.stop()]);
    },
  };
}

/** For test files: the brokers the global setup exported, or a failure that says how to get them. */
export function testKafkaBrokers(): string[] {
  return requireEnv(KAFKA_ENV).split(',');
}

export function testRedisUrl(): string {
  return requireEnv(REDIS_ENV);
}

/** A name no other test (or earlier run against the same long-lived services) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

function requireEnv(name: string): string {
  const value = process.env[name];
  if (value) return value;
  const why =
    process.env[SERVICES_SWITCH_ENV] === 'off'
      ? `${SERVICES_SWITCH_ENV}=off told the global setup to start nothing`
      : 'the global setup (test/global-setup.ts) did not run';
  throw new Error(`${name} is not set: ${why}. Run the suite with \`npm test\` or set ${name}.`);
}

function fromEnv(address: string): RunningService {
  return { origin: 'env', address, stop: async () => {} };
}

/** Waits for both; if one fails, stops the other before reporting every failure. */
async function settleBoth(a: Promise<RunningService>, b: Promise<RunningService>): Promise<[RunningService, RunningService]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'fulfilled' && rb.status === 'fulfilled') return [ra.value, rb.value];
  const failures: string[] = [];
  for (const r of [ra, rb]) {
    if (r.status === 'fulfilled') await r.value.stop().catch(() => {});
    else failures.push(r.reason instanceof Error ? r.reason.message : String(r.reason));
  }
  throw new Error(`test services could not start:\n- ${failures.join('\n- ')}`);
}

// ---------------------------------------------------------------------------------------------
// Docker (testcontainers)

/** Only asks testcontainers when a socket or DOCKER_HOST suggests an engine: its probe is slow. */
async function dockerReachable(env: NodeJS.ProcessEnv): Promise<boolean> {
  const hinted =
    Boolean(env.DOCKER_HOST) || existsSync('/var/run/docker.sock') || existsSync(join(env.HOME ?? '', '.docker/run/docker.sock'));
  if (!hinted) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function dockerRedis(): Promise<RunningService> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer(REDIS_IMAGE)
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
    .start();
  const address = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
  return {
    origin: 'docker',
    address,
    stop: async () => void (await container.stop()),
  };
}

async function dockerKafka(): Promise<RunningService> {
  const { GenericContainer } = await import('testcontainers');
  // The advertised address must be the one the host dials, so the container listens on the very
  // port that is published on the host.
  const port = await freePort();
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(
    brokerSettings({
      port,
      controllerPort: 9093,
      listenHost: '0.0.0.0',
      dataDir: '/tmp/kraft',
    }),
  )) {
    env[`KAFKA_${key.toUpperCase().replace(/\./g, '_')}`] = value;
  }
  env.CLUSTER_ID = kraftClusterId();
  const container = await new GenericContainer(KAFKA_IMAGE)
    .withEnvironment(env)
    .withExposedPorts({ container: port, host: port })
    .start();
  const address = `127.0.0.1:${port}`;
  await waitForKafka(address, 90_000, () => undefined);
  return {
    origin: 'docker',
    address,
    stop: async () => void (await container.stop()),
  };
}

// ---------------------------------------------------------------------------------------------
// Native processes

export interface NativeOptions {
  /** Folder for data and logs; a fresh temporary one when omitted. Removed on stop. */
  dir?: string;
  /** Port to listen on; a free one when omitted (a restart test passes the old port). */
  port?: number;
  /** Extra command-line arguments (redis-server only), e.g. `['--requirepass', 'x']`. */
  args?: string[];
}

/** Starts Debian's redis-server on a free loopback port, without persistence. */
export async function startNativeRedis(options: NativeOptions = {}): Promise<RunningService> {
  if (!commandExists('redis-server')) {
    throw new Error(
      'redis-server not found: `npm test` installs it through scripts/provision.sh (`apt-get install redis-server`, as root), ' +
        `or start Redis yourself and set ${REDIS_ENV}=redis://host:port, or run a Docker engine.`,
    );
  }
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'falconer-redis-'));
  const port = options.port ?? (await freePort());
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--logfile',
      join(dir, 'redis.log'),
      ...(options.args ?? []),
    ],
    { stdio: 'ignore' },
  );
  const address = `redis://127.0.0.1:${port}`;
  const stop = stopper(child, dir, options.dir === undefined, 2_000);
  try {
    await waitForRedis(address, child, 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { origin: 'native', address, stop };
}

export interface NativeKafkaOptions extends NativeOptions {
  /** Folder of the Kafka jars; FALCONER_KAFKA_LIBS or <repo>/.services/kafka/libs by default. */
  libs?: string;
  /** Extra broker settings (server.properties keys). */
  settings?: Record<string, string>;
}

/** Formats and starts a single-node KRaft Kafka from the provisioned jars. Cold start: ~5 s here. */
export async function startNativeKafka(options: NativeKafkaOptions = {}): Promise<RunningService> {
  const libs = options.libs ?? process.env.FALCONER_KAFKA_LIBS ?? join(REPO_ROOT, '.services/kafka/libs');
  if (!existsSync(libs)) {
    throw new Error(
      `Kafka jars not found in ${libs}: \`npm test\` fetches them through scripts/provision.sh (org.apache.kafka:kafka_2.13 4.x ` +
        `from Maven Central; needs Java 17 and Maven), or start Kafka yourself and set ${KAFKA_ENV}=host:port, or run a Docker engine.`,
    );
  }
  if (!commandExists('java')) {
    throw new Error(
      'java not found: Kafka needs Java 17 or newer (`apt-get install openjdk-17-jre-headless`, or run `bash scripts/provision.sh`).',
    );
  }
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'falconer-kafka-'));
  const [port, controllerPort] = options.port ? [options.port, await freePort()] : await Promise.all([freePort(), freePort()]);
  const settings = {
    ...brokerSettings({
      port,
      controllerPort,
      listenHost: '127.0.0.1',
      dataDir: join(dir, 'data'),
    }),
    ...options.settings,
  };
  writeFileSync(join(dir, 'server.properties'), toProperties(settings));
  writeFileSync(join(dir, 'log4j2.properties'), LOG4J2_CONFIG);

  const classpath = join(libs, '*');
  const jvm = [
    '-Xms128m',
    '-Xmx512m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
  ];
  // A restart on the same folder keeps its storage (and cluster id); only a new folder is formatted.
  if (!existsSync(join(dir, 'data', 'meta.properties'))) {
    const format = spawnSync(
      'java',
      [
        ...jvm,
        '-cp',
        classpath,
        'kafka.tools.StorageTool',
        'format',
        '--ignore-formatted',
        '-t',
        kraftClusterId(),
        '-c',
        join(dir, 'server.properties'),
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    if (format.status !== 0) {
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
      throw new Error(`formatting Kafka storage failed (exit ${format.status}): ${format.stderr || format.stdout}`);
    }
  }

  const logFile = join(dir, 'kafka.log');
  const out = openSync(logFile, 'a');
  const child = spawn('java', [...jvm, '-cp', classpath, 'kafka.Kafka', join(dir, 'server.properties')], {
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const address = `127.0.0.1:${port}`;
  const stop = stopper(child, dir, options.dir === undefined, 5_000);
  try {
    await waitForKafka(address, 60_000, () => exitNote(child, logFile));
  } catch (err) {
    await stop();
    throw err;
  }
  return { origin: 'native', address, stop };
}

interface BrokerLayout {
  port: number;
  controllerPort: number;
  listenHost: string;
  dataDir: string;
}

/** One broker that is also its own controller, tuned to start and rebalance quickly in tests. */
function brokerSettings({ port, controllerPort, listenHost, dataDir }: BrokerLayout): Record<string, string> {
  return {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://${listenHost}:${port},CONTROLLER://${listenHost}:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': dataDir,
    'num.partitions': '1',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '4',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '4',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    // No waiting for more members before the first assignment, and short sessions allowed so a
    // test can see a dead consumer's partitions move within seconds.
    'group.initial.rebalance.delay.ms': '0',
    'group.min.session.timeout.ms': '500',
  };
}

const LOG4J2_CONFIG = `status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
`;

function toProperties(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('');
}

/**
 * KRaft wants a base64url UUID (22 characters). One that starts with `-` would be read by the storage
 * tool as an option (about one run in 64), so draw again until it does not.
 */
function kraftClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

async function waitForKafka(address: string, timeoutMs: number, exited: () => string | undefined): Promise<void> {
  const kafka = new Kafka({
    brokers: [address],
    clientId: 'falconer-test-setup',
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  });
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const gone = exited();
    if (gone) throw new Error(`Kafka at ${address} exited during start-up: ${gone}`);
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length > 0 && cluster.controller !== null) return;
      last = 'no controller elected yet';
    } catch (err) {
      last = (err as Error).message;
    } finally {
      await admin.disconnect().catch(() => {});
    }
    await sleep(250);
  }
  throw new Error(`Kafka at ${address} was not ready within ${timeoutMs} ms (${last})`);
}

async function waitForRedis(address: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const { hostname, port } = new URL(address);
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited during start-up with code ${child.exitCode}`);
    last = await redisPing(hostname, Number(port));
    // NOAUTH: up, and asking for the password it was started with.
    if (last.startsWith('+PONG') || last.startsWith('-NOAUTH')) return;
    await sleep(50);
  }
  throw new Error(`redis-server at ${address} was not ready within ${timeoutMs} ms (${last})`);
}

/** One inline PING over a raw socket; the first reply line, or the connection error. */
function redisPing(host: string, port: number): Promise<string> {
  return new Promise((done) => {
    const socket = connect({ host, port });
    let reply = '';
    const finish = (answer: string) => {
      socket.destroy();
      done(answer);
    };
    socket.setTimeout(1_000, () => finish('timeout'));
    socket.on('error', (err) => finish(err.message));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) finish(reply.split('\r\n')[0]!);
    });
  });
}

function exitNote(child: ChildProcess, logFile: string): string | undefined {
  if (child.exitCode === null && child.signalCode === null) return undefined;
  let tail = '';
  try {
    tail = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    /* no log */
  }
  return `exit ${child.exitCode ?? child.signalCode}; last log lines:\n${tail}`;
}

/**
 * Kills `child` once this process is gone, even by SIGKILL, so an aborted run leaves no broker
 * behind: a detached shell polls for our pid.
 */
function killWhenOrphaned(child: ChildProcess): void {
  if (child.pid === undefined) return;
  const script = 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 2; done; kill -9 "$2" 2>/dev/null';
  spawn('sh', ['-c', script, 'falconer-test-watchdog', String(process.pid), String(child.pid)], {
    detached: true,
    stdio: 'ignore',
  }).unref();
}

/** SIGTERM, then SIGKILL after `graceMs`; removes the data folder when we made it. */
function stopper(child: ChildProcess, dir: string, removeDir: boolean, graceMs: number): () => Promise<void> {
  killWhenOrphaned(child);
  let stopping: Promise<void> | undefined;
  return () =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((done) => child.once('exit', () => done()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      if (removeDir) rmSync(dir, { recursive: true, force: true });
    })());
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function commandExists(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
