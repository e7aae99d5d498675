/**
 * Raw signatures the way cosign makes them with a key: ECDSA (ASN.1 DER) and RSA PKCS#1 v1.5 over
 * SHA-256 of the payload, Ed25519 over the payload itself; the result travels base64-encoded
 * (the `dev.cosignproject.cosign/signature` annotation, `cosign sign-blob` output).
 */
import { sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import type { KeyAlgorithm } from './keys.js';

/** The digest cosign uses with each key kind (cosign LoadPrivateKey: crypto.SHA256 for all). */
function hashFor(algorithm: KeyAlgorithm): string | null {
  return algorithm === 'ed25519' ? null : 'sha256';
}

/** Signs bytes; returns the raw signature. */
export function signBytes(key: { privateKey: KeyObject; algorithm: KeyAlgorithm }, data: Uint8Array): Buffer {
  return nodeSign(hashFor(key.algorithm), data, key.privateKey);
}

/**
 * Checks a raw signature. ECDSA keys on P-384/P-521 are also tried with the curve's own hash
 * (what sigstore's LoadDefaultVerifier picks), so signatures from either convention verify.
 * Never throws: malformed signatures are simply invalid.
 */
export function verifyBytes(
  key: { publicKey: KeyObject; algorithm: KeyAlgorithm },
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const hashes: (string | null)[] = [hashFor(key.algorithm)];
  if (key.algorithm === 'ecdsa-p384') hashes.push('sha384');
  if (key.algorithm === 'ecdsa-p521') hashes.push('sha512');
  for (const h of hashes) {
    try {
      if (nodeVerify(h, data, key.publicKey, signature)) return true;
    } catch {
      /* malformed signature or key mismatch: not valid */
    }
  }
  return false;
}

/**
 * Decodes base64 strictly, as Go's base64.StdEncoding does (which skips CR and LF, so wrapped
 * base64 — e.g. RSA signatures from PKI signers — decodes); undefined when the text is not base64.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  const t = text.replace(/[\r\n]/g, '').trim();
  if (t === '' || !/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) return undefined;
  return Buffer.from(t, 'base64');
}
