import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../core/errors';
import type { z } from 'zod';
import { keysAt, nearest } from './keys';
import { configSchema, type Config } from './schema';

export interface LoadOptions {
  /** Path of the YAML file; falls back to FALCONER_CONFIG. */
  file?: string;
  env: NodeJS.ProcessEnv;
}

type Mutable = Record<string, unknown>;

/**
 * Reads the YAML file (if any), applies FALCONER_* environment overrides, validates once and freezes.
 * A bad config throws a ConfigError naming every bad key.
 */
export function loadConfig({ file, env }: LoadOptions): Config {
  checkEnvNames(env);
  const path = file ?? env.FALCONER_CONFIG;
  let doc: Mutable = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
    }
    try {
      doc = (parseYaml(text) as Mutable | null) ?? {};
    } catch (err) {
      throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message}`);
    }
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${path} must hold a mapping`);
  }
  const fromEnv = applyEnv(doc, env);
  return validateConfig(doc, path ?? 'environment', fromEnv);
}

/**
 * Validates a config document. `fromEnv` maps the keys the environment set (dotted paths) to the
 * variables that set them, so a problem with one is told by the variable's name.
 */
export function validateConfig(doc: unknown, origin = 'config', fromEnv: EnvOrigins = new Map()): Config {
  const tokenProblems = trimTokens(doc);
  const result = configSchema.safeParse(doc);
  if (tokenProblems.length > 0 || !result.success) {
    const problems = [...tokenProblems, ...(result.success ? [] : result.error.issues.map((i) => describeIssue(i, fromEnv)))];
    throw new ConfigError(`invalid configuration (${origin}):\n  ${problems.join('\n  ')}`, problems);
  }
  const digest = result.data.posture.digest;
  if (digest && !result.data.receivers.some((r) => r.name === digest.receiver)) {
    const problem = `posture.digest.receiver: no receiver named ${JSON.stringify(digest.receiver)} in receivers`;
    throw new ConfigError(`invalid configuration (${origin}):\n  ${problem}`, [problem]);
  }
  return deepFreeze(result.data);
}

/** Dotted config path → the FALCONER_* variable that set it. */
export type EnvOrigins = Map<string, string>;

/** One zod issue in the user's words: the variable when the environment set the value, else the key. */
function describeIssue(issue: z.core.$ZodIssue, fromEnv: EnvOrigins): string {
  const path = issue.path.map(String);
  const dotted = path.join('.');
  // The value itself, or an object around it, came from a variable.
  for (let n = path.length; n > 0; n--) {
    const name = fromEnv.get(path.slice(0, n).join('.'));
    if (name) return `${name}: ${issue.message}`;
  }
  // A key the environment could have set is missing from an object the environment started.
  const missing = issue.code === 'invalid_type' && /received undefined/.test(issue.message);
  const wouldSet = missing ? envNameFor(path, fromEnv) : undefined;
  if (wouldSet) {
    const parent = path.slice(0, -1).join('.');
    const siblings = [...fromEnv].filter(([p]) => p.startsWith(`${parent}.`)).map(([, name]) => name);
    if (siblings.length > 0)
      return `${wouldSet} is required when ${siblings.join(' and ')} ${siblings.length > 1 ? 'are' : 'is'} set`;
  }
  if (issue.code === 'unrecognized_keys') {
    const valid = keysAt(configSchema, issue.path);
    const hints = issue.keys.map((k) => {
      const near = nearest(k, valid);
      return near ? `"${k}" (did you mean "${near}"?)` : `"${k}"`;
    });
    return `${dotted || '(top level)'}: unknown key${issue.keys.length > 1 ? 's' : ''} ${hints.join(', ')}`;
  }
  return `${dotted || '(top level)'}: ${issue.message}`;
}

/** The variable that sets the key at `path`, if one does (for the Slack receiver the environment made). */
function envNameFor(path: string[], fromEnv: EnvOrigins): string | undefined {
  const dotted = path.join('.');
  const setting = ENV_SETTINGS.find((s) => s.path.join('.') === dotted);
  if (setting) return setting.name;
  const slackVar = path[0] === 'receivers' ? SLACK_ENV[path[2] as keyof typeof SLACK_ENV] : undefined;
  return slackVar && [...fromEnv.keys()].some((p) => p.startsWith(`receivers.${path[1]}.`)) ? slackVar : undefined;
}

