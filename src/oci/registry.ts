/**
 * The registry client: OCI distribution API verbs over any registry (Gitea's container registry
 * first, the CNCF distribution registry, Docker Hub, GHCR …), with auth discovered from
 * `WWW-Authenticate`, retries for transient faults, and content verified by digest.
 *
 * Usage:
 *   const registry = new RegistryClient({ logger });          // credentials: see ./auth.ts
 *   const m = await registry.getManifest('127.0.0.1:5000/team/app:v1');  // m.digest is computed
 *   const layer = await registry.pushBlob('127.0.0.1:5000/team/app', bytes); // { digest, size }
 *   const digest = await registry.putManifest('127.0.0.1:5000/team/app:v1', json, MediaType.OciManifest);
 *   const sigs = await registry.getReferrers(`127.0.0.1:5000/team/app@${digest}`);
 *   registry.close();
 *
 * Every verb takes an ImageReference or a string (parsed with `parseReference`). Failures are
 * GantryErrors: `not-found` (exit 1) for absent manifests/blobs, `auth` for 401/403 with a hint
 * naming what to check, `infrastructure` when the registry stays unreachable after retries.
 * Plain HTTP is used for loopback registries (127.0.0.0/8, ::1, localhost) or when `plainHttp`
 * is set; everything else is HTTPS (custom CA via `ca`).
 */
import { systemClock, type Clock } from '../core/clock.js';
import { GantryError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import { parseRetryAfter, retry } from '../core/retry.js';
import {
  dockerConfigPath,
  lookupCredentials,
  mergeScopes,
  parseWwwAuthenticate,
  repositoryScope,
  type Credentials,
} from './auth.js';
import { digestHex, digestOf, parseDigest } from './digest.js';
import {
  NodeHttpTransport,
  TransportError,
  type HttpRequest,
  type HttpResponse,
  type HttpTransport,
} from './http.js';
import {
  MANIFEST_MEDIA_TYPES,
  MediaType,
  isIndex,
  parseManifest,
  type Descriptor,
  type ImageIndex,
  type Manifest,
} from './manifest.js';
import { formatReference, parseReference, referenceName, type ImageReference } from './reference.js';

export type RefLike = ImageReference | string;

/** A manifest as fetched: the exact bytes, their computed digest, and the parsed document. */
export interface FetchedManifest {
  /** The reference asked for, with `digest` set to the content's digest. */
  reference: ImageReference;
  digest: string;
  mediaType: string;
  size: number;
  bytes: Uint8Array;
  manifest: Manifest;
}

/** What a HEAD on a manifest says. The digest is the registry's claim (there is no body to hash). */
export interface ManifestHead {
  digest: string | undefined;
  mediaType: string | undefined;
  size: number | undefined;
}

export interface PushBlobOptions {
  /** Upload in PATCH chunks of this many bytes instead of one PUT. */
  chunkSize?: number;
  /** Try a cross-repository mount from this repository (same registry) before uploading. */
  mountFrom?: RefLike;
}

export interface BlobDescriptor {
  digest: string;
  size: number;
}

/** The registry verbs other modules depend on; fakes in tests are plain objects. */
export interface Registry {
  getManifest(ref: RefLike): Promise<FetchedManifest>;
  headManifest(ref: RefLike): Promise<ManifestHead | undefined>;
  resolveDigest(ref: RefLike): Promise<string>;
  putManifest(ref: RefLike, body: Uint8Array | string, mediaType?: string): Promise<string>;
  deleteManifest(ref: RefLike): Promise<void>;
  blobExists(repo: RefLike, digest: string): Promise<boolean>;
  pushBlob(repo: RefLike, bytes: Uint8Array | string, options?: PushBlobOptions): Promise<BlobDescriptor>;
  mountBlob(repo: RefLike, digest: string, from: RefLike): Promise<boolean>;
  getBlob(repo: RefLike, digest: string): Promise<Buffer>;
  listTags(repo: RefLike): Promise<string[]>;
  getReferrers(subject: RefLike, options?: { artifactType?: string }): Promise<Descriptor[]>;
  putReferrer(subject: RefLike, body: Uint8Array | string, mediaType?: string): Promise<string>;
}

export interface RegistryRetryOptions {
  maxAttempts?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Give up on one operation after this long. Default 120 s. */
  deadlineMs?: number;
}

export interface RegistryClientOptions {
  /** Explicit credentials: for every registry, or chosen per host. Beats env and docker config. */
  credentials?: Credentials | ((host: string) => Credentials | undefined);
  /** Environment for GANTRY_REGISTRY_* and DOCKER_CONFIG (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** docker config.json path, or false to ignore it. */
  dockerConfig?: string | false;
  /** true: always HTTP; false: always HTTPS; undefined: HTTP only for loopback hosts. */
  plainHttp?: boolean;
  /** Extra trusted CA certificates (PEM). */
  ca?: string | Buffer;
  /** Skip TLS certificate verification (self-signed registries, when asked). */
  insecureSkipVerify?: boolean;
  /** Inactivity timeout per request (default 30 s). */
  timeoutMs?: number;
  retry?: RegistryRetryOptions;
  transport?: HttpTransport;
  logger?: Logger;
  clock?: Clock;
  random?: () => number;
  signal?: AbortSignal;
  userAgent?: string;
}

/** 5xx / 429 / 408: the registry asked us to come back. */
class RetryableStatusError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
    this.name = 'RetryableStatusError';
  }
}

