/**
 * What the build needs from a registry after pushing: the digest a tag points to now (computed from
 * the manifest bytes the registry serves, not taken from a header) and, for an index, which
 * manifest serves which platform. A small verb interface so the orchestrator can be tested with a
 * plain-object fake; the implementation here asks `docker buildx imagetools inspect --raw` (or
 * `skopeo inspect --raw` where there is no docker), using the same temporary credentials as the push.
 */
import { createHash } from 'node:crypto';
import { GantryError } from '../core/errors.js';
import { checkResult, exec, type ExecOptions } from '../core/exec.js';
import { isLoopbackRegistry } from './plan.js';
import { registryHostOf } from './inputs.js';

export interface ManifestInfo {
  digest: string;
  mediaType: string | undefined;
  /** platform (`linux/arm64[/v8]`) → manifest digest; empty for a single image manifest. */
  platforms: Record<string, string>;
}

export interface RegistryReader {
  /** Reads the manifest `ref` (repo:tag or repo@digest) points to. */
  inspect(ref: string): Promise<ManifestInfo>;
}

interface IndexJson {
  mediaType?: string;
  manifests?: { digest: string; platform?: { os?: string; architecture?: string; variant?: string } }[];
}

/** Parses raw manifest bytes into a ManifestInfo (digest = sha256 of the bytes). */
export function manifestInfoFromBytes(raw: Buffer): ManifestInfo {
  const digest = `sha256:${createHash('sha256').update(raw).digest('hex')}`;
  const json = JSON.parse(raw.toString('utf8')) as IndexJson;
  const platforms: Record<string, string> = {};
  for (const m of json.manifests ?? []) {
    const p = m.platform;
    if (!p?.os || !p.architecture || p.os === 'unknown') continue; // attestation manifests
    platforms[[p.os, p.architecture, p.variant].filter(Boolean).join('/')] = m.digest;
  }
  return { digest, mediaType: json.mediaType, platforms };
}

/** Reads manifests through `docker buildx imagetools inspect --raw` or `skopeo inspect --raw`. */
export class CliRegistryReader implements RegistryReader {
  constructor(
    private readonly options: { tool: 'docker' | 'skopeo'; exec: ExecOptions; authFile?: string },
  ) {}

  async inspect(ref: string): Promise<ManifestInfo> {
    const { tool } = this.options;
    const args =
      tool === 'docker'
        ? ['buildx', 'imagetools', 'inspect', '--raw', ref]
        : [
            'inspect',
            '--raw',
            ...(isLoopbackRegistry(registryHostOf(ref)) ? ['--tls-verify=false'] : []),
            ...(this.options.authFile ? ['--authfile', this.options.authFile] : []),
            `docker://${ref}`,
          ];
    const result = await exec(tool, args, { ...this.options.exec, maxOutputBytes: 4 * 1024 * 1024 });
    if (result.exitCode !== 0 && /not found|manifest unknown|MANIFEST_UNKNOWN/i.test(result.stderr)) {
      throw new GantryError('not-found', `${ref} is not in the registry`);
    }
    checkResult(result);
    return manifestInfoFromBytes(Buffer.from(result.stdout, 'utf8'));
  }
}
