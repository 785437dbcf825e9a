import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import { DeliveryError } from '../core/errors';

export interface TlsFiles {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  servername?: string | undefined;
  rejectUnauthorized: boolean;
}

/** Node TLS options from the config's file names (read once, at start-up). */
export function tlsOptions(files: TlsFiles): ConnectionOptions {
  return {
    rejectUnauthorized: files.rejectUnauthorized,
    ...(files.caFile ? { ca: readFileSync(files.caFile, 'utf8') } : {}),
    ...(files.certFile ? { cert: readFileSync(files.certFile, 'utf8') } : {}),
    ...(files.keyFile ? { key: readFileSync(files.keyFile, 'utf8') } : {}),
    ...(files.servername ? { servername: files.servername } : {}),
  };
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const RESPONSE_KEPT = 4096;

/** A keep-alive JSON poster for one receiver: HTTP or HTTPS (with optional client certificate). */
export class HttpPoster {
  private readonly agent: HttpsAgent | undefined;

  constructor(
    private readonly url: URL,
    private readonly timeoutMs: number,
    tls?: ConnectionOptions,
  ) {
    if (url.protocol === 'https:') this.agent = new HttpsAgent({ keepAlive: true, ...tls });
  }

  post(body: string, headers: Record<string, string>): Promise<HttpResponse> {
    const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        this.url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
          timeout: this.timeoutMs,
          ...(this.agent ? { agent: this.agent } : {}),
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (text.length < RESPONSE_KEPT) text += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text.slice(0, RESPONSE_KEPT) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err) => reject(new DeliveryError(`${this.url.host} unreachable: ${err.message}`, true)));
      req.end(body);
    });
  }

  close(): void {
    this.agent?.destroy();
  }
}

/** `Retry-After` in seconds or as an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** 2xx is delivered; 408, 429 and 5xx are worth another try (honouring Retry-After); other answers will not heal. */
export function checkResponse(what: string, res: HttpResponse): void {
  if (res.status >= 200 && res.status < 300) return;
  const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
  const detail = res.body.replace(/\s+/g, ' ').slice(0, 200);
  throw new DeliveryError(
    `${what} HTTP ${res.status}${detail ? `: ${detail}` : ''}`,
    retryable,
    retryAfterMs(res.headers['retry-after']),
  );
}
