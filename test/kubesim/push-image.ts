/**
 * Pushes a tiny OCI image (one empty gzipped layer, a config carrying kubesim's behaviour
 * label, an OCI manifest) to a registry with plain fetch, so kubesim's kubelet has something
 * real to pull. Returns digest and tag references.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function pushBlob(registryUrl: string, repo: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const start = await fetch(`${registryUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  if (start.status !== 202) throw new Error(`blob upload start: ${start.status}`);
  const loc = new URL(start.headers.get('location')!, registryUrl);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, {
    method: 'PUT',
    body: bytes,
    headers: { 'Content-Type': 'application/octet-stream' },
  });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`blob upload: ${put.status}`);
  return digest;
}

export interface PushedImage {
  digest: string;
  /** host/repo@sha256:… */
  byDigest: string;
  /** host/repo:tag */
  byTag: string;
}

export async function pushBehaviorImage(
  registryUrl: string,
  repo: string,
  tag: string,
  behavior?: string,
): Promise<PushedImage> {
  const host = new URL(registryUrl).host;
  // an empty tar (two zero blocks), gzipped; the content tag keeps images distinct per repo/tag
  const layer = gzipSync(Buffer.alloc(1024));
  const layerDigest = await pushBlob(registryUrl, repo, layer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {
        Labels: {
          ...(behavior ? { 'dev.gantry.sim/behavior': behavior } : {}),
          'org.opencontainers.image.version': tag,
        },
      },
      rootfs: { type: 'layers', diff_ids: [sha256(Buffer.alloc(1024))] },
    }),
  );
  const configDigest = await pushBlob(registryUrl, repo, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: configDigest,
        size: config.length,
      },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length },
      ],
    }),
  );
  const res = await fetch(`${registryUrl}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: manifest,
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`manifest push: ${res.status}`);
  const digest = sha256(manifest);
  return { digest, byDigest: `${host}/${repo}@${digest}`, byTag: `${host}/${repo}:${tag}` };
}