/** Received bytes that do not hash to what was asked for: corrupted or truncated in transit. */
class DigestMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DigestMismatchError';
  }
}

interface HostState {
  scheme: 'unknown' | 'none' | 'basic' | 'bearer';
  realm?: string;
  service?: string;
  credentials?: Credentials | null;
  tokens: Map<string, { token: string; expiresAt: number }>;
}

interface Op {
  method: HttpRequest['method'];
  /** Registry host as written in references (docker.io for Docker Hub). */
  domain: string;
  /** Repository path for scopes and messages; undefined for /v2/ itself. */
  repository?: string;
  /** Path under the registry (`/v2/…`) or an absolute URL (upload locations, Link pages). */
  target: string;
  actions: readonly string[];
  extraScopes?: readonly string[];
  headers?: Record<string, string>;
  body?: Uint8Array;
  what: string;
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)$/i;

function hostOnly(domain: string): string {
  if (domain.startsWith('[')) return domain.slice(0, domain.indexOf(']') + 1);
  return domain.split(':')[0] ?? domain;
}

export function isLoopbackRegistry(domain: string): boolean {
  return LOOPBACK.test(hostOnly(domain));
}

function toRef(r: RefLike): ImageReference {
  return typeof r === 'string' ? parseReference(r) : r;
}

function toBytes(b: Uint8Array | string): Uint8Array {
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
}

function ociErrors(body: Buffer): string {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[] };
    const list = (doc.errors ?? [])
      .map((e) => [e.code, e.message].filter(Boolean).join(': '))
      .filter(Boolean);
    return list.join('; ');
  } catch {
    return body.toString('utf8').slice(0, 200).trim();
  }
}

/** The `rel="next"` target of a Link header, if any. */
export function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (m && /rel="?next"?/i.test(m[2] ?? '')) return m[1];
  }
  return undefined;
}

/** The referrers tag-schema fallback name for a subject digest: `sha256-<hex>`. */
export function referrersTag(digest: string): string {
  return `${digest.slice(0, digest.indexOf(':'))}-${digestHex(digest)}`;
}

export class RegistryClient implements Registry {
  private readonly transport: HttpTransport;
  private readonly hosts = new Map<string, HostState>();
  private readonly clock: Clock;
  private readonly options: RegistryClientOptions;

