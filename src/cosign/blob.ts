/**
 * Offline blob signing and verification, like `cosign sign-blob --key` / `cosign verify-blob
 * --key`: the signature is the base64 of a raw signature over the blob's bytes. With an expected
 * image digest the blob must also be a simple-signing payload for that digest — the check that
 * turns `verify-blob` into an offline image-signature check.
 */
import { GantryError } from '../core/errors.js';
import type { SigningKey, VerificationKey } from './keys.js';
import { parseSimpleSigningPayload, type SimpleSigningPayload } from './payload.js';
import { decodeBase64Strict, signBytes, verifyBytes } from './signature.js';

/** The base64 signature `cosign sign-blob` prints. */
export function signBlob(key: SigningKey, blob: Uint8Array): string {
  return signBytes(key, blob).toString('base64');
}

export interface VerifyBlobOptions {
  keys: VerificationKey[];
  blob: Uint8Array;
  /** Base64 text (as cosign writes it) or raw signature bytes. */
  signature: string | Uint8Array;
  /** When set, the blob must be a cosign simple-signing payload for this manifest digest. */
  imageDigest?: string;
}

export interface VerifyBlobResult {
  /** The key that verified. */
  key: string;
  payload?: SimpleSigningPayload;
}

/** Throws GantryError('signature-invalid') unless one of the keys verifies the signature. */
export function verifyBlob(opts: VerifyBlobOptions): VerifyBlobResult {
  let sig: Uint8Array | undefined;
  if (typeof opts.signature === 'string') {
    sig = decodeBase64Strict(opts.signature);
    if (!sig) throw new GantryError('signature-invalid', 'the signature is not base64');
  } else {
    const asText = decodeBase64Strict(Buffer.from(opts.signature).toString('latin1'));
    sig = asText ?? opts.signature;
  }
  const key = opts.keys.find((k) => verifyBytes(k, opts.blob, sig));
  if (!key) {
    throw new GantryError(
      'signature-invalid',
      `invalid signature: it does not verify with ${opts.keys.map((k) => k.source).join(' or ')}`,
    );
  }
  if (opts.imageDigest === undefined) return { key: key.source };
  const payload = parseSimpleSigningPayload(opts.blob);
  const signed = payload.critical.image['docker-manifest-digest'];
  if (signed !== opts.imageDigest) {
    throw new GantryError(
      'signature-invalid',
      `the payload is signed for ${signed}, not ${opts.imageDigest}`,
    );
  }
  return { key: key.source, payload };
}
