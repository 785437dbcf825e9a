import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One recorded Web API call, with its arguments decoded as the real Slack API would. */
export interface SlackCall {
  method: string;
  token: string | undefined;
  args: Record<string, unknown>;
  /** How the server answered it. */
  answer: SlackBehaviour['kind'];
}

/** How the server answers the next call: ok, a 429 with Retry-After, an HTTP error, or ok:false. */
export type SlackBehaviour =
  | { kind: 'ok' }
  | { kind: 'rate_limited'; retryAfterSeconds: number }
  | { kind: 'http_error'; status: number }
  | { kind: 'platform_error'; error: string };

/**
 * A local Slack-compatible Web API server for tests: records every call to chat.postMessage and
 * chat.update, answers like Slack (channel id, ts), and can be scripted to fail.
 */
export class FakeSlack {
  readonly calls: SlackCall[] = [];
  private readonly script: SlackBehaviour[] = [];
  private server?: Server;
  private seq = 0;

  /** Queues behaviours for the next calls (then it answers ok). */
  next(...behaviours: SlackBehaviour[]): void {
    this.script.push(...behaviours);
  }

  /** Drops the behaviours not used yet: every call is answered ok from now on. */
  clear(): void {
    this.script.length = 0;
  }

  get posts(): SlackCall[] {
    return this.calls.filter((c) => c.method === 'chat.postMessage');
  }

  get updates(): SlackCall[] {
    return this.calls.filter((c) => c.method === 'chat.update');
  }

  async start(): Promise<string> {
    this.server = createServer(async (req, res) => {
      const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0]!;
      const args = decode(req, await readAll(req));
      const behaviour = this.script.shift() ?? { kind: 'ok' };
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '') || (args.token as string | undefined);
      this.calls.push({ method, token, args, answer: behaviour.kind });
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      switch (behaviour.kind) {
        case 'rate_limited':
          return json(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(behaviour.retryAfterSeconds) });
        case 'http_error':
          return json(behaviour.status, { ok: false, error: 'internal_error' });
        case 'platform_error':
          return json(200, { ok: false, error: behaviour.error });
      }
      if (method === 'chat.postMessage') {
        return json(200, {
          ok: true,
          channel: 'C0FALCONER',
          ts: `1700000000.${String(++this.seq).padStart(6, '0')}`,
          message: {},
        });
      }
      if (method === 'chat.update') return json(200, { ok: true, channel: args.channel, ts: args.ts });
      return json(200, { ok: false, error: 'unknown_method' });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The client sends form-encoded bodies with nested values as JSON strings; JSON bodies also work. */
function decode(req: IncomingMessage, body: string): Record<string, unknown> {
  if ((req.headers['content-type'] ?? '').includes('application/json')) return JSON.parse(body || '{}');
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(body)) {
    try {
      out[k] = v.startsWith('[') || v.startsWith('{') ? JSON.parse(v) : v;
    } catch {
      out[k] = v;
    }
  }
  return out;
}
