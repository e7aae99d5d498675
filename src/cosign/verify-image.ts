/**
 * verify-image: find every cosign signature of an image (the legacy `sha256-<hex>.sig` tag) and
 * keep those that pass `verifySignatureLayer` for the image's real digest. An image is verified
 * when at least one signature passes; the reasons of the others are kept for the report. Registry
 * failures propagate as errors (never as "verified"); a missing image or missing signatures is a
 * negative verdict with its reason.
 */
import { GantryError, errorMessage, isGantryError } from '../core/errors.js';
import { formatReference, parseReference, type ImageReference } from '../oci/reference.js';
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

export interface ImageVerificationPolicy extends Omit<SignaturePolicy, 'reference'> {
  /** Check that the payload's docker-reference names the image's repository (default true). */
  checkReference?: boolean;
}

export interface ImageVerification {
  image: string;
  /** The image's manifest digest (undefined when the image does not exist). */
  digest: string | undefined;
  verified: boolean;
  signatures: (Pick<VerifiedSignature, 'signer' | 'signature'> & {
    annotations: Record<string, unknown> | null;
    signatureRef: string;
  })[];
  /** Why each rejected signature (or the image) failed. */
  problems: string[];
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
  const result: ImageVerification = {
    image,
    digest: undefined,
    verified: false,
    signatures: [],
    problems: [],
  };
  const manifest = await registry.getManifest(ref);
  if (!manifest) {
    result.problems.push(`image ${formatReference(ref)} not found`);
    return result;
  }
  result.digest = manifest.digest;
  return verifySignaturesOf(registry, ref, manifest.digest, policy, result);
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
  result: ImageVerification = {
    image: formatReference(ref),
    digest,
    verified: false,
    signatures: [],
    problems: [],
  },
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
