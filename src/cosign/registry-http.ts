/**
 * A small SignatureRegistry over the OCI distribution API with fetch: manifests, blobs (one-request
 * monolithic upload, `POST …/blobs/uploads/?digest=`), referrers, Basic and Bearer-token auth, and
 * a request counter for the benchmark. It exists so signing works on its own; where the project's
 * full registry client (src/oci) is available it can be adapted to SignatureRegistry instead.
 */
import { createHash } from 'node:crypto';
import { GantryError } from '../core/errors.js';
import type { ImageReference } from '../oci/reference.js';
import type { FetchedManifest, ReferrerDescriptor, SignatureRegistry } from './registry.js';

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export interface HttpSignatureRegistryOptions {
  /** Credentials per registry host (`host:port`). */
  credentials?: (host: string) => { username: string; password: string } | undefined;
  /** Use plain HTTP for these hosts (default: loopback hosts). */
  insecureHosts?: (host: string) => boolean;
  /** Called for every HTTP request sent (benchmarks count them). */
  onRequest?: (method: string, url: string, status: number) => void;
  fetch?: typeof fetch;
}

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function isLoopback(host: string): boolean {
  return /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host);
}

export class HttpSignatureRegistry implements SignatureRegistry {
  private readonly tokens = new Map<string, string>();
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: HttpSignatureRegistryOptions = {}) {
    this.fetchFn = options.fetch ?? fetch;
  }

  private base(ref: ImageReference): string {
    const insecure = (this.options.insecureHosts ?? isLoopback)(ref.domain);
    const host = ref.domain === 'docker.io' ? 'registry-1.docker.io' : ref.domain;
    return `${insecure ? 'http' : 'https'}://${host}/v2/${ref.path}`;
  }

  private async send(ref: ImageReference, method: string, url: string, init: RequestInit = {}): Promise<Response> {
    const key = `${ref.domain}/${ref.path}`;
    const headers = new Headers(init.headers);
    const token = this.tokens.get(key);
    if (token) headers.set('authorization', token);
    let res = await this.fetchFn(url, { ...init, method, headers, redirect: 'follow' });
    this.options.onRequest?.(method, url, res.status);
    if (res.status === 401 && !token) {
      const auth = await this.authorize(ref, res.headers.get('www-authenticate') ?? '');
      if (auth) {
        this.tokens.set(key, auth);
        headers.set('authorization', auth);
        res = await this.fetchFn(url, { ...init, method, headers, redirect: 'follow' });
        this.options.onRequest?.(method, url, res.status);
      }
    }
    if (res.status === 401 || res.status === 403) {
      throw new GantryError('auth', `${method} ${url}: the registry refused the credentials (${res.status})`, {
        hint: 'check the registry username/password',
      });
    }
    return res;
  }

  private async authorize(ref: ImageReference, challenge: string): Promise<string | undefined> {
    const creds = this.options.credentials?.(ref.domain);
    const basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
    if (/^basic/i.test(challenge)) return basic;
    if (!/^bearer/i.test(challenge)) return undefined;
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!params.realm) return undefined;
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', `repository:${ref.path}:pull,push`);
    const res = await this.fetchFn(url, { headers: basic ? { authorization: basic } : {} });
    this.options.onRequest?.('GET', url.toString(), res.status);
    if (!res.ok) throw new GantryError('auth', `token request to ${url.origin} failed (${res.status})`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const t = body.token ?? body.access_token;
    return t ? `Bearer ${t}` : undefined;
  }

  private async fail(res: Response, what: string): Promise<never> {
    const text = (await res.text().catch(() => '')).slice(0, 300);
    const code = res.status === 404 ? 'not-found' : res.status >= 500 || res.status === 429 ? 'infrastructure' : 'input';
    throw new GantryError(code, `${what}: HTTP ${res.status} ${text}`.trim());
  }

  async getManifest(ref: ImageReference): Promise<FetchedManifest | undefined> {
    const id = ref.digest ?? ref.tag ?? 'latest';
    const url = `${this.base(ref)}/manifests/${id}`;
    const res = await this.send(ref, 'GET', url, { headers: { accept: MANIFEST_ACCEPT } });
    if (res.status === 404) return undefined;
    if (!res.ok) return this.fail(res, `GET ${url}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = sha256(bytes);
    if (ref.digest && ref.digest !== digest) {
      throw new GantryError('infrastructure', `the registry returned a manifest whose digest ${digest} is not ${ref.digest}`);
    }
    let mediaType = res.headers.get('content-type') ?? '';
    try {
      mediaType = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? mediaType;
    } catch {
      /* not JSON: keep the header */
    }
    return { bytes, mediaType, digest };
  }

  async putManifest(ref: ImageReference, tag: string | undefined, bytes: Buffer, mediaType: string): Promise<string> {
    const digest = sha256(bytes);
    const url = `${this.base(ref)}/manifests/${tag ?? digest}`;
    const res = await this.send(ref, 'PUT', url, { headers: { 'content-type': mediaType }, body: bytes });
    if (!res.ok) return this.fail(res, `PUT ${url}`);
    await res.arrayBuffer();
    return digest;
  }

  async getBlob(ref: ImageReference, digest: string): Promise<Buffer> {
    const url = `${this.base(ref)}/blobs/${digest}`;
    const res = await this.send(ref, 'GET', url);
    if (!res.ok) return this.fail(res, `GET ${url}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    if (sha256(bytes) !== digest) throw new GantryError('infrastructure', `blob ${digest} came back with other content`);
    return bytes;
  }

  async putBlob(ref: ImageReference, bytes: Buffer): Promise<string> {
    const digest = sha256(bytes);
    // One request: a monolithic upload (distribution spec "single POST"); a registry that does not
    // support it answers 202 with an upload location, which we then complete with one PUT.
    const url = `${this.base(ref)}/blobs/uploads/?digest=${encodeURIComponent(digest)}`;
    const res = await this.send(ref, 'POST', url, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
      body: bytes,
    });
    if (res.status === 201) {
      await res.arrayBuffer();
      return digest;
    }
    if (res.status !== 202) return this.fail(res, `POST ${url}`);
    await res.arrayBuffer();
    const location = new URL(res.headers.get('location') ?? '', url);
    location.searchParams.set('digest', digest);
    const put = await this.send(ref, 'PUT', location.toString(), {
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    if (!put.ok) return this.fail(put, `PUT ${location.origin}${location.pathname}`);
    await put.arrayBuffer();
    return digest;
  }

  async referrers(ref: ImageReference, digest: string, artifactType?: string): Promise<ReferrerDescriptor[] | undefined> {
    const url = `${this.base(ref)}/referrers/${digest}${artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : ''}`;
    const res = await this.send(ref, 'GET', url, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
    if (res.status === 404 || res.status === 405 || res.status === 400) {
      await res.arrayBuffer();
      return undefined;
    }
    if (!res.ok) return this.fail(res, `GET ${url}`);
    const index = (await res.json()) as { manifests?: ReferrerDescriptor[] };
    const all = index.manifests ?? [];
    return artifactType ? all.filter((d) => d.artifactType === artifactType) : all;
  }
}
