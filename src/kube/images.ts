/**
 * The two registry questions a deploy asks before touching the cluster — "which digest is this
 * image?" (and so: does it exist?) and "is it signed by someone we trust?" — as small verb
 * interfaces, with adapters over the OCI client (src/oci) and the cosign verifier (src/cosign).
 *
 * The signature gate has two authorities, each checking both storage formats (the legacy `.sig`
 * tag and Sigstore bundle referrers, as `gantry verify` does):
 * - key: `verify-key`, one or more cosign public keys, any may match;
 * - keyless: `verify-certificate-identity` (or `-regexp`) with `verify-certificate-oidc-issuer`
 *   (or `-regexp`) and `verify-trusted-root` (a Sigstore trusted_root.json): a Fulcio certificate
 *   chaining to the root's CAs, for that identity and issuer, logged in its Rekor (SET or bundle).
 *
 * THE RULE when both are given: an image passes when EITHER authority verifies one of its
 * signatures — cosign's policy semantics (a policy-controller ClusterImagePolicy admits an image
 * when any of its authorities is satisfied), so a registry can move from key-based to keyless
 * signing without a flag day. It is not "both must sign": give one authority to require it. An
 * image neither verifies is refused with the reasons of both, prefixed `verify-key:` / `keyless:`.
 *
 * Input rules (`keylessGateInputs`, pure, checked before anything is read or contacted; exit 2
 * naming the input): any keyless input requires an identity; an identity requires an issuer and a
 * trusted root; exact and `-regexp` forms of one constraint are exclusive; patterns must compile
 * (anchored: they match whole values).
 */
import { ConfigurationError, GantryError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import { anchoredRegexp, type KeylessInputNames, type KeylessInputs } from '../cosign/keyless-policy.js';
import type { ImageVerification, ImageVerificationPolicy } from '../cosign/verify-image.js';
import type { SignatureRegistry } from '../cosign/registry.js';
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
  const policy: ImageVerificationPolicy = { keys, ...(o.annotations ? { annotations: o.annotations } : {}) };
  return policyVerifier(signatureRegistryFrom(o.registry), policy, verifyDigest);
}

