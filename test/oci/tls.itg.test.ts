/**
 * HTTPS with a custom CA: a TLS front (the fault proxy serving a certificate made by openssl) to a
 * real registry. Trusted through `ca` / --ca-file it works; untrusted it fails at once with a hint,
 * never retried; --insecure skips verification when asked.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execChecked } from '../../src/core/exec.js';
import { isGantryError } from '../../src/core/errors.js';
import { runCli } from '../../src/cli/main.js';
import { RegistryClient } from '../../src/oci/registry.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { startFaultProxy, type RunningFaultProxy } from '../fixtures/fault-proxy.js';
import { pushTestImage } from '../fixtures/oci-images.js';

describe('HTTPS registry with a custom CA', () => {
  let reg: RunningRegistry;
  let front: RunningFaultProxy;
  let dir: string;
  let cert: string;
  let digest: string;
  beforeAll(async () => {
    reg = await startRegistry();
    dir = await mkdtemp(join(tmpdir(), 'gantry-tls-'));
    await execChecked('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]);
    cert = await readFile(join(dir, 'cert.pem'), 'utf8');
    front = await startFaultProxy({
      target: reg.url,
      tls: { cert, key: await readFile(join(dir, 'key.pem'), 'utf8') },
    });
    digest = await pushTestImage(reg.url, 'tls/app', 'v1', { content: 'tls' });
  });
  afterAll(async () => {
    await front.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('works over HTTPS when the CA is given', async () => {
    const c = new RegistryClient({ plainHttp: false, ca: cert, dockerConfig: false, env: {} });
    expect(c.baseUrl(front.host)).toMatch(/^https:/);
    expect((await c.getManifest(`${front.host}/tls/app:v1`)).digest).toBe(digest);
    c.close();
  });

  it('fails at once with a hint when the certificate is not trusted', async () => {
    front.resetCounts();
    const c = new RegistryClient({ plainHttp: false, dockerConfig: false, env: {} });
    let err: unknown;
    try {
      await c.getManifest(`${front.host}/tls/app:v1`);
    } catch (e) {
      err = e;
    }
    expect(isGantryError(err, 'infrastructure')).toBe(true);
    expect((err as { hint: string }).hint).toContain('--ca-file');
    expect(front.requests).toHaveLength(0);
    c.close();
    const insecure = new RegistryClient({
      plainHttp: false,
      insecureSkipVerify: true,
      dockerConfig: false,
      env: {},
    });
    expect((await insecure.getManifest(`${front.host}/tls/app:v1`)).digest).toBe(digest);
    insecure.close();
  });

  it('gantry inspect --ca-file talks HTTPS to a loopback registry when --plain-http=false', async () => {
    await writeFile(join(dir, 'ca.pem'), cert);
    let stdout = '';
    const code = await runCli(
      [
        'inspect',
        `${front.host}/tls/app:v1`,
        '--plain-http=false',
        '--ca-file',
        join(dir, 'ca.pem'),
        '--json',
      ],
      { stdout: (t) => (stdout += t), stderr: () => {}, env: {} },
    );
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as { digest: string }).digest).toBe(digest);
  });
});
