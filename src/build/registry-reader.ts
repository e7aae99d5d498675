/**
 * What the build needs from a registry after pushing: the digest a tag points to now (computed by
 * the OCI client from the manifest bytes the registry serves, not taken from a header) and, for an
 * index, which manifest serves which platform. A small verb interface so the orchestrator can be
 * tested with a plain-object fake; the real one is the OCI layer's RegistryClient.
 */
import type { Logger } from '../core/logging.js';
import { RegistryClient, inspectImage, type Credentials, type Registry } from '../oci/index.js';

export interface ManifestInfo {
  digest: string;
  mediaType: string | undefined;
  /** platform (`linux/arm64[/v8]`) → manifest digest; empty for a single image manifest. */
  platforms: Record<string, string>;
}

export interface RegistryReader {
  /** Reads the manifest `ref` (repo:tag or repo@digest) points to. */
  inspect(ref: string): Promise<ManifestInfo>;
  /** Releases connections (kept-alive sockets would hold a CLI process open). */
  close?(): void;
}

/** A RegistryReader over the OCI client (retries, auth, digest checks are the client's). */
export class OciRegistryReader implements RegistryReader {
  constructor(private readonly registry: Pick<Registry, 'getManifest'> & { close?(): void }) {}

  close(): void {
    this.registry.close?.();
  }

  async inspect(ref: string): Promise<ManifestInfo> {
    const i = await inspectImage(this.registry, ref);
    return {
      digest: i.digest,
      mediaType: i.mediaType,
      platforms: Object.fromEntries(i.platforms.map((p) => [p.platform, p.digest])),
    };
  }
}

/**
 * The default reader: explicit build credentials for the login registry when given, else whatever
 * the OCI client finds (GANTRY_REGISTRY_* env, docker config).
 */
export function defaultRegistryReader(options: {
  env: NodeJS.ProcessEnv;
  logger: Logger;
  signal?: AbortSignal;
  login?: { registry: string; credentials: Credentials };
}): RegistryReader {
  const login = options.login;
  const client = new RegistryClient({
    env: options.env,
    logger: options.logger,
    signal: options.signal,
    credentials: login ? (host) => (host === login.registry ? login.credentials : undefined) : undefined,
  });
  return new OciRegistryReader(client);
}