/** `verifyDigest` under one policy, as an ImageVerifier (a missing signature is a verdict). */
function policyVerifier(
  sigRegistry: SignatureRegistry,
  policy: ImageVerificationPolicy,
  verifyDigest: (
    r: SignatureRegistry,
    image: ImageReference,
    digest: string,
    p: ImageVerificationPolicy,
  ) => Promise<ImageVerification>,
): ImageVerifier {
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

/** k3s-deploy's keyless inputs, by field (errors name these). */
export const KEYLESS_GATE_INPUTS: KeylessInputNames = {
  certificateIdentity: 'verify-certificate-identity',
  certificateIdentityRegexp: 'verify-certificate-identity-regexp',
  certificateOidcIssuer: 'verify-certificate-oidc-issuer',
  certificateOidcIssuerRegexp: 'verify-certificate-oidc-issuer-regexp',
  trustedRoot: 'verify-trusted-root',
};

/** The keyless inputs as k3s-deploy reads them (`verify-` + verify-image's names). */
export interface KeylessGateInputs {
  verifyCertificateIdentity: string | undefined;
  verifyCertificateIdentityRegexp: string | undefined;
  verifyCertificateOidcIssuer: string | undefined;
  verifyCertificateOidcIssuerRegexp: string | undefined;
  verifyTrustedRoot: string | undefined;
}

/**
 * Pure validation of the keyless gate (see the module comment for the rules): the policy inputs
 * when keyless verification is configured, undefined when none of its inputs is given.
 */
export function keylessGateInputs(i: KeylessGateInputs): KeylessInputs | undefined {
  const k: KeylessInputs = {
    certificateIdentity: i.verifyCertificateIdentity,
    certificateIdentityRegexp: i.verifyCertificateIdentityRegexp,
    certificateOidcIssuer: i.verifyCertificateOidcIssuer,
    certificateOidcIssuerRegexp: i.verifyCertificateOidcIssuerRegexp,
    trustedRoot: i.verifyTrustedRoot,
  };
  const given = (Object.keys(k) as (keyof KeylessInputs)[]).filter((f) => k[f] !== undefined);
  if (given.length === 0) return undefined;
  const n = KEYLESS_GATE_INPUTS;
  const fail = (input: string, message: string): never => {
    throw new ConfigurationError(message, { input });
  };
  const pair = (exact: keyof KeylessInputs, re: keyof KeylessInputs): void => {
    if (k[exact] !== undefined && k[re] !== undefined) fail(n[re], `give ${n[exact]} or ${n[re]}, not both`);
  };
  pair('certificateIdentity', 'certificateIdentityRegexp');
  pair('certificateOidcIssuer', 'certificateOidcIssuerRegexp');
  if (k.certificateIdentity === undefined && k.certificateIdentityRegexp === undefined) {
    fail(
      n.certificateIdentity,
      `keyless verification (${given.map((f) => n[f]).join(', ')}) needs ${n.certificateIdentity} ` +
        `(or ${n.certificateIdentityRegexp}): the signer's identity, e.g. ` +
        'https://github.com/<owner>/<repo>/.github/workflows/<file>.yml@refs/heads/main',
    );
  }
  if (k.certificateOidcIssuer === undefined && k.certificateOidcIssuerRegexp === undefined) {
    fail(
      n.certificateOidcIssuer,
      `${n.certificateOidcIssuer} (or ${n.certificateOidcIssuerRegexp}) is required with a certificate identity, ` +
        'e.g. https://token.actions.githubusercontent.com',
    );
  }
  if (k.trustedRoot === undefined) {
    fail(
      n.trustedRoot,
      `${n.trustedRoot} is required with a certificate identity: the path of a Sigstore trusted_root.json ` +
        '(e.g. from `cosign trusted-root create` or the sigstore/root-signing repository)',
    );
  }
  if (k.certificateIdentityRegexp !== undefined)
    anchoredRegexp(k.certificateIdentityRegexp, n.certificateIdentityRegexp);
  if (k.certificateOidcIssuerRegexp !== undefined)
    anchoredRegexp(k.certificateOidcIssuerRegexp, n.certificateOidcIssuerRegexp);
  return k;
}

export interface KeylessVerifierOptions {
  /** Validated by keylessGateInputs. */
  keyless: KeylessInputs;
  registry: Registry;
  annotations?: Record<string, string>;
}

/**
 * Keyless verification (Fulcio certificate + Rekor, against a trusted root) over the OCI client:
 * the policy is built by the code `gantry verify` uses (src/cosign/keyless-policy.ts). Reads the
 * trusted root; a bad one is a ConfigurationError naming verify-trusted-root.
 */
export async function keylessVerifier(o: KeylessVerifierOptions): Promise<ImageVerifier> {
  // loaded on demand, like keyVerifier: Sigstore's code stays out of the cold start
  const [{ certificatePolicyFromTrustedRoot }, { signatureRegistryFrom }, { verifyDigest }] =
    await Promise.all([
      import('../cosign/keyless-policy.js'),
      import('../cosign/oci-registry.js'),
      import('../cosign/verify-image.js'),
    ]);
  const policy: ImageVerificationPolicy = {
    ...(await certificatePolicyFromTrustedRoot(o.keyless, KEYLESS_GATE_INPUTS)),
    ...(o.annotations ? { annotations: o.annotations } : {}),
  };
  return policyVerifier(signatureRegistryFrom(o.registry), policy, verifyDigest);
}

/**
 * Either authority (see THE RULE above): the first verdict that verifies wins; when none does,
 * the problems of each, prefixed with its label. Asked in order, so the key check (cheap, no
 * certificate chain) goes first and the second is only asked when the first refused.
 */
export function anyOfVerifiers(
  verifiers: readonly { label: string; verifier: ImageVerifier }[],
): ImageVerifier {
  return {
    async verify(image, digest) {
      const problems: string[] = [];
      for (const { label, verifier } of verifiers) {
        const v = await verifier.verify(image, digest);
        if (v.verified) return v;
        problems.push(...v.problems.map((p) => (verifiers.length > 1 ? `${label}: ${p}` : p)));
      }
      return { verified: false, signers: [], problems };
    },
  };
}

export interface SignatureGateOptions {
  /** verify-key: public keys (path, inline PEM or env://VAR). */
  keys: readonly string[];
  /** Keyless inputs, validated by keylessGateInputs (undefined: no keyless authority). */
  keyless: KeylessInputs | undefined;
  registry: Registry;
  env?: NodeJS.ProcessEnv;
}

/** k3s-deploy's signature gate from its inputs; undefined when no authority is configured. */
export async function signatureGate(o: SignatureGateOptions): Promise<ImageVerifier | undefined> {
  const authorities: { label: string; verifier: ImageVerifier }[] = [];
  if (o.keys.length > 0) {
    authorities.push({
      label: 'verify-key',
      verifier: await keyVerifier({ keys: o.keys, registry: o.registry, ...(o.env ? { env: o.env } : {}) }),
    });
  }
  if (o.keyless) {
    authorities.push({
      label: 'keyless',
      verifier: await keylessVerifier({ keyless: o.keyless, registry: o.registry }),
    });
  }
  if (authorities.length === 0) return undefined;
  return authorities.length === 1 ? authorities[0]!.verifier : anyOfVerifiers(authorities);
}
