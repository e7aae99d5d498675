/**
 * verify-image: find every cosign signature of an image — the legacy `sha256-<hex>.sig` tag and
 * the Sigstore bundles stored as OCI referrers (bundle-layout.ts) — and keep those that verify
 * for the image's real digest. An image is verified when at least one signature passes; the
 * reasons of the others are kept for the report. Bundles whose statement is not an image signature
 * (another predicate type, e.g. from `cosign attest`) are verified too but listed as attestations:
 * they never make an image "verified". Registry failures propagate as errors (never as
 * "verified"); a missing image or missing signatures is a negative verdict with its reason.
 */
import { GantryError, errorMessage, isGantryError } from '../core/errors.js';
import { formatReference, parseReference, referenceName, type ImageReference } from '../oci/reference.js';
import { verifySigstoreBundle } from './bundle.js';
import {
  BUNDLE_MEDIA_TYPE,
  COSIGN_SIGN_PREDICATE_TYPE,
  EMPTY_CONFIG_MEDIA_TYPE,
  parseBundleReferrerManifest,
  parseDsseBundle,
  statementClaims,
  verifyKeyBundle,
  type BundleClaims,
} from './bundle-layout.js';
import type { SignatureFormat } from './inputs.js';
import { parseSignatureManifest, signatureTag } from './layout.js';
import type { SignatureRegistry } from './registry.js';
import {
  SIGNATURE_ANNOTATION,
  verifySignatureLayer,
  type SignaturePolicy,
  type VerifiedSignature,
} from './verify-signature.js';

/** Payloads above this are not fetched (cosign payloads are a few hundred bytes). */
const MAX_PAYLOAD_BYTES = 1024 * 1024;
/** Bundles above this are not fetched (an attestation may carry an SBOM; a signature is ~1 KB). */
const MAX_BUNDLE_BYTES = 8 * 1024 * 1024;

export interface ImageVerificationPolicy extends Omit<SignaturePolicy, 'reference'> {
  /** Check that the payload's docker-reference names the image's repository (default true). */
  checkReference?: boolean;
  /** Where to look: the legacy `.sig` tag, bundle referrers, or both (`auto`, the default). */
  format?: SignatureFormat | 'auto';
  /** Keyless bundles: the Sigstore trusted_root.json (parsed) they must verify against. */
  trustedRoot?: unknown;
}

/** A verified bundle whose statement is not an image signature (e.g. `cosign attest`). */
export interface VerifiedAttestation {
  predicateType: string;
  signer: string;
  ref: string;
}

export interface ImageVerification {
  image: string;
  /** The image's manifest digest (undefined when the image does not exist). */
  digest: string | undefined;
  verified: boolean;
  signatures: (Pick<VerifiedSignature, 'signer' | 'signature'> & {
    annotations: Record<string, unknown> | null;
    signatureRef: string;
    format: SignatureFormat;
  })[];
  /** Verified bundles about the image that are not signatures (they do not count). */
  attestations: VerifiedAttestation[];
  /** Why each rejected signature (or the image) failed. */
  problems: string[];
}

function emptyResult(image: string, digest: string | undefined): ImageVerification {
  return { image, digest, verified: false, signatures: [], attestations: [], problems: [] };
}

/** Parses an image reference; a bad one is an input error (exit 2) naming it. */
export function parseImageInput(image: string): ImageReference {
  try {
    return parseReference(image);
  } catch (e) {
    throw new GantryError('input', `"${image}" is not a valid image reference: ${errorMessage(e)}`, {
      cause: e,
    });
  }
}

/** Verifies one image; see the module comment for the verdict rules. */
export async function verifyImage(
  registry: SignatureRegistry,
  image: string,
  policy: ImageVerificationPolicy,
): Promise<ImageVerification> {
  const ref = parseImageInput(image);
  const result = emptyResult(image, undefined);
  const manifest = await registry.getManifest(ref);
  if (!manifest) {
    result.problems.push(`image ${formatReference(ref)} not found`);
    return result;
  }
  result.digest = manifest.digest;
  return verifyDigest(registry, ref, manifest.digest, policy, result);
}

/**
 * The signatures of a known digest in the storage `policy.format` names. `auto` reads the legacy
 * `.sig` tag first and looks at bundle referrers only when no legacy signature verified: a
 * legacy-signed image costs no more requests than cosign's own verify (the referrers lookup is
 * two requests on a registry without the referrers API).
 */
