/**
 * The two registry questions a deploy asks before touching the cluster — "which digest is this
 * image?" (and so: does it exist?) and "is it signed by a key we trust?" — as small verb
 * interfaces, with adapters over the OCI client (src/oci) and the cosign verifier (src/cosign).
 */
import { ConfigurationError, GantryError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import type { ImageVerificationPolicy } from '../cosign/verify-image.js';
import type { Credentials } from '../oci/auth.js';
import { formatReference, type ImageReference } from '../oci/reference.js';
import { RegistryClient, type Registry } from '../oci/registry.js';

export interface ImageResolver {
  /** The manifest digest `image` points at; a GantryError `not-found` when it does not exist. */
  resolveDigest(image: ImageReference): Promise<string>;
}

export interface ImageVerdict {
  verified: boolean;
  /** Who signed (key source or certificate subject) when verified. */
  signers: string[];
  /** Why not, when not. */
  problems: string[];
}

export interface ImageVerifier {
  /** Whether `image` at `digest` carries a valid signature under the configured policy. */
  verify(image: ImageReference, digest: string): Promise<ImageVerdict>;
}

export interface RegistryAccessOptions {
  credentials?: Credentials;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  signal?: AbortSignal;
}

export function registryClient(o: RegistryAccessOptions): RegistryClient {
  return new RegistryClient({
    ...(o.credentials ? { credentials: o.credentials } : {}),
    ...(o.env ? { env: o.env } : {}),
    ...(o.logger ? { logger: o.logger } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
}

/** Resolves through the OCI registry client (tag → digest; a digest is checked to exist). */
export function registryResolver(registry: Pick<Registry, 'getManifest'>): ImageResolver {
  return {
    async resolveDigest(image) {
      const m = await registry.getManifest(image);
      return m.digest;
    },
  };
}

export interface KeyVerifierOptions {
  /** Public keys: path, inline PEM or env://VAR; any may match. */
  keys: readonly string[];
  registry: Registry;
  env?: NodeJS.ProcessEnv;
  /** Input name for messages (default verify-key). */
  inputName?: string;
  annotations?: Record<string, string>;
}

/** cosign key verification (the `verify-key` gate) over the OCI client. */
export async function keyVerifier(o: KeyVerifierOptions): Promise<ImageVerifier> {
  // loaded on demand: the cosign code (and its crypto dependencies) stays out of the cold start
  const [{ loadVerificationKey }, { signatureRegistryFrom }, { verifyDigest }] = await Promise.all([
    import('../cosign/keys.js'),
    import('../cosign/oci-registry.js'),
    import('../cosign/verify-image.js'),
  ]);
  const inputName = o.inputName ?? 'verify-key';
  const keys = await Promise.all(
    o.keys.map(async (key) => {
      try {
        return await loadVerificationKey({ key, env: o.env ?? process.env, label: inputName });
      } catch (e) {
        if (e instanceof ConfigurationError) throw e;
        throw new ConfigurationError(`input "${inputName}": ${errorMessage(e)}`, {
          input: inputName,
          cause: e,
        });
      }
    }),
  );
  const sigRegistry = signatureRegistryFrom(o.registry);
  const policy: ImageVerificationPolicy = { keys, ...(o.annotations ? { annotations: o.annotations } : {}) };
  return {
    async verify(image, digest) {
      try {
        // both storage formats: the legacy .sig tag and Sigstore bundle referrers (as gantry verify)
        const r = await verifyDigest(sigRegistry, image, digest, policy);
        return {
          verified: r.verified,
          signers: [...new Set(r.signatures.map((s) => s.signer))],
          problems: r.problems,
        };
      } catch (e) {
        if (e instanceof GantryError && e.code === 'not-found') {
          return {
            verified: false,
            signers: [],
            problems: [`no signature found for ${formatReference(image)}@${digest}`],
          };
        }
        throw e;
      }
    },
  };
}
