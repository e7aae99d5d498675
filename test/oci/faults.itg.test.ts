/**
 * The registry client through a fault-injecting proxy in front of a real registry: bursts of 503,
 * 429 with Retry-After, resets in the middle of a body, slow and stalled answers, corrupted bytes.
 * Every operation ends with the right content (checked against the registry directly) or a clear
 * error — never a partial or corrupted write.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isGantryError } from '../../src/core/errors.js';
import { digestOf } from '../../src/oci/digest.js';
import { RegistryClient, type RegistryClientOptions } from '../../src/oci/registry.js';
import { MemoryLogger } from '../../src/core/logging.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { startFaultProxy, type RunningFaultProxy } from '../fixtures/fault-proxy.js';
import { buildTestImage, buildTestIndex, pushTestImage } from '../fixtures/oci-images.js';
import { freePort } from '../../sandbox/registry.js';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('registry client through a fault-injecting proxy', () => {
  let reg: RunningRegistry;
  let proxy: RunningFaultProxy;
  let direct: RegistryClient;
  const clients: RegistryClient[] = [];
  const fast = (extra: RegistryClientOptions = {}): RegistryClient => {
    const c = new RegistryClient({
      dockerConfig: false,
      env: {},
      retry: { initialDelayMs: 10, maxDelayMs: 50, maxAttempts: 6 },
      timeoutMs: 2_000,
      ...extra,
    });
    clients.push(c);
    return c;
  };
  let subject: string;

  beforeAll(async () => {
    reg = await startRegistry();
    proxy = await startFaultProxy({ target: reg.url });
    direct = new RegistryClient({ dockerConfig: false, env: {} });
    subject = await pushTestImage(reg.url, 'fault/app', 'v1', { content: 'fault subject' });
  });
  afterAll(async () => {
    for (const c of [direct, ...clients]) c.close();
    await proxy.stop();
  });
  beforeEach(() => {
    proxy.clear();
    proxy.resetCounts();
  });

  it('rides out a burst of 503s', async () => {
    proxy.inject({ fault: { kind: 'status', status: 503 }, times: 3, match: { path: '/manifests/' } });
    const m = await fast().getManifest(`${proxy.host}/fault/app:v1`);
    expect(m.digest).toBe(subject);
    expect(proxy.requests.map((r) => r.status)).toEqual([503, 503, 503, 200]);
  });

  it('waits as long as a 429 Retry-After says', async () => {
    proxy.inject({
      fault: { kind: 'status', status: 429, retryAfter: '1' },
      times: 1,
      match: { path: '/manifests/' },
    });
    const started = Date.now();
    const m = await fast().getManifest(`${proxy.host}/fault/app:v1`);
    expect(m.digest).toBe(subject);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(proxy.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it('retries a manifest whose body was cut by a connection reset', async () => {
    proxy.inject({
      fault: { kind: 'reset-mid-body' },
      times: 2,
      match: { method: 'GET', path: '/manifests/' },
    });
    const logger = new MemoryLogger();
    const m = await fast({ logger }).getManifest(`${proxy.host}/fault/app:v1`);
    expect(m.digest).toBe(subject);
    expect(proxy.requests.filter((r) => r.fault === 'reset-mid-body')).toHaveLength(2);
    expect(logger.text()).toMatch(/attempt 1 failed \(.*(reset|ended after)/);
  });

  it('re-downloads a blob cut mid-body or corrupted, and returns only verified bytes', async () => {
    const bytes = randomBytes(200_000);
    const { digest } = await direct.pushBlob(`${reg.host}/fault/blobs`, bytes);
    proxy.inject({
      fault: { kind: 'reset-mid-body', fraction: 0.3 },
      times: 1,
      match: { path: '/blobs/sha256' },
    });
    proxy.inject({ fault: { kind: 'corrupt' }, times: 1, match: { path: '/blobs/sha256' } });
    const got = await fast().getBlob(`${proxy.host}/fault/blobs`, digest);
    expect(got.equals(bytes)).toBe(true);
    expect(proxy.requests.map((r) => r.fault ?? 'ok')).toEqual(['reset-mid-body', 'corrupt', 'ok']);
  });

  it('fails with a clear error when the bytes stay corrupted', async () => {
    const { digest } = await direct.pushBlob(`${reg.host}/fault/blobs`, Buffer.from('small blob content'));
    proxy.inject({ fault: { kind: 'corrupt' }, times: 100, match: { path: '/blobs/sha256' } });
    const e = await rejection(fast().getBlob(`${proxy.host}/fault/blobs`, digest));
    expect(isGantryError(e, 'infrastructure')).toBe(true);
    expect((e as Error).message).toMatch(/failed after 6 attempts: .*hashing to sha256:/);
  });

  it('times out a slow or stalled answer and tries again', async () => {
    proxy.inject({ fault: { kind: 'stall' }, times: 1, match: { path: '/manifests/' } });
    proxy.inject({ fault: { kind: 'delay', ms: 700 }, times: 1, match: { path: '/manifests/' } });
    const m = await fast({ timeoutMs: 300 }).getManifest(`${proxy.host}/fault/app:v1`);
    expect(m.digest).toBe(subject);
    expect(proxy.requests.map((r) => r.fault ?? 'ok')).toEqual(['stall', 'delay', 'ok']);
  });

  it('pushes a whole image through resets and 5xx on every kind of write, leaving a complete image', async () => {
    const built = buildTestIndex(['linux/amd64', 'linux/arm64'], { content: `faulty push ${Date.now()}` });
    const big = randomBytes(150_000);
    proxy.inject({
      fault: { kind: 'status', status: 500 },
      times: 1,
      match: { method: 'POST', path: '/blobs/uploads/' },
    });
    proxy.inject({
      fault: { kind: 'reset', forward: true },
      times: 1,
      match: { method: 'PUT', path: '/blobs/uploads/' },
    });
    proxy.inject({ fault: { kind: 'reset' }, times: 1, match: { method: 'PATCH' } });
    proxy.inject({ fault: { kind: 'status', status: 502 }, times: 1, match: { method: 'PATCH' } });
    proxy.inject({
      fault: { kind: 'reset', forward: true },
      times: 2,
      match: { method: 'PUT', path: '/manifests/' },
    });
    const c = fast();
    const repo = `${proxy.host}/fault/pushed`;
    await c.pushBlob(repo, big, { chunkSize: 40_000 });
    for (const img of built.images) {
      for (const b of [...img.layers, img.config]) await c.pushBlob(repo, b.bytes);
      await c.putManifest(`${repo}@${img.digest}`, img.manifest, img.mediaType);
    }
    const digest = await c.putManifest(
      `${repo}:multi`,
      built.index,
      'application/vnd.oci.image.index.v1+json',
    );
    expect(digest).toBe(built.digest);
    expect(proxy.pending()).toBe(0);
    // read back from the registry directly, not through the proxy
    const target = `${reg.host}/fault/pushed`;
    expect((await direct.getBlob(target, digestOf(big))).equals(big)).toBe(true);
    expect((await direct.getManifest(`${target}:multi`)).digest).toBe(built.digest);
    for (const img of built.images) {
      expect((await direct.getManifest(`${target}@${img.digest}`)).digest).toBe(img.digest);
      for (const b of [...img.layers, img.config])
        expect((await direct.getBlob(target, b.digest)).length).toBe(b.size);
    }
  });

  it('never leaves a partial blob when an upload keeps failing', async () => {
    const bytes = randomBytes(50_000);
    proxy.inject({ fault: { kind: 'reset' }, times: 100, match: { method: 'PUT', path: '/blobs/uploads/' } });
    const e = await rejection(fast().pushBlob(`${proxy.host}/fault/partial`, bytes));
    expect(isGantryError(e, 'infrastructure')).toBe(true);
    expect((e as Error).message).toContain('failed after 6 attempts');
    expect(await direct.blobExists(`${reg.host}/fault/partial`, digestOf(bytes))).toBe(false);
  });

  it('recognises an upload that completed although its answer was lost', async () => {
    const bytes = randomBytes(30_000);
    proxy.inject({
      fault: { kind: 'reset', forward: true },
      times: 1,
      match: { method: 'PUT', path: '/blobs/uploads/' },
    });
    const c = fast();
    await c.pushBlob(`${proxy.host}/fault/lost-answer`, bytes);
    // the forwarded PUT stored the blob; the retry's existence check finds it instead of re-uploading
    expect(proxy.requests.map((r) => `${r.method} ${r.fault ?? r.status}`)).toEqual([
      'HEAD 404',
      'POST 202',
      'PUT reset',
      'HEAD 200',
    ]);
    expect((await direct.getBlob(`${reg.host}/fault/lost-answer`, digestOf(bytes))).equals(bytes)).toBe(true);
  });

  it('does not retry a 404 or 401', async () => {
    const e = await rejection(fast().getManifest(`${proxy.host}/fault/app:absent`));
    expect(isGantryError(e, 'not-found')).toBe(true);
    expect(proxy.requests).toHaveLength(1);
    proxy.inject({ fault: { kind: 'status', status: 403 }, times: 5 });
    const denied = await rejection(fast().getManifest(`${proxy.host}/fault/app:v1`));
    expect(isGantryError(denied, 'auth')).toBe(true);
    expect(proxy.requests).toHaveLength(2);
  });

  it('gives up with an infrastructure error when 503s never stop, or nothing listens', async () => {
    proxy.inject({ fault: { kind: 'status', status: 503 }, times: 100 });
    const e = await rejection(fast().getManifest(`${proxy.host}/fault/app:v1`));
    expect(isGantryError(e, 'infrastructure')).toBe(true);
    expect((e as Error).message).toContain('the registry answered 503');
    expect(proxy.requests).toHaveLength(6);
    const port = await freePort();
    const gone = await rejection(fast().getManifest(`127.0.0.1:${port}/fault/app:v1`));
    expect(isGantryError(gone, 'infrastructure')).toBe(true);
    expect((gone as Error).message).toMatch(/failed after 6 attempts: .*ECONNREFUSED/);
  });

  it('keeps the single-image manifest intact for readers during the faults', async () => {
    const img = buildTestImage({ content: 'fault subject' });
    expect((await direct.getManifest(`${reg.host}/fault/app:v1`)).digest).toBe(img.digest);
  });
});
