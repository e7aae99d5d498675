/**
 * The Bearer token flow against the distribution registry's own `auth: token` mode (how Gitea's
 * registry works): tokens fetched per scope and cached, anonymous pull tokens, one re-auth when a
 * token is refused, and clear auth errors.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { isGantryError } from '../../src/core/errors.js';
import { RegistryClient } from '../../src/oci/registry.js';
import type { HttpRequest, HttpTransport } from '../../src/oci/http.js';
import { NodeHttpTransport } from '../../src/oci/http.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { startTokenIssuer, type RunningTokenIssuer } from '../fixtures/token-issuer.js';
import { pushTestImage, pushTestIndex } from '../fixtures/oci-images.js';

const alice = { username: 'alice', password: 'alice-secret-pw' };

/** Counts requests per URL path so tests can assert on round trips. */
function countingTransport(): HttpTransport & { log: string[] } {
  const inner = new NodeHttpTransport();
  const log: string[] = [];
  return {
    log,
    request(req: HttpRequest) {
      const u = new URL(req.url);
      log.push(`${req.method} ${u.pathname}`);
      return inner.request(req);
    },
    close: () => inner.close(),
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('token auth (distribution auth: token + test JWT issuer)', () => {
  let issuer: RunningTokenIssuer;
  let reg: RunningRegistry;
  beforeAll(async () => {
    issuer = await startTokenIssuer({ users: { alice: alice.password }, anonymousPull: true });
    reg = await startRegistry({ auth: 'token', token: issuer.registryConfig });
  });

  it('pushes with credentials, asking for pull,push tokens, and caches them per scope', async () => {
    const transport = countingTransport();
    const client = new RegistryClient({ credentials: alice, transport, dockerConfig: false, env: {} });
    const digest = await pushTestImage(reg.url, 'alice/app', 'v1', { client });
    expect(digest).toMatch(/^sha256:/);
    const tokenRequests = transport.log.filter((l) => l.startsWith('GET /token'));
    // one token for repository:alice/app:pull,push serves every request of the push
    expect(tokenRequests).toHaveLength(1);
    expect(issuer.requests.at(-1)).toEqual({
      user: 'alice',
      scopes: ['repository:alice/app:pull,push'],
      status: 200,
    });
    // pulling needs a different scope set: one more token, then cached
    await client.getManifest(`${reg.host}/alice/app:v1`);
    await client.getManifest(`${reg.host}/alice/app:v1`);
    expect(transport.log.filter((l) => l.startsWith('GET /token'))).toHaveLength(2);
    expect(issuer.requests.at(-1)?.scopes).toEqual(['repository:alice/app:pull']);
    client.close();
  });

  it('mounts a blob across repositories with one token covering both (no 401 round trip)', async () => {
    const transport = countingTransport();
    const client = new RegistryClient({ credentials: alice, transport, dockerConfig: false, env: {} });
    const { digest } = await client.pushBlob(`${reg.host}/alice/mount-source`, `mount me ${Date.now()}`);
    const before = transport.log.length;
    const target = `${reg.host}/alice/mount-target`;
    expect(await client.mountBlob(target, digest, `${reg.host}/alice/mount-source`)).toBe(true);
    expect(transport.log.slice(before)).toEqual(['GET /token', 'POST /v2/alice/mount-target/blobs/uploads/']);
    expect(issuer.requests.at(-1)?.scopes).toEqual([
      'repository:alice/mount-source:pull',
      'repository:alice/mount-target:pull,push',
    ]);
    expect(await client.blobExists(target, digest)).toBe(true);
    client.close();
  });

  it('pulls anonymously with an anonymous token', async () => {
    await pushTestIndex(reg.url, 'alice/multi', 'v1', { credentials: alice });
    const client = new RegistryClient({ dockerConfig: false, env: {} });
    const m = await client.getManifest(`${reg.host}/alice/multi:v1`);
    expect(m.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(issuer.requests.at(-1)).toEqual({
      user: undefined,
      scopes: ['repository:alice/multi:pull'],
      status: 200,
    });
    client.close();
  });

  it('refuses an anonymous push with an auth error naming registry, repository and the Gitea scope', async () => {
    const client = new RegistryClient({ dockerConfig: false, env: {} });
    const e = await rejection(pushTestImage(reg.url, 'alice/app', 'anon', { client, content: 'anon' }));
    expect(isGantryError(e, 'auth')).toBe(true);
    expect((e as Error).message).toContain(`registry ${reg.host} repository alice/app`);
    expect((e as { hint?: string }).hint).toMatch(/write:package.*built-in Actions token cannot push/);
    client.close();
  });

  it('re-authenticates once when the registry refuses a token', async () => {
    const transport = countingTransport();
    const client = new RegistryClient({ credentials: alice, transport, dockerConfig: false, env: {} });
    issuer.issueUntrustedTokens(1);
    const m = await client.getManifest(`${reg.host}/alice/app:v1`);
    expect(m.digest).toMatch(/^sha256:/);
    // 401 (discovery) → token (untrusted) → 401 → token → 200
    expect(transport.log).toEqual([
      'GET /v2/alice/app/manifests/v1',
      'GET /token',
      'GET /v2/alice/app/manifests/v1',
      'GET /token',
      'GET /v2/alice/app/manifests/v1',
    ]);
    client.close();
  });

  it('gives up after one re-auth when tokens keep being refused', async () => {
    const transport = countingTransport();
    const client = new RegistryClient({ credentials: alice, transport, dockerConfig: false, env: {} });
    issuer.issueUntrustedTokens(10);
    const e = await rejection(client.getManifest(`${reg.host}/alice/app:v1`));
    issuer.issueUntrustedTokens(0);
    expect(isGantryError(e, 'auth')).toBe(true);
    expect(transport.log.filter((l) => l === 'GET /token')).toHaveLength(2);
    expect(transport.log.filter((l) => l.includes('/manifests/'))).toHaveLength(3);
    client.close();
  });

  it('reports wrong credentials rejected by the token service as an auth error', async () => {
    const client = new RegistryClient({
      credentials: { username: 'alice', password: 'nope-nope' },
      dockerConfig: false,
      env: {},
    });
    const e = await rejection(client.getManifest(`${reg.host}/alice/app:v1`));
    expect(isGantryError(e, 'auth')).toBe(true);
    expect((e as Error).message).toContain('alice');
    expect((e as Error).message).not.toContain('nope-nope');
    client.close();
  });
});
