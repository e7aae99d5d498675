/**
 * The kubelet's "image pull": looks an image reference up in the sandbox's OCI registry with
 * plain fetch (manifest → for an index the linux/amd64 entry → config blob) and reads the
 * behaviour label that decides the pod's fate. Found results for digests are cached for good,
 * tags briefly; concurrent pulls of one reference share a request.
 */

export const BEHAVIOR_LABEL = 'dev.gantry.sim/behavior';

export type Behavior =
  | { kind: 'healthy' }
  | { kind: 'degraded' }
  | { kind: 'crashloop' }
  | { kind: 'never-ready' }
  | { kind: 'slow-start'; seconds: number }
  | { kind: 'exit'; code: number }
  | { kind: 'oom' };

export type ImageLookup =
  { found: true; behavior: Behavior; digest: string; size: number } | { found: false; message: string };

export function parseBehavior(label: string | undefined): Behavior {
  const v = (label ?? '').trim();
  if (v === '' || v === 'healthy') return { kind: 'healthy' };
  if (v === 'degraded' || v === 'crashloop' || v === 'never-ready' || v === 'oom') return { kind: v };
  let m = /^slow-start=(\d+(?:\.\d+)?)s?$/.exec(v);
  if (m) return { kind: 'slow-start', seconds: Number(m[1]) };
  m = /^exit=(\d+)$/.exec(v);
  if (m) return { kind: 'exit', code: Number(m[1]) };
  return { kind: 'healthy' };
}

export interface ImageRef {
  host: string;
  repository: string;
  /** tag or digest */
  reference: string;
}

/** Splits `host[:port]/repo[:tag][@digest]`; a first component without '.'/':' means docker.io. */
export function parseImageRef(ref: string): ImageRef {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.indexOf('/');
  let host = 'docker.io';
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      host = first;
      rest = rest.slice(slash + 1);
    }
  }
  let tag = 'latest';
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  if (host === 'docker.io' && !rest.includes('/')) rest = `library/${rest}`;
  return { host, repository: rest, reference: digest ?? tag };
}

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

interface Manifest {
  mediaType?: string;
  config?: { digest: string; size?: number };
  layers?: { size?: number }[];
  manifests?: { digest: string; platform?: { os?: string; architecture?: string } }[];
}

export interface ImageResolverOptions {
  /** host:port of the sandbox registry; images on other hosts are "foreign". */
  registry?: string;
  username?: string;
  password?: string;
  /** What a foreign image (not in the sandbox registry) does: no internet, so really it fails. */
  foreignImages?: 'healthy' | 'pull-error';
  /** Per-image behaviour overrides (admin API), checked before the registry. */
  overrides?: Map<string, Behavior>;
}

export class ImageResolver {
  private readonly cache = new Map<string, { at: number; result: ImageLookup }>();
  private readonly inflight = new Map<string, Promise<ImageLookup>>();

  constructor(private readonly opts: ImageResolverOptions) {}

  lookup(image: string): Promise<ImageLookup> {
    const override = this.opts.overrides?.get(image);
    if (override)
      return Promise.resolve({
        found: true,
        behavior: override,
        digest: 'sha256:' + '0'.repeat(64),
        size: 0,
      });
    const cached = this.cache.get(image);
    if (cached && cached.result.found && (image.includes('@') || Date.now() - cached.at < 2000))
      return Promise.resolve(cached.result);
    let p = this.inflight.get(image);
    if (!p) {
      p = this.fetchImage(image).finally(() => this.inflight.delete(image));
      this.inflight.set(image, p);
    }
    return p;
  }

  private async fetchImage(image: string): Promise<ImageLookup> {
    const ref = parseImageRef(image);
    if (!this.opts.registry || ref.host !== this.opts.registry) {
      if ((this.opts.foreignImages ?? 'healthy') === 'healthy')
        return { found: true, behavior: { kind: 'healthy' }, digest: 'sha256:' + '0'.repeat(64), size: 0 };
      return {
        found: false,
        message: `failed to pull and unpack image "${image}": failed to resolve reference "${image}": dial tcp: lookup ${ref.host}: no such host`,
      };
    }
    const base = `http://${ref.host}/v2/${ref.repository}`;
    const headers: Record<string, string> = { Accept: MANIFEST_ACCEPT };
    if (this.opts.username !== undefined)
      headers.Authorization = `Basic ${Buffer.from(`${this.opts.username}:${this.opts.password ?? ''}`).toString('base64')}`;
    try {
      let res = await fetch(`${base}/manifests/${ref.reference}`, { headers });
      if (res.status === 404) {
        await res.arrayBuffer();
        return {
          found: false,
          message: `failed to pull and unpack image "${image}": failed to resolve reference "${image}": ${image}: not found`,
        };
      }
      if (!res.ok) {
        await res.arrayBuffer();
        return {
          found: false,
          message: `failed to pull and unpack image "${image}": failed to resolve reference "${image}": unexpected status from GET request to ${base}/manifests/${ref.reference}: ${res.status} ${res.statusText}`,
        };
      }
      let digest = res.headers.get('docker-content-digest') ?? '';
      let manifest = (await res.json()) as Manifest;
      if (manifest.manifests) {
        const pick =
          manifest.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64') ??
          manifest.manifests[0];
        if (!pick)
          return {
            found: false,
            message: `failed to pull and unpack image "${image}": no match for platform in manifest: not found`,
          };
        res = await fetch(`${base}/manifests/${pick.digest}`, { headers });
        if (!res.ok) {
          await res.arrayBuffer();
          return {
            found: false,
            message: `failed to pull and unpack image "${image}": failed to resolve reference "${image}@${pick.digest}": not found`,
          };
        }
        manifest = (await res.json()) as Manifest;
        digest ||= pick.digest;
      }
      let labels: Record<string, string> = {};
      if (manifest.config?.digest) {
        const cfg = await fetch(`${base}/blobs/${manifest.config.digest}`, {
          headers: headers.Authorization ? { Authorization: headers.Authorization } : {},
        });
        if (!cfg.ok) {
          await cfg.arrayBuffer();
          return {
            found: false,
            message: `failed to pull and unpack image "${image}": failed to copy: httpReadSeeker: failed open: content at ${base}/blobs/${manifest.config.digest} not found: not found`,
          };
        }
        const body = (await cfg.json()) as { config?: { Labels?: Record<string, string> } };
        labels = body.config?.Labels ?? {};
      }
      const size = (manifest.layers ?? []).reduce((n, l) => n + (l.size ?? 0), manifest.config?.size ?? 0);
      const result: ImageLookup = {
        found: true,
        behavior: parseBehavior(labels[BEHAVIOR_LABEL]),
        digest,
        size,
      };
      this.cache.set(image, { at: Date.now(), result });
      return result;
    } catch (err) {
      return {
        found: false,
        message: `failed to pull and unpack image "${image}": failed to do request: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  }
}
