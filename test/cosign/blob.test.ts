import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isGantryError } from '../../src/core/errors.js';
import { signBlob, verifyBlob } from '../../src/cosign/blob.js';
import { decryptPrivateKey, parsePublicKey } from '../../src/cosign/keys.js';
import { readConformance, readConformanceJson } from './conformance.js';

const dir = 'cosign-signatures-containers-image';
const cosignPub = parsePublicKey(readConformance(dir, 'cosign.pub'), 'cosign.pub');
const cosign2Pub = parsePublicKey(readConformance(dir, 'cosign2.pub'), 'cosign2.pub');

interface Decoded {
  file: string;
  payload_b64: string;
  signature_b64: string;
  manifest_sha256?: string;
}
const decoded = readConformanceJson<Decoded[]>(dir, 'signatures_decoded.json');
const valid = decoded.find((d) => d.file === 'dir-img-cosign-valid/signature-1');

function invalid(fn: () => unknown): boolean {
  try {
    fn();
  } catch (e) {
    return isGantryError(e, 'signature-invalid');
  }
  return false;
}

describe('verify-blob over signatures made by the real cosign (containers/image fixtures)', () => {
  it('accepts the cosign signature with its key and the manifest digest', () => {
    if (!valid) throw new Error('fixture missing');
    const blob = Buffer.from(valid.payload_b64, 'base64');
    const digest =
      'sha256:' +
      createHash('sha256').update(readConformance(dir, 'dir-img-cosign-valid/manifest.json')).digest('hex');
    const res = verifyBlob({
      keys: [cosign2Pub, cosignPub],
      blob,
      signature: valid.signature_b64,
      imageDigest: digest,
    });
    expect(res.key).toBe('cosign.pub');
    expect(res.payload?.critical.image['docker-manifest-digest']).toBe(digest);
  });

  it('rejects the wrong key, a changed payload, another digest and non-base64', () => {
    if (!valid) throw new Error('fixture missing');
    const blob = Buffer.from(valid.payload_b64, 'base64');
    expect(invalid(() => verifyBlob({ keys: [cosign2Pub], blob, signature: valid.signature_b64 }))).toBe(
      true,
    );
    const changed = Buffer.from(blob.toString().replace('"optional":null', '"optional":{}'));
    expect(
      invalid(() => verifyBlob({ keys: [cosignPub], blob: changed, signature: valid.signature_b64 })),
    ).toBe(true);
    expect(
      invalid(() =>
        verifyBlob({
          keys: [cosignPub],
          blob,
          signature: valid.signature_b64,
          imageDigest: 'sha256:' + '0'.repeat(64),
        }),
      ),
    ).toBe(true);
    expect(invalid(() => verifyBlob({ keys: [cosignPub], blob, signature: 'not base64!' }))).toBe(true);
  });

  it('signs a blob that verifies with the public key, raw bytes or base64 file content alike', async () => {
    const key = await decryptPrivateKey(readConformance('cosign-keys', 'pemsigstorekey.key'), 'hello', 'k');
    const pub = parsePublicKey(readConformance('cosign-keys', 'pemsigstorekey.derived.pub'), 'pub');
    const blob = Buffer.from('hello world\n');
    const sig = signBlob(key, blob);
    expect(verifyBlob({ keys: [pub], blob, signature: sig }).key).toBe('pub');
    expect(verifyBlob({ keys: [pub], blob, signature: Buffer.from(sig + '\n') }).key).toBe('pub');
    expect(verifyBlob({ keys: [pub], blob, signature: Buffer.from(sig, 'base64') }).key).toBe('pub');
    expect(invalid(() => verifyBlob({ keys: [cosignPub], blob, signature: sig }))).toBe(true);
  });
});