export async function verifyDigest(
  registry: SignatureRegistry,
  ref: ImageReference,
  digest: string,
  policy: ImageVerificationPolicy,
  result: ImageVerification = emptyResult(formatReference(ref), digest),
): Promise<ImageVerification> {
  const format = policy.format ?? 'auto';
  if (format !== 'bundle') await verifySignaturesOf(registry, ref, digest, policy, result);
  if (format === 'bundle' || (format === 'auto' && result.signatures.length === 0))
    await verifyBundleSignaturesOf(registry, ref, digest, policy, result);
  result.verified = result.signatures.length > 0;
  return result;
}

/**
 * The signature check for a known digest (no manifest fetch). `only` restricts it to the layer
 * carrying that base64 signature — the read-back after signing needs no other blobs.
 */
export async function verifySignaturesOf(
  registry: SignatureRegistry,
  ref: ImageReference,
  digest: string,
  policy: ImageVerificationPolicy,
  result: ImageVerification = emptyResult(formatReference(ref), digest),
  only?: string,
): Promise<ImageVerification> {
  const repo: ImageReference = { domain: ref.domain, path: ref.path };
  const tagRef: ImageReference = { ...repo, tag: signatureTag(digest) };
  const sigManifest = await registry.getManifest(tagRef);
  if (!sigManifest) {
    result.problems.push(`no signatures found (no ${signatureTag(digest)} tag)`);
    return result;
  }
  const signatureRef = `${formatReference(tagRef)}@${sigManifest.digest}`;
  let layers;
  try {
    layers = parseSignatureManifest(sigManifest.bytes).layers;
  } catch (e) {
    result.problems.push(errorMessage(e));
    return result;
  }
  const signaturePolicy: SignaturePolicy = {
    ...policy,
    reference: policy.checkReference === false ? { mode: 'ignore' } : { mode: 'repository', image: ref },
  };
  for (const layer of layers) {
    if (only !== undefined && layer.annotations?.[SIGNATURE_ANNOTATION] !== only) continue;
    if (layer.size > MAX_PAYLOAD_BYTES) {
      result.problems.push(`layer ${layer.digest}: ${layer.size} bytes is too large for a signature payload`);
      continue;
    }
    try {
      const payload = await registry.getBlob(repo, layer.digest);
      const ok = verifySignatureLayer(
        { mediaType: layer.mediaType, payload, annotations: layer.annotations ?? {} },
        digest,
        signaturePolicy,
      );
      result.signatures.push({
        signer: ok.signer,
        signature: ok.signature,
        annotations: ok.payload.optional,
        signatureRef,
        format: 'legacy',
      });
    } catch (e) {
      if (!isGantryError(e, 'signature-invalid')) throw e;
      result.problems.push(`layer ${layer.digest}: ${e.message}`);
    }
  }
  result.verified = result.signatures.length > 0;
  if (!result.verified && layers.length === 0) result.problems.push('the signature manifest has no layers');
  return result;
}

/**
 * The bundle-format signatures of a known digest: every referrer carrying a Sigstore bundle,
 * verified with the policy's keys (or, keyless, against its trusted root and identities). `only`
 * restricts the check to one referrer manifest digest — the read-back after signing.
 */
