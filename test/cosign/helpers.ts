/**
 * Test helpers for the cosign integration tests: push small real images (and an index) to a
 * registry over the distribution API, and run the real cosign binary with passwords in the env.
 */
import { createHash, randomBytes } from 'node:crypto';
import { exec, type ExecResult } from '../../src/core/exec.js';
import { cosignBin } from './conformance.js';

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface AuthOptions {
  username?: string;
  password?: string;
}

function authHeader(auth: AuthOptions): Record<string, string> {
  return auth.username
    ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password ?? ''}`).toString('base64')}` }
    : {};
}

export async function pushBlob(
  url: string,
  repo: string,
  bytes: Buffer,
  auth: AuthOptions = {},
): Promise<string> {
  const digest = sha256(bytes);
  const post = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: authHeader(auth) });
  if (post.status !== 202) throw new Error(`POST upload: ${post.status}`);
  const loc = new URL(post.headers.get('location') ?? '', url);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, {
    method: 'PUT',
    body: bytes,
    headers: { ...authHeader(auth), 'content-type': 'application/octet-stream' },
  });
  if (put.status !== 201) throw new Error(`PUT blob: ${put.status}`);
  return digest;
}

export async function pushManifest(
  url: string,
  repo: string,
  tag: string,
  bytes: Buffer,
  mediaType: string,
  auth: AuthOptions = {},
): Promise<string> {
  const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: bytes,
    headers: { ...authHeader(auth), 'content-type': mediaType },
  });
  if (res.status !== 201) throw new Error(`PUT manifest ${repo}:${tag}: ${res.status} ${await res.text()}`);
  return sha256(bytes);
}

/** Pushes a unique one-layer image and returns its manifest digest. */
export async function pushImage(
  url: string,
  repo: string,
  tag: string,
  auth: AuthOptions = {},
  arch = 'amd64',
): Promise<string> {
  const layer = Buffer.concat([Buffer.from('layer '), randomBytes(16)]);
  const layerDigest = await pushBlob(url, repo, layer, auth);
  const config = Buffer.from(
    JSON.stringify({
      architecture: arch,
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [layerDigest] },
      config: {},
    }),
  );
  const configDigest = await pushBlob(url, repo, config, auth);
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
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length },
      ],
    }),
  );
  return pushManifest(url, repo, tag, manifest, 'application/vnd.oci.image.manifest.v1+json', auth);
}

/** Pushes an index over two fresh platform images; returns the index and child digests. */
export async function pushIndex(
  url: string,
  repo: string,
  tag: string,
): Promise<{ index: string; children: string[] }> {
  const amd = await pushImage(url, repo, `${tag}-amd64`, {}, 'amd64');
  const arm = await pushImage(url, repo, `${tag}-arm64`, {}, 'arm64');
  const sizeOf = async (d: string): Promise<number> => {
    const r = await fetch(`${url}/v2/${repo}/manifests/${d}`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    return (await r.arrayBuffer()).byteLength;
  };
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: amd,
          size: await sizeOf(amd),
          platform: { architecture: 'amd64', os: 'linux' },
        },
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: arm,
          size: await sizeOf(arm),
          platform: { architecture: 'arm64', os: 'linux' },
        },
      ],
    }),
  );
  const digest = await pushManifest(url, repo, tag, index, 'application/vnd.oci.image.index.v1+json');
  return { index: digest, children: [amd, arm] };
}

export async function getManifestBytes(url: string, repo: string, ref: string): Promise<Buffer | undefined> {
  const res = await fetch(`${url}/v2/${repo}/manifests/${ref}`, {
    headers: {
      accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json',
    },
  });
  if (res.status === 404) return undefined;
  return Buffer.from(await res.arrayBuffer());
}

const REGISTRY_FLAGS = ['--allow-insecure-registry', '--allow-http-registry'];

/** Runs the real cosign; COSIGN_PASSWORD and registry credentials go through the environment. */
export function cosign(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<ExecResult> {
  return exec(cosignBin, args, { env: { COSIGN_YES: 'true', ...env }, cwd, timeoutMs: 60_000 });
}

export function cosignSign(
  keyPath: string,
  password: string,
  ref: string,
  extra: string[] = [],
): Promise<ExecResult> {
  return cosign(['sign', '-y', '--key', keyPath, '--tlog-upload=false', ...REGISTRY_FLAGS, ...extra, ref], {
    COSIGN_PASSWORD: password,
  });
}

export function cosignVerify(pubPath: string, ref: string, extra: string[] = []): Promise<ExecResult> {
  return cosign(['verify', '--key', pubPath, '--insecure-ignore-tlog', ...REGISTRY_FLAGS, ...extra, ref]);
}