  constructor(options: RegistryClientOptions = {}) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.transport =
      options.transport ??
      new NodeHttpTransport({
        ...(options.ca !== undefined ? { ca: options.ca } : {}),
        insecureSkipVerify: options.insecureSkipVerify ?? false,
        timeoutMs: options.timeoutMs ?? 30_000,
      });
  }

  close(): void {
    this.transport.close?.();
  }

  /** The base URL requests for `domain` go to. */
  baseUrl(domain: string): string {
    const host = domain === 'docker.io' ? 'registry-1.docker.io' : domain;
    const plain = this.options.plainHttp ?? isLoopbackRegistry(domain);
    return `${plain ? 'http' : 'https'}://${host}`;
  }

  // --- verbs -------------------------------------------------------------------------------------

  /** GET /v2/: reachable, and which auth scheme the registry wants. */
  async ping(domain: string): Promise<{ auth: 'none' | 'basic' | 'bearer' }> {
    const res = await this.call(
      { method: 'GET', domain, target: '/v2/', actions: [], what: `ping ${domain}` },
      [200, 401],
    );
    if (res.status === 200) return { auth: this.state(domain).scheme === 'basic' ? 'basic' : 'none' };
    const scheme = this.state(domain).scheme;
    return { auth: scheme === 'bearer' ? 'bearer' : scheme === 'basic' ? 'basic' : 'none' };
  }

  async getManifest(refLike: RefLike): Promise<FetchedManifest> {
    const ref = toRef(refLike);
    const id = ref.digest ?? ref.tag ?? 'latest';
    const what = `GET manifest ${formatReference(ref)}`;
    return this.retrying(what, async () => {
      const res = await this.send({
        method: 'GET',
        domain: ref.domain,
        repository: ref.path,
        target: `/v2/${ref.path}/manifests/${id}`,
        actions: ['pull'],
        headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
        what,
      });
      this.check(res, [200], {
        domain: ref.domain,
        repository: ref.path,
        what,
        notFound: `image ${formatReference(ref)} not found`,
      });
      const bytes = res.body;
      const digest = digestOf(bytes, ref.digest?.startsWith('sha512:') ? 'sha512' : 'sha256');
      if (ref.digest && digest !== ref.digest) {
        throw new DigestMismatchError(
          `${what}: the content hashes to ${digest}, not the requested ${ref.digest}`,
        );
      }
      const claimed = res.headers['docker-content-digest'];
      if (!ref.digest && claimed && claimed.split(':')[0] === digest.split(':')[0] && claimed !== digest) {
        throw new DigestMismatchError(
          `${what}: the content hashes to ${digest} but the registry says ${claimed}`,
        );
      }
      const { manifest, mediaType } = parseManifest(bytes, res.headers['content-type']);
      return { reference: { ...ref, digest }, digest, mediaType, size: bytes.length, bytes, manifest };
    });
  }

  async headManifest(refLike: RefLike): Promise<ManifestHead | undefined> {
    const ref = toRef(refLike);
    const id = ref.digest ?? ref.tag ?? 'latest';
    const what = `HEAD manifest ${formatReference(ref)}`;
    const res = await this.call(
      {
        method: 'HEAD',
        domain: ref.domain,
        repository: ref.path,
        target: `/v2/${ref.path}/manifests/${id}`,
        actions: ['pull'],
        headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
        what,
      },
      [200, 404],
    );
    if (res.status === 404) return undefined;
    const len = res.headers['content-length'];
    return {
      digest: res.headers['docker-content-digest'] ?? ref.digest,
      mediaType: res.headers['content-type']?.split(';')[0],
      size: len === undefined ? undefined : Number(len),
    };
  }

  /** The digest of what `ref` points at, computed from the manifest bytes (one GET). */
  async resolveDigest(refLike: RefLike): Promise<string> {
    return (await this.getManifest(refLike)).digest;
  }

  /**
   * PUT a manifest under the reference's tag (or its digest when there is no tag). Returns the
   * computed digest; a registry that reports a different one is an error.
   */
  async putManifest(refLike: RefLike, body: Uint8Array | string, mediaType?: string): Promise<string> {
    return (await this.putManifestWithHeaders(refLike, body, mediaType)).digest;
  }

  private async putManifestWithHeaders(
    refLike: RefLike,
    body: Uint8Array | string,
    mediaType?: string,
  ): Promise<{ digest: string; headers: HttpResponse['headers'] }> {
    const ref = toRef(refLike);
    const bytes = toBytes(body);
    const digest = digestOf(bytes);
    if (ref.digest && ref.digest !== digest) {
      throw new GantryError(
        'input',
        `manifest content hashes to ${digest}, not ${ref.digest} as the reference says`,
      );
    }
    const type = mediaType ?? parseManifest(bytes).mediaType;
    const id = ref.tag ?? digest;
    const what = `PUT manifest ${referenceName(ref)}:${id}`;
    const res = await this.call(
      {
        method: 'PUT',
        domain: ref.domain,
        repository: ref.path,
        target: `/v2/${ref.path}/manifests/${id}`,
        actions: ['pull', 'push'],
        headers: { 'content-type': type },
        body: bytes,
        what,
      },
      [200, 201, 202],
    );
    const claimed = res.headers['docker-content-digest'];
    if (claimed && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new GantryError(
        'infrastructure',
        `${what}: the registry stored ${claimed}, but the content hashes to ${digest}`,
      );
    }
    this.options.logger?.debug(`pushed manifest ${referenceName(ref)}@${digest} (${type})`);
    return { digest, headers: res.headers };
  }

  /**
   * Pushes a manifest whose `subject` is `subject` (a signature, SBOM, attestation …) by digest, and
   * makes it findable by `getReferrers`: a registry with the referrers API confirms with an
   * `OCI-Subject` header; otherwise the `sha256-<hex>` tag-schema index is updated (read, append
   * if absent, write). Concurrent writers of the same fallback index can race; last write wins.
   */
  async putReferrer(subjectLike: RefLike, body: Uint8Array | string, mediaType?: string): Promise<string> {
    const subject = toRef(subjectLike);
    const bytes = toBytes(body);
    const { manifest, mediaType: type } = parseManifest(bytes);
    const subjectDigest = subject.digest ?? (await this.resolveDigest(subject));
    if (manifest.subject?.digest !== subjectDigest) {
      throw new GantryError(
        'input',
        `the referrer's subject is ${manifest.subject?.digest ?? 'missing'}, not ${subjectDigest}`,
      );
    }
    const repo: ImageReference = { domain: subject.domain, path: subject.path };
    const { digest, headers } = await this.putManifestWithHeaders(
      { ...repo, digest: digestOf(bytes) },
      bytes,
      mediaType ?? type,
    );
    if (headers['oci-subject'] === subjectDigest) return digest;
    const artifactType = manifest.artifactType ?? (isIndex(manifest) ? undefined : manifest.config.mediaType);
    const entry: Descriptor = {
      mediaType: mediaType ?? type,
      digest,
      size: bytes.length,
      ...(artifactType ? { artifactType } : {}),
      ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
    };
    const tagRef: ImageReference = { ...repo, tag: referrersTag(subjectDigest) };
    let existing: Descriptor[] = [];
    try {
      const current = await this.getManifest(tagRef);
      existing = isIndex(current.manifest) ? current.manifest.manifests : [];
    } catch (e) {
      if (!(e instanceof GantryError && e.code === 'not-found')) throw e;
    }
    if (existing.some((d) => d.digest === digest)) return digest;
    const index: ImageIndex = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [...existing, entry],
    };
    await this.putManifest(tagRef, JSON.stringify(index), MediaType.OciIndex);
    this.options.logger?.debug(`added ${digest} to the referrers tag ${tagRef.tag}`);
    return digest;
  }

  /** Deletes the manifest a reference points at (a tag is resolved to its digest first). */
  async deleteManifest(refLike: RefLike): Promise<void> {
    const ref = toRef(refLike);
    const digest = ref.digest ?? (await this.resolveDigest(ref));
    const what = `DELETE manifest ${referenceName(ref)}@${digest}`;
    await this.call(
      {
        method: 'DELETE',
        domain: ref.domain,
        repository: ref.path,
        target: `/v2/${ref.path}/manifests/${digest}`,
        actions: ['delete'],
        what,
      },
      [200, 202],
      { notFound: `manifest ${referenceName(ref)}@${digest} not found` },
    );
  }

  async blobExists(repoLike: RefLike, digest: string): Promise<boolean> {
    const repo = toRef(repoLike);
    parseDigest(digest);
    const res = await this.call(
      {
        method: 'HEAD',
        domain: repo.domain,
        repository: repo.path,
        target: `/v2/${repo.path}/blobs/${digest}`,
        actions: ['pull'],
        what: `HEAD blob ${referenceName(repo)}@${digest}`,
      },
      [200, 404],
    );
    return res.status === 200;
  }

  /**
   * Uploads a blob unless the registry already has it: mount from `mountFrom` when given, else a
   * monolithic PUT, or PATCH chunks when `chunkSize` is set. A failed attempt is retried from a
   * fresh upload session; the registry verifies the digest, so a broken attempt never leaves a
   * partial blob behind.
   */
  async pushBlob(
    repoLike: RefLike,
    content: Uint8Array | string,
    options: PushBlobOptions = {},
  ): Promise<BlobDescriptor> {
    const repo = toRef(repoLike);
    const bytes = toBytes(content);
    const digest = digestOf(bytes);
    const size = bytes.length;
    const name = referenceName(repo);
    const from = options.mountFrom === undefined ? undefined : toRef(options.mountFrom);
    await this.retrying(`push blob ${digest} to ${name}`, async () => {
      if (await this.blobExistsOnce(repo, digest)) {
        this.options.logger?.debug(`blob ${digest} already in ${name}`);
        return;
      }
      let location: string | undefined;
      if (from && from.domain === repo.domain) {
        const m = await this.startMount(repo, digest, from);
        if (m.mounted) return;
        location = m.location;
      }
      location ??= await this.startUpload(repo);
      const chunk = options.chunkSize ?? 0;
      if (chunk > 0 && size > 0) {
        for (let start = 0; start < size; start += chunk) {
          const end = Math.min(size, start + chunk);
          const what = `PATCH blob upload ${name} bytes ${start}-${end - 1}`;
          const res = await this.send({
            method: 'PATCH',
            domain: repo.domain,
            repository: repo.path,
            target: location,
            actions: ['pull', 'push'],
            headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${end - 1}` },
            body: bytes.subarray(start, end),
            what,
          });
          this.check(res, [202], { domain: repo.domain, repository: repo.path, what });
          const range = res.headers.range;
          if (range && range !== `0-${end - 1}`) {
            throw new TransportError(
              'ERANGE',
              `${what}: the registry has bytes ${range}, expected 0-${end - 1}`,
            );
          }
          location = this.locationOf(res, location, what);
        }
        await this.finishUpload(repo, location, digest, new Uint8Array(0));
      } else {
        await this.finishUpload(repo, location, digest, bytes);
      }
    });
    this.options.logger?.debug(`pushed blob ${name}@${digest} (${size} bytes)`);
    return { digest, size };
  }

  /** Cross-repository mount within one registry; false when the registry would not mount. */
  async mountBlob(repoLike: RefLike, digest: string, fromLike: RefLike): Promise<boolean> {
    const repo = toRef(repoLike);
    const from = toRef(fromLike);
    parseDigest(digest);
    if (from.domain !== repo.domain) return false;
    return this.retrying(
      `mount blob ${digest} from ${referenceName(from)} into ${referenceName(repo)}`,
      async () => {
        const m = await this.startMount(repo, digest, from);
        return m.mounted;
      },
    );
  }

  /** Downloads a blob and checks its digest. */
  async getBlob(repoLike: RefLike, digest: string): Promise<Buffer> {
    const repo = toRef(repoLike);
    parseDigest(digest);
    const what = `GET blob ${referenceName(repo)}@${digest}`;
    return this.retrying(what, async () => {
      const res = await this.send({
        method: 'GET',
        domain: repo.domain,
        repository: repo.path,
        target: `/v2/${repo.path}/blobs/${digest}`,
        actions: ['pull'],
        what,
      });
      this.check(res, [200], {
        domain: repo.domain,
        repository: repo.path,
        what,
        notFound: `blob ${digest} not found in ${referenceName(repo)}`,
      });
      const got = digestOf(
        res.body,
        digest.startsWith('sha512:') ? 'sha512' : digest.startsWith('sha384:') ? 'sha384' : 'sha256',
      );
      if (got !== digest)
        throw new DigestMismatchError(`${what}: received ${res.body.length} bytes hashing to ${got}`);
      return res.body;
    });
  }

  /** All tags, following `Link: <…>; rel="next"` pages. An unknown repository has none. */
  async listTags(repoLike: RefLike, options: { pageSize?: number } = {}): Promise<string[]> {
    const repo = toRef(repoLike);
    const tags: string[] = [];
    let target: string | undefined =
      `/v2/${repo.path}/tags/list${options.pageSize ? `?n=${options.pageSize}` : ''}`;
    const seen = new Set<string>();
    while (target && !seen.has(target)) {
      seen.add(target);
      const what = `GET tags ${referenceName(repo)}`;
      const res = await this.call(
        { method: 'GET', domain: repo.domain, repository: repo.path, target, actions: ['pull'], what },
        [200, 404],
      );
      if (res.status === 404) return tags;
      const doc = JSON.parse(res.body.toString('utf8')) as { tags?: string[] | null };
      tags.push(...(doc.tags ?? []));
      target = nextLink(res.headers.link);
    }
    return tags;
  }

  /**
   * Manifests that name `subject` (which must carry a digest, or is resolved) as their subject:
   * the referrers API, or — when the registry answers 404, as Gitea and distribution 2.8 do — the
   * `sha256-<hex>` tag-schema index.
   */
  async getReferrers(subjectLike: RefLike, options: { artifactType?: string } = {}): Promise<Descriptor[]> {
    const subject = toRef(subjectLike);
    const digest = subject.digest ?? (await this.resolveDigest(subject));
    const filter = (ds: Descriptor[]): Descriptor[] =>
      options.artifactType ? ds.filter((d) => d.artifactType === options.artifactType) : ds;
    const query = options.artifactType ? `?artifactType=${encodeURIComponent(options.artifactType)}` : '';
    let target: string | undefined = `/v2/${subject.path}/referrers/${digest}${query}`;
    const out: Descriptor[] = [];
    const what = `GET referrers ${referenceName(subject)}@${digest}`;
    while (target) {
      const res = await this.call(
        {
          method: 'GET',
          domain: subject.domain,
          repository: subject.path,
          target,
          actions: ['pull'],
          what,
          headers: { accept: MediaType.OciIndex },
        },
        [200, 404],
      );
      if (res.status === 404) {
        if (out.length) break;
        return filter(await this.referrersFromTag(subject, digest));
      }
      const doc = JSON.parse(res.body.toString('utf8')) as Partial<ImageIndex>;
      out.push(...(doc.manifests ?? []));
      target = nextLink(res.headers.link);
    }
    return filter(out);
  }

  private async referrersFromTag(subject: ImageReference, digest: string): Promise<Descriptor[]> {
    const tagRef: ImageReference = { domain: subject.domain, path: subject.path, tag: referrersTag(digest) };
    try {
      const m = await this.getManifest(tagRef);
      return isIndex(m.manifest) ? m.manifest.manifests : [];
    } catch (e) {
      if (e instanceof GantryError && e.code === 'not-found') return [];
      throw e;
    }
  }

  // --- upload steps ------------------------------------------------------------------------------

  private async blobExistsOnce(repo: ImageReference, digest: string): Promise<boolean> {
    const what = `HEAD blob ${referenceName(repo)}@${digest}`;
    const res = await this.send({
      method: 'HEAD',
      domain: repo.domain,
      repository: repo.path,
      target: `/v2/${repo.path}/blobs/${digest}`,
      actions: ['pull', 'push'],
      what,
    });
    this.check(res, [200, 404], { domain: repo.domain, repository: repo.path, what });
    return res.status === 200;
  }

  private async startUpload(repo: ImageReference): Promise<string> {
    const what = `POST blob upload ${referenceName(repo)}`;
    const res = await this.send({
      method: 'POST',
      domain: repo.domain,
      repository: repo.path,
      target: `/v2/${repo.path}/blobs/uploads/`,
      actions: ['pull', 'push'],
      what,
    });
    this.check(res, [202], { domain: repo.domain, repository: repo.path, what });
    return this.locationOf(res, `/v2/${repo.path}/blobs/uploads/`, what);
  }

  private async startMount(
    repo: ImageReference,
    digest: string,
    from: ImageReference,
  ): Promise<{ mounted: true } | { mounted: false; location: string }> {
    const what = `mount blob ${digest} from ${from.path} into ${referenceName(repo)}`;
    const res = await this.send({
      method: 'POST',
      domain: repo.domain,
      repository: repo.path,
      target: `/v2/${repo.path}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from.path)}`,
      actions: ['pull', 'push'],
      extraScopes: [repositoryScope(from.path, ['pull'])],
      what,
    });
    this.check(res, [201, 202], { domain: repo.domain, repository: repo.path, what });
    if (res.status === 201) return { mounted: true };
    return { mounted: false, location: this.locationOf(res, `/v2/${repo.path}/blobs/uploads/`, what) };
  }

  private async finishUpload(
    repo: ImageReference,
    location: string,
    digest: string,
    body: Uint8Array,
  ): Promise<void> {
    const url = new URL(location, this.baseUrl(repo.domain));
    url.searchParams.set('digest', digest);
    const what = `PUT blob ${referenceName(repo)}@${digest}`;
    const res = await this.send({
      method: 'PUT',
      domain: repo.domain,
      repository: repo.path,
      target: url.toString(),
      actions: ['pull', 'push'],
      headers: { 'content-type': 'application/octet-stream' },
      body,
      what,
    });
    this.check(res, [201, 204], { domain: repo.domain, repository: repo.path, what });
    const claimed = res.headers['docker-content-digest'];
    if (claimed && claimed !== digest) {
      throw new GantryError('infrastructure', `${what}: the registry stored ${claimed}, not ${digest}`);
    }
  }

  private locationOf(res: HttpResponse, base: string, what: string): string {
    const loc = res.headers.location;
    if (!loc)
      throw new GantryError(
        'infrastructure',
        `${what}: the registry answered ${res.status} without a Location header`,
      );
    return loc.startsWith('http://') || loc.startsWith('https://') || loc.startsWith('/')
      ? loc
      : new URL(loc, `http://x${base}`).pathname;
  }

  // --- HTTP, auth, retries -----------------------------------------------------------------------

  private state(domain: string): HostState {
    let s = this.hosts.get(domain);
    if (!s) {
      s = { scheme: 'unknown', tokens: new Map() };
      this.hosts.set(domain, s);
    }
    return s;
  }

  private credentialsFor(domain: string): Credentials | undefined {
    const s = this.state(domain);
    if (s.credentials !== undefined) return s.credentials ?? undefined;
    const explicit = this.options.credentials;
    let creds = typeof explicit === 'function' ? explicit(domain) : explicit;
    creds ??= lookupCredentials(domain, {
      env: this.options.env ?? process.env,
      ...(this.options.dockerConfig !== undefined ? { dockerConfig: this.options.dockerConfig } : {}),
    });
    s.credentials = creds ?? null;
    if (creds) this.options.logger?.mask(creds.password);
    return creds;
  }

  private retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const r = this.options.retry ?? {};
    return retry(fn, {
      what,
      maxAttempts: r.maxAttempts ?? 5,
      initialDelayMs: r.initialDelayMs ?? 200,
      maxDelayMs: r.maxDelayMs ?? 5_000,
      deadlineMs: r.deadlineMs ?? 120_000,
      clock: this.clock,
      ...(this.options.random ? { random: this.options.random } : {}),
      ...(this.options.signal ? { signal: this.options.signal } : {}),
      retryable: (e) => {
        if (e instanceof RetryableStatusError) {
          return e.retryAfterMs === undefined ? true : { retry: true, retryAfterMs: e.retryAfterMs };
        }
        if (e instanceof TransportError) return !e.permanent;
        return e instanceof DigestMismatchError;
      },
      onRetry: ({ attempt, delayMs, error }) =>
        this.options.logger?.debug(
          `${what}: attempt ${attempt} failed (${errorMessage(error)}); retrying in ${delayMs} ms`,
        ),
    }).catch((e: unknown) => {
      if (e instanceof TransportError && e.permanent) {
        const tls = e.code !== 'ENOTFOUND';
        throw new GantryError('infrastructure', `${what}: ${e.message}`, {
          cause: e,
          hint: tls
            ? "the registry's TLS certificate is not trusted: give its CA with --ca-file (option `ca`), or --insecure to skip verification"
            : 'check the registry host name',
        });
      }
      throw e;
    });
  }

  /** One request with auth and status check, retried as a unit. */
  private call(op: Op, ok: number[], extra: { notFound?: string } = {}): Promise<HttpResponse> {
    return this.retrying(op.what, async () => {
      const res = await this.send(op);
      this.check(res, ok, {
        domain: op.domain,
        what: op.what,
        ...(op.repository ? { repository: op.repository } : {}),
        ...extra,
      });
      return res;
    });
  }

  /** Maps a status outside `ok` to the right error: retryable, auth, not-found or a registry error. */
  private check(
    res: HttpResponse,
    ok: number[],
    ctx: { domain: string; repository?: string; what: string; notFound?: string },
  ): void {
    if (ok.includes(res.status)) return;
    const detail = ociErrors(res.body);
    const suffix = detail ? ` (${detail})` : '';
    if (res.status >= 500 || res.status === 429 || res.status === 408) {
      throw new RetryableStatusError(
        `${ctx.what}: the registry answered ${res.status}${suffix}`,
        res.status,
        parseRetryAfter(res.headers['retry-after'], this.clock.now()),
      );
    }
    const repo = ctx.repository ? ` repository ${ctx.repository}` : '';
    if (res.status === 401 || res.status === 403) {
      const creds = this.state(ctx.domain).credentials;
      const why =
        res.status === 403
          ? 'access denied'
          : creds
            ? `the credentials of ${creds.username} were rejected`
            : 'authentication required and no credentials were found';
      throw new GantryError('auth', `${ctx.what}: registry ${ctx.domain}${repo}: ${why}${suffix}`, {
        hint:
          `check the credentials for ${ctx.domain} (--username with GANTRY_REGISTRY_PASSWORD or --password-stdin, ` +
          `GANTRY_REGISTRY_USERNAME/GANTRY_REGISTRY_PASSWORD, or "auths" in ${dockerConfigPath(this.options.env ?? process.env)}) ` +
          `and that they may ${/PUT|POST|PATCH|DELETE|push|mount/.test(ctx.what) ? 'push to' : 'pull from'}${repo || ' it'}. ` +
          'Gitea: the token needs the `write:package` scope to push (`read:package` to pull); the built-in Actions token cannot push packages.',
      });
    }
    if (res.status === 404) {
      throw new GantryError(
        'not-found',
        `${ctx.notFound ?? ctx.what + ': not found'} (registry ${ctx.domain},${repo})${suffix}`,
        {
          hint: `check the repository path and tag; a private repository may also answer 404 without credentials`,
        },
      );
    }
    throw new GantryError(
      'infrastructure',
      `${ctx.what}: registry ${ctx.domain}${repo} answered ${res.status}${suffix}`,
    );
  }

  /**
   * Sends one request with the auth the registry asked for: anonymous first, then, on a 401, the
   * challenge's scheme (Basic, or a Bearer token for the needed scopes, cached per scope set). A
   * refused credential gets exactly one re-auth (a fresh token); after that the 401 is returned.
   */
  private async send(op: Op): Promise<HttpResponse> {
    const state = this.state(op.domain);
    const scopes = op.repository
      ? mergeScopes([repositoryScope(op.repository, op.actions), ...(op.extraScopes ?? [])])
      : [...(op.extraScopes ?? [])];
    let authorization = await this.authorization(op.domain, scopes);
    let reauthenticated = false;
    for (;;) {
      const res = await this.exchange(op, authorization);
      if (res.status !== 401) return res;
      // a 401 to an anonymous request is discovery; a 401 to a credentialed one gets one re-auth
      if (authorization) {
        if (reauthenticated) return res;
        reauthenticated = true;
      }
      const header = res.headers['www-authenticate'];
      const challenges = header ? parseWwwAuthenticate(header) : [];
      const bearer = challenges.find((c) => c.scheme === 'bearer');
      const basic = challenges.find((c) => c.scheme === 'basic');
      let next: string | undefined;
      if (bearer?.params.realm) {
        state.scheme = 'bearer';
        state.realm = bearer.params.realm;
        state.service = bearer.params.service;
        const wanted = mergeScopes([...scopes, ...(bearer.params.scope ? [bearer.params.scope] : [])]);
        state.tokens.delete(wanted.join(' '));
        next = await this.authorization(op.domain, wanted);
      } else if (basic) {
        state.scheme = 'basic';
        next = await this.authorization(op.domain, scopes);
      }
      if (!next || next === authorization) return res;
      authorization = next;
    }
  }

  private async authorization(domain: string, scopes: string[]): Promise<string | undefined> {
    const state = this.state(domain);
    if (state.scheme === 'basic') {
      const c = this.credentialsFor(domain);
      return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
    }
    if (state.scheme !== 'bearer' || !state.realm) return undefined;
    const key = scopes.join(' ');
    const cached = state.tokens.get(key);
    if (cached && cached.expiresAt > this.clock.now()) return `Bearer ${cached.token}`;
    return `Bearer ${await this.fetchToken(domain, state, scopes)}`;
  }

  /** The Bearer token flow (docker token spec): GET realm?service=…&scope=…, Basic auth when we have credentials. */
  private async fetchToken(domain: string, state: HostState, scopes: string[]): Promise<string> {
    const realm = new URL(state.realm ?? '');
    if (state.service) realm.searchParams.set('service', state.service);
    for (const s of scopes) realm.searchParams.append('scope', s);
    const creds = this.credentialsFor(domain);
    const headers: Record<string, string> = { 'user-agent': this.userAgent() };
    if (creds)
      headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    const what = `token for ${scopes.join(' ') || domain} from ${realm.host}`;
    const res = await this.retrying(what, async () => {
      const r = await this.transport.request({
        method: 'GET',
        url: realm.toString(),
        headers,
        ...this.signalOpt(),
      });
      if (r.status >= 500 || r.status === 429) {
        throw new RetryableStatusError(
          `${what}: answered ${r.status}`,
          r.status,
          parseRetryAfter(r.headers['retry-after'], this.clock.now()),
        );
      }
      return r;
    });
    if (res.status === 401 || res.status === 403) {
      this.check({ ...res, status: 401 }, [], { domain, what: `${what} (status ${res.status})` });
    }
    if (res.status !== 200) {
      throw new GantryError(
        'auth',
        `${what}: the token service answered ${res.status} (${ociErrors(res.body)})`,
      );
    }
    let doc: { token?: string; access_token?: string; expires_in?: number };
    try {
      doc = JSON.parse(res.body.toString('utf8')) as typeof doc;
    } catch (e) {
      throw new GantryError('auth', `${what}: the token service did not answer JSON`, { cause: e });
    }
    const token = doc.token ?? doc.access_token;
    if (!token) throw new GantryError('auth', `${what}: the token service answered without a token`);
    this.options.logger?.mask(token);
    const ttl = Math.max(10, doc.expires_in ?? 60) * 1000;
    state.tokens.set(scopes.join(' '), { token, expiresAt: this.clock.now() + ttl - 5_000 });
    return token;
  }

  /** One HTTP exchange, following redirects for GET/HEAD (dropping credentials across hosts). */
  private async exchange(op: Op, authorization: string | undefined): Promise<HttpResponse> {
    const base = this.baseUrl(op.domain);
    let url = new URL(op.target, base);
    const origin = url.host;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'user-agent': this.userAgent(), ...op.headers };
      if (authorization && url.host === origin) headers.authorization = authorization;
      const res = await this.transport.request({
        method: op.method,
        url: url.toString(),
        headers,
        ...(op.body !== undefined ? { body: op.body } : {}),
        ...this.signalOpt(),
      });
      this.options.logger?.debug(`${op.method} ${url.toString()} → ${res.status}`);
      const loc = res.headers.location;
      if (
        [301, 302, 303, 307, 308].includes(res.status) &&
        loc &&
        (op.method === 'GET' || op.method === 'HEAD') &&
        hop < 5
      ) {
        url = new URL(loc, url);
        continue;
      }
      return res;
    }
  }

  private signalOpt(): { signal?: AbortSignal } {
    return this.options.signal ? { signal: this.options.signal } : {};
  }

  private userAgent(): string {
    return this.options.userAgent ?? 'gantry';
  }
}
