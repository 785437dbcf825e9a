import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../core/errors';
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
  applyEnv(doc, env);
  return validateConfig(doc, path ?? 'environment');
}

export function validateConfig(doc: unknown, origin = 'config'): Config {
  const result = configSchema.safeParse(doc);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration (${origin}):\n  ${problems.join('\n  ')}`, problems);
  }
  const digest = result.data.posture.digest;
  if (digest && !result.data.receivers.some((r) => r.name === digest.receiver)) {
    const problem = `posture.digest.receiver: no receiver named ${JSON.stringify(digest.receiver)} in receivers`;
    throw new ConfigError(`invalid configuration (${origin}):\n  ${problem}`, [problem]);
  }
  return deepFreeze(result.data);
}

function section(doc: Mutable, key: string): Mutable {
  const existing = doc[key];
  if (existing && typeof existing === 'object' && !Array.isArray(existing)) return existing as Mutable;
  const created: Mutable = {};
  doc[key] = created;
  return created;
}

/** `a, b,,c` → `["a", "b", "c"]`. */
function commaList(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

/** `name:scope+scope:token, ...` → `auth.tokens` entries (a token holds no comma; it may hold colons). */
function authTokens(value: string): Mutable[] {
  return commaList(value).map((entry, i) => {
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

/** The environment overrides, documented in docs/configuration.md. */
function applyEnv(doc: Mutable, env: NodeJS.ProcessEnv): void {
  if (env.FALCONER_CLUSTER) doc.cluster = env.FALCONER_CLUSTER;
  if (env.FALCONER_HOST) section(doc, 'server').host = env.FALCONER_HOST;
  if (env.FALCONER_PORT) section(doc, 'server').port = int('FALCONER_PORT', env.FALCONER_PORT);
  if (env.FALCONER_INGEST_TOKEN) section(doc, 'ingest').token = env.FALCONER_INGEST_TOKEN;
  if (env.FALCONER_AUTH_TOKENS) section(doc, 'auth').tokens = authTokens(env.FALCONER_AUTH_TOKENS);
  if (env.FALCONER_LOG_LEVEL) section(doc, 'log').level = env.FALCONER_LOG_LEVEL;
  // Set but empty means memory-only, so this one tests for presence.
  if (env.FALCONER_DATA_DIR !== undefined) doc.dataDir = env.FALCONER_DATA_DIR;
  if (env.FALCONER_RUNBOOK_URL_TEMPLATE) section(doc, 'alerting').runbookUrlTemplate = env.FALCONER_RUNBOOK_URL_TEMPLATE;

  if (env.FALCONER_KAFKA_BROKERS) section(doc, 'kafka').brokers = commaList(env.FALCONER_KAFKA_BROKERS);
  if (env.FALCONER_KAFKA_TOPIC) section(doc, 'kafka').topic = env.FALCONER_KAFKA_TOPIC;
  if (env.FALCONER_KAFKA_GROUP_ID) section(doc, 'kafka').groupId = env.FALCONER_KAFKA_GROUP_ID;
  if (env.FALCONER_KAFKA_CLIENT_ID) section(doc, 'kafka').clientId = env.FALCONER_KAFKA_CLIENT_ID;
  if (env.FALCONER_KAFKA_FALCO_TOPIC) section(doc, 'kafka').falcoTopic = env.FALCONER_KAFKA_FALCO_TOPIC;
  if (env.FALCONER_KAFKA_TLS) section(doc, 'kafka').tls = bool('FALCONER_KAFKA_TLS', env.FALCONER_KAFKA_TLS);
  if (env.FALCONER_KAFKA_SASL_MECHANISM || env.FALCONER_KAFKA_SASL_USERNAME || env.FALCONER_KAFKA_SASL_PASSWORD) {
    const kafka = section(doc, 'kafka');
    const sasl = section(kafka, 'sasl');
    if (env.FALCONER_KAFKA_SASL_MECHANISM) sasl.mechanism = env.FALCONER_KAFKA_SASL_MECHANISM;
    if (env.FALCONER_KAFKA_SASL_USERNAME) sasl.username = env.FALCONER_KAFKA_SASL_USERNAME;
    if (env.FALCONER_KAFKA_SASL_PASSWORD) sasl.password = env.FALCONER_KAFKA_SASL_PASSWORD;
  }
  if (env.FALCONER_CLUSTER_SNAPSHOT) section(doc, 'enrichment').snapshots = commaList(env.FALCONER_CLUSTER_SNAPSHOT);
  if (env.FALCONER_REDIS_URL) section(doc, 'redis').url = env.FALCONER_REDIS_URL;
  if (env.FALCONER_REDIS_PASSWORD) section(doc, 'redis').password = env.FALCONER_REDIS_PASSWORD;
  if (env.FALCONER_REDIS_KEY_PREFIX) section(doc, 'redis').keyPrefix = env.FALCONER_REDIS_KEY_PREFIX;

  const slackToken = env.FALCONER_SLACK_TOKEN;
  const slackChannel = env.FALCONER_SLACK_CHANNEL;
  if (slackToken || slackChannel) {
    const receivers = Array.isArray(doc.receivers) ? (doc.receivers as Mutable[]) : [];
    doc.receivers = receivers;
    let slack = receivers.find((r) => r?.type === 'slack');
    if (!slack) {
      slack = { type: 'slack', name: 'slack' };
      receivers.push(slack);
    }
    if (slackToken) slack.token = slackToken;
    if (slackChannel) slack.channel = slackChannel;
  }
  if (env.FALCONER_SLACK_API_URL) {
    const receivers = Array.isArray(doc.receivers) ? (doc.receivers as Mutable[]) : [];
    for (const r of receivers) if (r?.type === 'slack') r.apiUrl = env.FALCONER_SLACK_API_URL;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