export async function verifyBundleSignaturesOf(
  registry: SignatureRegistry,
  ref: ImageReference,
  digest: string,
  policy: ImageVerificationPolicy,
  result: ImageVerification = emptyResult(formatReference(ref), digest),
  only?: string,
): Promise<ImageVerification> {
  const repo: ImageReference = { domain: ref.domain, path: ref.path };
  if (!registry.referrers) {
    result.problems.push('bundle signatures: the registry client cannot list referrers');
    return result;
  }
  // Unfiltered on purpose: cosign (go-containerregistry) writes the config media type
  // (application/vnd.oci.empty.v1+json) as the artifactType of its entries in the sha256-<hex>
  // fallback index, so a filter on the bundle type would miss every bundle cosign stored there.
  const descriptors = ((await registry.referrers(ref, digest)) ?? []).filter(
    (d) =>
      (only === undefined || d.digest === only) &&
      (d.artifactType === undefined ||
        d.artifactType === BUNDLE_MEDIA_TYPE ||
        d.artifactType === EMPTY_CONFIG_MEDIA_TYPE),
  );
  let bundles = 0;
  await Promise.all(
    descriptors.map(async (d) => {
      const manifestRef: ImageReference = { ...repo, digest: d.digest };
      const signatureRef = `${referenceName(repo)}@${d.digest}`;
      const fetched = await registry.getManifest(manifestRef);
      if (!fetched) {
        result.problems.push(`referrer ${d.digest}: listed but not found`);
        return;
      }
      let referrer;
      try {
        referrer = parseBundleReferrerManifest(fetched.bytes);
      } catch {
        return; // another kind of referrer (SBOM, notation signature …): not ours to judge
      }
      if (referrer.artifactType !== BUNDLE_MEDIA_TYPE) return;
      bundles++;
      try {
        if (referrer.subjectDigest !== digest)
          throw new GantryError(
            'signature-invalid',
            `the referrer's subject is ${String(referrer.subjectDigest)}`,
          );
        if (referrer.layer.size > MAX_BUNDLE_BYTES)
          throw new GantryError(
            'signature-invalid',
            `the bundle is too large (${referrer.layer.size} bytes)`,
          );
        const bytes = await registry.getBlob(repo, referrer.layer.digest);
        let json: unknown;
        try {
          json = JSON.parse(bytes.toString('utf8'));
        } catch {
          throw new GantryError('signature-invalid', 'the bundle is not JSON');
        }
        const verified = verifyBundleFor(json, digest, policy);
        if (verified.predicateType !== COSIGN_SIGN_PREDICATE_TYPE) {
          result.attestations.push({
            predicateType: verified.predicateType,
            signer: verified.signer,
            ref: signatureRef,
          });
          return;
        }
        checkAnnotations(verified.annotations, policy.annotations);
        result.signatures.push({
          signer: verified.signer,
          signature: verified.signature,
          annotations: verified.annotations,
          signatureRef,
          format: 'bundle',
        });
      } catch (e) {
        if (!isGantryError(e, 'signature-invalid')) throw e;
        result.problems.push(`bundle ${d.digest}: ${e.message}`);
      }
    }),
  );
  if (bundles === 0 && only === undefined) result.problems.push('no bundle signatures found (no referrers)');
  result.verified = result.signatures.length > 0;
  return result;
}

/** One bundle, with a key or keyless; throws signature-invalid with the reason. */
function verifyBundleFor(
  bundle: unknown,
  digest: string,
  policy: ImageVerificationPolicy,
): BundleClaims & { signer: string } {
  if (policy.keys?.length) return verifyKeyBundle(bundle, digest, policy.keys);
  if (!policy.certificate || policy.trustedRoot === undefined) {
    throw new GantryError('configuration', 'keyless bundle verification needs a trusted root');
  }
  const dsse = parseDsseBundle(bundle);
  const who = verifySigstoreBundle({ bundle, trustedRoot: policy.trustedRoot });
  const ids = policy.certificate.identities;
  const ok =
    ids.length === 0 ||
    ids.some((id) => matches(id.subject, who.signer) && matches(id.issuer, who.issuer ?? ''));
  if (!ok)
    throw new GantryError(
      'signature-invalid',
      `the certificate identity (${who.signer}; issuer ${who.issuer ?? 'none'}) is not the expected one`,
    );
  return {
    ...statementClaims(dsse.payloadType, dsse.payload, digest),
    signature: dsse.signatureB64,
    signer: who.signer,
  };
}

function matches(want: string | RegExp | undefined, value: string): boolean {
  if (want === undefined) return true;
  return typeof want === 'string' ? value === want : want.test(value);
}

function checkAnnotations(got: Record<string, unknown>, want: Readonly<Record<string, string>> = {}): void {
  for (const [k, v] of Object.entries(want)) {
    const g = got[k];
    const text = typeof g === 'string' ? g : g === undefined ? undefined : JSON.stringify(g);
    if (text !== v)
      throw new GantryError(
        'signature-invalid',
        `annotation ${k} is ${text === undefined ? 'missing' : `"${text}"`}, expected "${v}"`,
      );
  }
}

/** Verifies several images; the order of results follows the input. */
export async function verifyImages(
  registry: SignatureRegistry,
  images: readonly string[],
  policy: ImageVerificationPolicy,
): Promise<ImageVerification[]> {
  for (const image of images) parseImageInput(image); // all input errors before any request
  const out: ImageVerification[] = [];
  for (const image of images) out.push(await verifyImage(registry, image, policy));
  return out;
}
