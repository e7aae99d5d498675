/**
 * Hermetic tests of the registry client's decisions with a plain-object transport and a manual
 * clock: auth discovery and token caching, what is retried (and how long it waits), digest
 * verification, redirects, pagination, and the pure helpers (challenges, scopes, credentials).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { isGantryError } from '../../src/core/errors.js';
import {
  credentialsFromDockerConfig,
  credentialsFromEnv,
  lookupCredentials,
  mergeScopes,
  parseWwwAuthenticate,
} from '../../src/oci/auth.js';
import { digestOf, digestProblem, matchesDigest, parseDigest } from '../../src/oci/digest.js';
import { TransportError, type HttpRequest, type HttpResponse } from '../../src/oci/http.js';
import { indexPlatforms, parseManifest, type ImageIndex } from '../../src/oci/manifest.js';
import { RegistryClient, isLoopbackRegistry, nextLink, referrersTag } from '../../src/oci/registry.js';

type Handler = (req: HttpRequest, n: number) => Partial<HttpResponse> | Error;

function fakeTransport(handler: Handler): {
  request(req: HttpRequest): Promise<HttpResponse>;
  log: HttpRequest[];
} {
  const log: HttpRequest[] = [];
  return {
    log,
    async request(req) {
      log.push(req);
      const r = handler(req, log.length);
      if (r instanceof Error) throw r;
      return { status: r.status ?? 200, headers: r.headers ?? {}, body: r.body ?? Buffer.alloc(0) };
    },
  };
}

const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf('{}'), size: 2 },
    layers: [],
  }),
);
const manifestDigest = digestOf(manifest);
const okManifest = {
  status: 200,
  headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  body: manifest,
};

function client(handler: Handler, extra: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}) {
  const transport = fakeTransport(handler);
  const clock = new ManualClock();
  const c = new RegistryClient({
    transport,
    clock,
    random: () => 0.5,
    dockerConfig: false,
    env: {},
    ...extra,
  });
  return { c, transport, clock };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('scheme selection', () => {
  it('uses plain HTTP only for loopback hosts unless told', () => {
    expect(isLoopbackRegistry('127.0.0.1:5000')).toBe(true);
    expect(isLoopbackRegistry('[::1]:5000')).toBe(true);
    expect(isLoopbackRegistry('localhost')).toBe(true);
    expect(isLoopbackRegistry('registry.example.com')).toBe(false);
    expect(isLoopbackRegistry('127.example.com')).toBe(false);
    const c = new RegistryClient({ transport: fakeTransport(() => ({})) });
    expect(c.baseUrl('127.0.0.1:5000')).toBe('http://127.0.0.1:5000');
    expect(c.baseUrl('git.example.com')).toBe('https://git.example.com');
    expect(c.baseUrl('docker.io')).toBe('https://registry-1.docker.io');
    expect(
      new RegistryClient({ plainHttp: true, transport: fakeTransport(() => ({})) }).baseUrl('git.lan:3000'),
    ).toBe('http://git.lan:3000');
    expect(
      new RegistryClient({ plainHttp: false, transport: fakeTransport(() => ({})) }).baseUrl(
        '127.0.0.1:5000',
      ),
    ).toBe('https://127.0.0.1:5000');
  });
});

describe('manifests', () => {
  it('sends the full Accept list and computes the digest', async () => {
    const { c, transport } = client(() => okManifest);
    const m = await c.getManifest('git.example.com/team/app:v1');
    expect(m.digest).toBe(manifestDigest);
    const accept = transport.log[0]?.headers?.accept ?? '';
    for (const t of [
      'application/vnd.oci.image.index.v1+json',
      'application/vnd.oci.image.manifest.v1+json',
      'application/vnd.docker.distribution.manifest.list.v2+json',
      'application/vnd.docker.distribution.manifest.v2+json',
    ]) {
      expect(accept).toContain(t);
    }
    expect(transport.log[0]?.url).toBe('https://git.example.com/v2/team/app/manifests/v1');
  });

  it('does not trust Docker-Content-Digest: a lying header is an error, retried, then reported', async () => {
    const { c, transport } = client(
      () => ({
        ...okManifest,
        headers: { ...okManifest.headers, 'docker-content-digest': digestOf('other') },
      }),
      {
        retry: { maxAttempts: 2 },
      },
    );
    const e = await rejection(c.getManifest('git.example.com/team/app:v1'));
    expect(isGantryError(e, 'infrastructure')).toBe(true);
    expect((e as Error).message).toContain(`hashes to ${manifestDigest} but the registry says`);
    expect(transport.log).toHaveLength(2);
  });

  it('rejects content that does not match the digest asked for', async () => {
    const { c } = client(() => okManifest, { retry: { maxAttempts: 1 } });
    const want = digestOf('something else');
    const e = await rejection(c.getManifest(`git.example.com/team/app@${want}`));
    expect((e as Error).message).toContain(`not the requested ${want}`);
  });

  it('PUTs with the media type and returns the computed digest', async () => {
    const { c, transport } = client(() => ({
      status: 201,
      headers: { 'docker-content-digest': manifestDigest },
    }));
    expect(await c.putManifest('git.example.com/team/app:v2', manifest)).toBe(manifestDigest);
    expect(transport.log[0]?.method).toBe('PUT');
    expect(transport.log[0]?.headers?.['content-type']).toBe('application/vnd.oci.image.manifest.v1+json');
  });
  it('rejects a PUT the registry says it stored under another digest', async () => {
    const { c } = client(() => ({ status: 201, headers: { 'docker-content-digest': digestOf('other') } }));
    const e = await rejection(c.putManifest('git.example.com/team/app:v2', manifest));
    expect(isGantryError(e, 'infrastructure')).toBe(true);
    expect((e as Error).message).toContain(
      `the registry stored ${digestOf('other')}, but the content hashes to ${manifestDigest}`,
    );
  });

  it('refuses to PUT content under a digest it does not hash to, before sending anything', async () => {
    const { c, transport } = client(() => ({ status: 201 }));
    const e = await rejection(c.putManifest(`git.example.com/team/app@${digestOf('other')}`, manifest));
    expect(isGantryError(e, 'input')).toBe(true);
    expect(transport.log).toHaveLength(0);
  });
});

describe('retries', () => {
  it('honours Retry-After on 429 and backs off on 503, through the injected clock', async () => {
    const { c, clock } = client((_req, n) =>
      n === 1 ? { status: 429, headers: { 'retry-after': '7' } } : n === 2 ? { status: 503 } : okManifest,
    );
    await c.getManifest('git.example.com/team/app:v1');
    expect(clock.sleeps[0]).toBe(7000);
    expect(clock.sleeps[1]).toBeGreaterThan(0);
    expect(clock.sleeps).toHaveLength(2);
  });

  it('retries resets and timeouts, not 401/403/404', async () => {
    const { c, transport } = client((_r, n) =>
      n < 3 ? new TransportError(n === 1 ? 'ECONNRESET' : 'ETIMEDOUT', 'x') : okManifest,
    );
    expect((await c.getManifest('git.example.com/a/b:1')).digest).toBe(manifestDigest);
    expect(transport.log).toHaveLength(3);
    for (const status of [403, 404]) {
      const f = client(() => ({ status }));
      const e = await rejection(f.c.getManifest('git.example.com/a/b:1'));
      expect(isGantryError(e, status === 404 ? 'not-found' : 'auth')).toBe(true);
      expect(f.transport.log).toHaveLength(1);
    }
  });

  it('gives up after maxAttempts with an infrastructure error', async () => {
    const { c, transport } = client(() => new TransportError('ECONNREFUSED', 'connect ECONNREFUSED'), {
      retry: { maxAttempts: 3 },
    });
    const e = await rejection(c.getManifest('git.example.com/a/b:1'));
    expect(isGantryError(e, 'infrastructure')).toBe(true);
    expect((e as Error).message).toContain('failed after 3 attempts');
    expect(transport.log).toHaveLength(3);
  });
});

describe('auth', () => {
  const challenge =
    'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull"';

  it('asks the token service for the scope the challenge names as well as its own', async () => {
    const wider =
      'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull,push"';
    const { c, transport } = client((req) => {
      if (req.url.startsWith('https://auth.example.com/'))
        return { status: 200, body: Buffer.from('{"token":"tok-1"}') };
      if (req.headers?.authorization !== 'Bearer tok-1')
        return { status: 401, headers: { 'www-authenticate': wider } };
      return okManifest;
    });
    await c.getManifest('registry.example.com/team/app:v1');
    const token = transport.log.find((r) => r.url.startsWith('https://auth.example.com/'));
    expect(new URL(token?.url ?? '').searchParams.getAll('scope')).toEqual(['repository:team/app:pull,push']);
  });

  it('discovers Bearer auth, fetches a token for the scope, caches it', async () => {
    const { c, transport } = client(
      (req) => {
        if (req.url.startsWith('https://auth.example.com/'))
          return { status: 200, body: Buffer.from('{"token":"tok-1","expires_in":300}') };
        if (req.headers?.authorization !== 'Bearer tok-1')
          return { status: 401, headers: { 'www-authenticate': challenge } };
        return okManifest;
      },
      { credentials: { username: 'ci', password: 'pw-secret' } },
    );
    await c.getManifest('registry.example.com/team/app:v1');
    await c.getManifest('registry.example.com/team/app:v2');
    const urls = transport.log.map((r) => r.url);
    expect(urls).toEqual([
      'https://registry.example.com/v2/team/app/manifests/v1',
      'https://auth.example.com/token?service=registry.example.com&scope=repository%3Ateam%2Fapp%3Apull',
      'https://registry.example.com/v2/team/app/manifests/v1',
      'https://registry.example.com/v2/team/app/manifests/v2',
    ]);
    expect(transport.log[1]?.headers?.authorization).toBe(
      `Basic ${Buffer.from('ci:pw-secret').toString('base64')}`,
    );
  });

  it('refetches an expired token', async () => {
    let issued = 0;
    const { c, transport, clock } = client((req) => {
      if (req.url.startsWith('https://auth.example.com/'))
        return { status: 200, body: Buffer.from(`{"token":"tok-${++issued}","expires_in":60}`) };
      if (!req.headers?.authorization?.startsWith('Bearer '))
        return { status: 401, headers: { 'www-authenticate': challenge } };
      return okManifest;
    });
    await c.getManifest('registry.example.com/team/app:v1');
    clock.advance(120_000);
    await c.getManifest('registry.example.com/team/app:v1');
    expect(transport.log.filter((r) => r.url.includes('auth.example.com'))).toHaveLength(2);
    expect(transport.log.at(-1)?.headers?.authorization).toBe('Bearer tok-2');
  });

  it('sends Basic credentials only after a Basic challenge, and never to another host on redirect', async () => {
    const { c, transport } = client(
      (req) => {
        if (req.url.startsWith('https://cdn.example.net/'))
          return { status: 200, body: Buffer.from('blob!') };
        if (!req.headers?.authorization)
          return { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } };
        return { status: 307, headers: { location: 'https://cdn.example.net/blob?sig=1' } };
      },
      { credentials: { username: 'u', password: 'p' } },
    );
    const got = await c.getBlob('registry.example.com/team/app', digestOf('blob!'));
    expect(got.toString()).toBe('blob!');
    expect(transport.log.map((r) => [new URL(r.url).host, r.headers?.authorization !== undefined])).toEqual([
      ['registry.example.com', false],
      ['registry.example.com', true],
      ['cdn.example.net', false],
    ]);
  });

  it('fails at once on 401 without credentials, naming registry, repository and the fix', async () => {
    const { c, transport } = client(() => ({
      status: 401,
      headers: { 'www-authenticate': 'Basic realm="r"' },
    }));
    const e = await rejection(c.getManifest('git.example.com/owner/app:v1'));
    expect(isGantryError(e, 'auth')).toBe(true);
    expect((e as Error).message).toContain('registry git.example.com repository owner/app');
    expect((e as { hint: string }).hint).toContain('write:package');
    expect(transport.log).toHaveLength(1);
  });
});

describe('tags, referrers, uploads', () => {
  it('follows Link pagination', async () => {
    const { c } = client((req) =>
      req.url.includes('last=b')
        ? { body: Buffer.from('{"tags":["c"]}') }
        : {
            body: Buffer.from('{"tags":["a","b"]}'),
            headers: { link: '</v2/team/app/tags/list?n=2&last=b>; rel="next"' },
          },
    );
    expect(await c.listTags('git.example.com/team/app', { pageSize: 2 })).toEqual(['a', 'b', 'c']);
    expect(nextLink('<https://x/v2/a/tags/list?last=z>; rel="next"')).toBe('https://x/v2/a/tags/list?last=z');
    expect(nextLink('<https://x/a>; rel="prev"')).toBeUndefined();
  });

  it('uses the referrers API when the registry has one, and the tag fallback on 404', async () => {
    const subject = `sha256:${'a'.repeat(64)}`;
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ mediaType: 'x', digest: manifestDigest, size: 1, artifactType: 'sig' }],
      }),
    );
    const api = client((req) => (req.url.includes('/referrers/') ? { body: index } : { status: 500 }));
    expect(
      (await api.c.getReferrers(`git.example.com/team/app@${subject}`)).map((d) => d.artifactType),
    ).toEqual(['sig']);
    const fallback = client((req) =>
      req.url.includes('/referrers/')
        ? { status: 404 }
        : req.url.endsWith(`/manifests/${referrersTag(subject)}`)
          ? { body: index, headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' } }
          : { status: 500 },
    );
    expect(
      await fallback.c.getReferrers(`git.example.com/team/app@${subject}`, { artifactType: 'sig' }),
    ).toHaveLength(1);
    expect(referrersTag(subject)).toBe(`sha256-${'a'.repeat(64)}`);
  });

  it('rejects a blob upload the registry says it stored under another digest', async () => {
    const { c } = client((req) => {
      if (req.method === 'HEAD') return { status: 404 };
      if (req.method === 'POST')
        return { status: 202, headers: { location: '/v2/team/app/blobs/uploads/u1' } };
      return { status: 201, headers: { 'docker-content-digest': digestOf('other') } };
    });
    const e = await rejection(c.pushBlob('git.example.com/team/app', 'layer bytes'));
    expect(isGantryError(e, 'infrastructure')).toBe(true);
    expect((e as Error).message).toContain(
      `the registry stored ${digestOf('other')}, not ${digestOf('layer bytes')}`,
    );
  });

  it('restarts a chunked upload in a fresh session when the registry lost bytes', async () => {
    const bytes = Buffer.from('0123456789');
    let session = 0;
    const { c, transport } = client((req) => {
      if (req.method === 'HEAD') return { status: 404 };
      if (req.method === 'POST')
        return { status: 202, headers: { location: `/v2/team/app/blobs/uploads/u${++session}` } };
      if (req.method === 'PATCH') {
        const [, end] = (req.headers?.['content-range'] ?? '').split('-');
        // the first session drops the second chunk: its range stays at 0-3
        const range = session === 1 && end === '7' ? '0-3' : `0-${end}`;
        return { status: 202, headers: { location: req.url, range } };
      }
      return { status: 201, headers: { 'docker-content-digest': digestOf(bytes) } };
    });
    expect(await c.pushBlob('git.example.com/team/app', bytes, { chunkSize: 4 })).toEqual({
      digest: digestOf(bytes),
      size: 10,
    });
    expect(transport.log.filter((r) => r.method === 'POST')).toHaveLength(2);
    const puts = transport.log.filter((r) => r.method === 'PUT');
    expect(puts).toHaveLength(1);
    expect(puts[0]?.url).toContain('/uploads/u2');
  });

  it('uploads in chunks with Content-Range and finishes with the digest', async () => {
    const bytes = Buffer.from('0123456789');
    let stored = 0;
    const { c, transport } = client((req) => {
      if (req.method === 'HEAD') return { status: 404 };
      if (req.method === 'POST')
        return { status: 202, headers: { location: '/v2/team/app/blobs/uploads/u1?_state=s' } };
      if (req.method === 'PATCH') {
        stored += req.body?.length ?? 0;
        return {
          status: 202,
          headers: { location: `/v2/team/app/blobs/uploads/u1?_state=s${stored}`, range: `0-${stored - 1}` },
        };
      }
      return { status: 201, headers: { 'docker-content-digest': digestOf(bytes) } };
    });
    expect(await c.pushBlob('git.example.com/team/app', bytes, { chunkSize: 4 })).toEqual({
      digest: digestOf(bytes),
      size: 10,
    });
    expect(
      transport.log.filter((r) => r.method === 'PATCH').map((r) => r.headers?.['content-range']),
    ).toEqual(['0-3', '4-7', '8-9']);
    const put = transport.log.at(-1);
    expect(put?.method).toBe('PUT');
    expect(new URL(put?.url ?? '').searchParams.get('digest')).toBe(digestOf(bytes));
    expect(new URL(put?.url ?? '').searchParams.get('_state')).toBe('s10');
  });
});

describe('pure helpers', () => {
  it('parses WWW-Authenticate challenges with quoted values and several schemes', () => {
    expect(
      parseWwwAuthenticate('Bearer realm="https://a/token",service="reg",scope="repository:x/y:pull,push"'),
    ).toEqual([
      {
        scheme: 'bearer',
        params: { realm: 'https://a/token', service: 'reg', scope: 'repository:x/y:pull,push' },
      },
    ]);
    expect(parseWwwAuthenticate('Basic realm="Gitea \\"registry\\"", Bearer realm=https://b')).toEqual([
      { scheme: 'basic', params: { realm: 'Gitea "registry"' } },
      { scheme: 'bearer', params: { realm: 'https://b' } },
    ]);
  });

  it('merges scopes per resource', () => {
    expect(mergeScopes(['repository:a:pull', 'repository:a:push', 'repository:b:pull'])).toEqual([
      'repository:a:pull,push',
      'repository:b:pull',
    ]);
  });

  it('finds credentials in env (all or none, optionally one host) and docker config', () => {
    expect(
      credentialsFromEnv('r.io', { GANTRY_REGISTRY_USERNAME: 'u', GANTRY_REGISTRY_PASSWORD: 'p' }),
    ).toEqual({ username: 'u', password: 'p' });
    expect(() => credentialsFromEnv('r.io', { GANTRY_REGISTRY_USERNAME: 'u' })).toThrow(
      /must be set together/,
    );
    expect(
      credentialsFromEnv('other.io', {
        GANTRY_REGISTRY_USERNAME: 'u',
        GANTRY_REGISTRY_PASSWORD: 'p',
        GANTRY_REGISTRY_HOST: 'r.io',
      }),
    ).toBeUndefined();
    const auth = Buffer.from('alice:s3:cret').toString('base64');
    expect(
      credentialsFromDockerConfig('docker.io', { auths: { 'https://index.docker.io/v1/': { auth } } }),
    ).toEqual({ username: 'alice', password: 's3:cret' });
    expect(
      credentialsFromDockerConfig('git.example.com', {
        auths: { 'git.example.com': { username: 'b', password: 'c' } },
      }),
    ).toEqual({ username: 'b', password: 'c' });
    expect(
      credentialsFromDockerConfig('git.example.com', { auths: { 'other.example.com': { auth } } }),
    ).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), 'gantry-dockercfg-'));
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ auths: { 'https://git.example.com': { auth } } }),
    );
    expect(lookupCredentials('git.example.com', { env: { DOCKER_CONFIG: dir } })).toEqual({
      username: 'alice',
      password: 's3:cret',
    });
    expect(
      lookupCredentials('git.example.com', { env: { DOCKER_CONFIG: dir }, dockerConfig: false }),
    ).toBeUndefined();
  });

  it('validates digests like go-digest and verifies content', () => {
    expect(digestProblem('sha256:abc')).toBe('digest.ErrDigestInvalidLength');
    expect(digestProblem('md5:' + 'a'.repeat(32))).toBe('digest.ErrDigestUnsupported');
    expect(digestProblem('sha256:' + 'A'.repeat(64))).toBe('digest.ErrDigestInvalidFormat');
    expect(digestProblem('nocolon')).toBe('digest.ErrDigestInvalidFormat');
    expect(() => parseDigest('sha256:zz')).toThrow('invalid checksum digest length');
    expect(matchesDigest(Buffer.from('x'), digestOf('x'))).toBe(true);
    expect(matchesDigest(Buffer.from('y'), digestOf('x'))).toBe(false);
    expect(digestOf('x', 'sha512')).toMatch(/^sha512:[a-f0-9]{128}$/);
  });

  it('classifies manifests and lists index platforms without attestation entries', () => {
    const idx: ImageIndex = {
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'm',
          digest: 'sha256:1',
          size: 1,
          platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
        },
        { mediaType: 'm', digest: 'sha256:2', size: 1, platform: { os: 'unknown', architecture: 'unknown' } },
      ],
    };
    const parsed = parseManifest(Buffer.from(JSON.stringify(idx)));
    expect(parsed.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(indexPlatforms(idx)).toEqual([{ platform: 'linux/arm/v7', digest: 'sha256:1' }]);
    expect(() => parseManifest(Buffer.from('{"schemaVersion":1}'))).toThrow(/schemaVersion 1/);
  });
});
