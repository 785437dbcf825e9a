import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningFalconer } from '../../src/app';
import { falcoEvent } from '../support/events';
import { startTestFalconer, TEST_TOKEN } from '../support/falconer';

/** A CA, a server certificate for 127.0.0.1, a client certificate from that CA, and one from a stranger CA. */
function makeCertificates(dir: string) {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  for (const ca of ['ca', 'stranger']) {
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${ca}`,
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.crt`,
    );
  }
  const leaf = (name: string, ca: string, ext: string) => {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    execFileSync('sh', ['-c', `printf '%s' '${ext}' > ${name}.ext`], { cwd: dir });
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    );
  };
  leaf('server', 'ca', 'subjectAltName=IP:127.0.0.1');
  leaf('falco', 'ca', 'extendedKeyUsage=clientAuth');
  leaf('intruder', 'stranger', 'extendedKeyUsage=clientAuth');
  const read = (f: string) => readFileSync(join(dir, f));
  return { read, path: (f: string) => join(dir, f) };
}

function postTls(
  url: string,
  body: string,
  options: { cert?: Buffer; key?: Buffer; ca: Buffer; token?: string; method?: string },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: options.method ?? 'POST',
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        headers: { 'content-type': 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode!);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTPS with mutual TLS', () => {
  const certs = makeCertificates(mkdtempSync(join(tmpdir(), 'falconer-tls-')));
  let f: RunningFalconer;
  beforeAll(async () => {
    f = await startTestFalconer({
      server: {
        tls: { certFile: certs.path('server.crt'), keyFile: certs.path('server.key'), clientCaFile: certs.path('ca.crt') },
      },
    });
  });
  afterAll(() => f.stop());

  const body = JSON.stringify(falcoEvent());
  const ca = certs.read('ca.crt');

  it('serves HTTPS', () => {
    expect(f.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('accepts a client certificate from the configured CA without a token (Falco http_output with mtls)', async () => {
    expect(
      await postTls(`${f.url}/v1/events/falco`, body, { ca, cert: certs.read('falco.crt'), key: certs.read('falco.key') }),
    ).toBe(202);
  });

  it('gives a client certificate the ingest scope only: reading alerts or replaying dead letters is 403', async () => {
    const falco = { ca, cert: certs.read('falco.crt'), key: certs.read('falco.key') };
    expect(await postTls(`${f.url}/v1/alerts`, '', { ...falco, method: 'GET' })).toBe(403);
    expect(await postTls(`${f.url}/v1/dead-letters/replay`, '', falco)).toBe(403);
    expect(await postTls(`${f.url}/v1/alerts`, '', { ...falco, method: 'GET', token: TEST_TOKEN })).toBe(200);
  });

  it('refuses a certificate from another CA without a token', async () => {
    expect(
      await postTls(`${f.url}/v1/events/falco`, body, { ca, cert: certs.read('intruder.crt'), key: certs.read('intruder.key') }),
    ).toBe(401);
  });

  it('still accepts the bearer token from callers without a certificate, and refuses them without it', async () => {
    expect(await postTls(`${f.url}/v1/events/falco`, body, { ca, token: TEST_TOKEN })).toBe(202);
    expect(await postTls(`${f.url}/v1/events/falco`, body, { ca })).toBe(401);
  });
});