/**
 * A token with spaces around it (a Secret written with `echo`, a pasted value) would never match what
 * callers send: trim it. One made only of whitespace is refused, not taken for "generate one".
 */
function trimTokens(doc: unknown): string[] {
  const root = isMapping(doc) ? doc : {};
  const holders: Array<[path: string, holder: Mutable]> = [];
  if (isMapping(root.ingest)) holders.push(['ingest.token', root.ingest]);
  if (isMapping(root.auth) && Array.isArray(root.auth.tokens)) {
    root.auth.tokens.forEach((t, i) => isMapping(t) && holders.push([`auth.tokens.${i}.token`, t]));
  }
  const problems: string[] = [];
  for (const [path, holder] of holders) {
    if (typeof holder.token !== 'string') continue;
    const trimmed = holder.token.trim();
    if (trimmed === '') problems.push(`${path}: is only whitespace; set a token of at least 16 characters`);
    else holder.token = trimmed;
  }
  return problems;
}

function isMapping(value: unknown): value is Mutable {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function section(doc: Mutable, key: string): Mutable {
  const existing = doc[key];
  if (existing && typeof existing === 'object' && !Array.isArray(existing)) return existing as Mutable;
  const created: Mutable = {};
  doc[key] = created;
  return created;
}

/** `a, b,,c` → `["a", "b", "c"]`. */
function commaList(_name: string, value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

/** `name:scope+scope:token, ...` → `auth.tokens` entries (a token holds no comma; it may hold colons). */
function authTokens(name: string, value: string): Mutable[] {
  return commaList(name, value).map((entry, i) => {
    const m = /^([^:]+):([^:]+):(.+)$/.exec(entry);
    if (!m) throw new ConfigError(`FALCONER_AUTH_TOKENS entry ${i + 1} must be name:scope[+scope...]:token`);
    return { name: m[1], scopes: m[2]!.split('+'), token: m[3] };
  });
}

function int(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(`${name} must be an integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

function bool(name: string, value: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(value)}`);
}

interface EnvSetting {
  name: string;
  path: readonly string[];
  parse?: (name: string, value: string) => unknown;
  /** Set but empty is a value of its own (`FALCONER_DATA_DIR=`: memory-only), not "unset". */
  emptyIsValue?: boolean;
}

/** The environment overrides of one key each, documented in docs/configuration.md. */
const ENV_SETTINGS: readonly EnvSetting[] = [
  { name: 'FALCONER_CLUSTER', path: ['cluster'] },
  { name: 'FALCONER_HOST', path: ['server', 'host'] },
  { name: 'FALCONER_PORT', path: ['server', 'port'], parse: int },
  { name: 'FALCONER_INGEST_TOKEN', path: ['ingest', 'token'] },
  { name: 'FALCONER_AUTH_TOKENS', path: ['auth', 'tokens'], parse: authTokens },
  { name: 'FALCONER_LOG_LEVEL', path: ['log', 'level'] },
  { name: 'FALCONER_LOG_FORMAT', path: ['log', 'format'] },
  { name: 'FALCONER_DATA_DIR', path: ['dataDir'], emptyIsValue: true },
  { name: 'FALCONER_RUNBOOK_URL_TEMPLATE', path: ['alerting', 'runbookUrlTemplate'] },
  { name: 'FALCONER_KAFKA_BROKERS', path: ['kafka', 'brokers'], parse: commaList },
  { name: 'FALCONER_KAFKA_TOPIC', path: ['kafka', 'topic'] },
  { name: 'FALCONER_KAFKA_GROUP_ID', path: ['kafka', 'groupId'] },
  { name: 'FALCONER_KAFKA_CLIENT_ID', path: ['kafka', 'clientId'] },
  { name: 'FALCONER_KAFKA_FALCO_TOPIC', path: ['kafka', 'falcoTopic'] },
  { name: 'FALCONER_KAFKA_TLS', path: ['kafka', 'tls'], parse: bool },
  { name: 'FALCONER_KAFKA_SASL_MECHANISM', path: ['kafka', 'sasl', 'mechanism'] },
  { name: 'FALCONER_KAFKA_SASL_USERNAME', path: ['kafka', 'sasl', 'username'] },
  { name: 'FALCONER_KAFKA_SASL_PASSWORD', path: ['kafka', 'sasl', 'password'] },
  { name: 'FALCONER_CLUSTER_SNAPSHOT', path: ['enrichment', 'snapshots'], parse: commaList },
  { name: 'FALCONER_REDIS_URL', path: ['redis', 'url'] },
  { name: 'FALCONER_REDIS_PASSWORD', path: ['redis', 'password'] },
  { name: 'FALCONER_REDIS_KEY_PREFIX', path: ['redis', 'keyPrefix'] },
];

/** The Slack receiver the environment configures, by receiver key. */
const SLACK_ENV = { token: 'FALCONER_SLACK_TOKEN', channel: 'FALCONER_SLACK_CHANNEL', apiUrl: 'FALCONER_SLACK_API_URL' } as const;

/** FALCONER_* names that are not config overrides, read elsewhere; everything else unknown stops start-up. */
const NOT_CONFIG = new Set([
  'FALCONER_CONFIG', // the file's path, read above
  'FALCONER_KAFKA_LIBS', // the test setup's Kafka jars (test/support/services.ts)
  'FALCONER_PSA_FIXTURES', // the Pod Security conformance suites' fixtures
  'FALCONER_DIST', // the benchmarks' build folder
]);
/** Test harness variables (FALCONER_TEST_KAFKA_BROKERS, ...), inherited by Falconer processes the tests start. */
const NOT_CONFIG_PREFIX = 'FALCONER_TEST_';

/** Every FALCONER_* variable Falconer knows. */
export const KNOWN_ENV: readonly string[] = [...ENV_SETTINGS.map((s) => s.name), ...Object.values(SLACK_ENV), ...NOT_CONFIG];

/** A misspelt variable would be ignored and its setting silently left at the default: refuse it instead. */
function checkEnvNames(env: NodeJS.ProcessEnv): void {
  const problems = Object.keys(env)
    .filter((name) => name.startsWith('FALCONER_') && !name.startsWith(NOT_CONFIG_PREFIX) && !KNOWN_ENV.includes(name))
    .sort()
    .map((name) => {
      const near = nearest(name, KNOWN_ENV);
      return `${name} is not a Falconer setting${near ? ` (did you mean ${near}?)` : ''}`;
    });
  if (problems.length > 0) {
    throw new ConfigError(
      `invalid configuration (environment):\n  ${problems.join('\n  ')}\n` +
        `  (FALCONER_* variables are listed in docs/configuration.md)`,
      problems,
    );
  }
}

/**
 * A variable's value with surrounding whitespace removed (a Secret file's trailing newline); `undefined`
 * when unset or empty, so `FOO=` in a compose file means "not set".
 */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const trimmed = raw.trim();
  // Neither "unset" (a default would apply silently) nor a value anyone meant.
  if (trimmed === '') throw new ConfigError(`${name} is only whitespace: give it a value, or unset it`);
  return trimmed;
}

/** Applies the environment overrides; returns which keys they set. */
function applyEnv(doc: Mutable, env: NodeJS.ProcessEnv): EnvOrigins {
  const origins: EnvOrigins = new Map();
  for (const setting of ENV_SETTINGS) {
    const value = setting.emptyIsValue && env[setting.name] === '' ? '' : envValue(env, setting.name);
    if (value === undefined) continue;
    let target = doc;
    for (const key of setting.path.slice(0, -1)) target = section(target, key);
    target[setting.path.at(-1)!] = setting.parse ? setting.parse(setting.name, value) : value;
    origins.set(setting.path.join('.'), setting.name);
  }

  const slackToken = envValue(env, SLACK_ENV.token);
  const slackChannel = envValue(env, SLACK_ENV.channel);
  const receivers = Array.isArray(doc.receivers) ? (doc.receivers as Mutable[]) : [];
  if (slackToken || slackChannel) {
    doc.receivers = receivers;
    let index = receivers.findIndex((r) => r?.type === 'slack');
    if (index < 0) index = receivers.push({ type: 'slack', name: 'slack' }) - 1;
    const slack = receivers[index]!;
    if (slackToken) {
      slack.token = slackToken;
      origins.set(`receivers.${index}.token`, SLACK_ENV.token);
    }
    if (slackChannel) {
      slack.channel = slackChannel;
      origins.set(`receivers.${index}.channel`, SLACK_ENV.channel);
    }
  }
  const apiUrl = envValue(env, SLACK_ENV.apiUrl);
  if (apiUrl) {
    receivers.forEach((r, i) => {
      if (r?.type !== 'slack') return;
      r.apiUrl = apiUrl;
      origins.set(`receivers.${i}.apiUrl`, SLACK_ENV.apiUrl);
    });
  }
  return origins;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
