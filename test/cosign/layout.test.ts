import { describe, expect, it } from 'vitest';
import { parsePublicKey } from '../../src/cosign/keys.js';
import {
  buildSignatureManifest,
  parseSignatureManifest,
  signatureConfig,
  signatureTag,
} from '../../src/cosign/layout.js';
import { buildSimpleSigningPayload } from '../../src/cosign/payload.js';
import { cosignRepositoryName } from '../../src/cosign/sign-image.js';
import { verifySignatureLayer } from '../../src/cosign/verify-signature.js';
import { parseReference } from '../../src/oci/reference.js';
import { readConformanceJson } from './conformance.js';
import captured from './fixtures/cosign-2.5-legacy-signature.json';

interface TagCase {
  kind: string;
  ref: string;
  suffix: string | null;
  resolved_digest?: string;
  want: string;
}
const tagCases = readConformanceJson<{ mock_resolution: Record<string, string>; cases: TagCase[] }>(
  'simple-signing',
  'signature_tag_cases.json',
);

describe('signature tag names (conformance: cosign remote_test.go, SIGNATURE_SPEC.md)', () => {
  for (const c of tagCases.cases) {
    it(`${c.kind} ${c.ref} suffix=${String(c.suffix)} → ${c.want}`, () => {
      const ref = parseReference(c.ref);
      const digest = ref.digest ?? c.resolved_digest ?? tagCases.mock_resolution[c.ref] ?? '';
      const suffix = c.suffix ?? { signature: 'sig', attestation: 'att', sbom: 'sbom' }[c.kind];
      expect(`${ref.domain}/${ref.path}:${signatureTag(digest, suffix)}`).toBe(c.want);
    });
  }
});

describe('what cosign 2.5 wrote (captured), rebuilt byte for byte', () => {
  const layer = parseSignatureManifest(Buffer.from(captured.manifest)).layers[0];

  it('the payload', () => {
    const ref = parseReference(`${captured.repository}@${captured.image_digest}`);
    const payload = buildSimpleSigningPayload({
      repository: cosignRepositoryName(ref),
      digest: captured.image_digest,
      annotations: captured.annotations,
    });
    expect(payload.toString()).toBe(captured.payload);
  });

  it('the config blob and the manifest', () => {
    if (!layer) throw new Error('no layer');
    expect(signatureConfig([layer.digest]).toString()).toBe(captured.config);
    const built = buildSignatureManifest(
      [],
      [{ payload: Buffer.from(captured.payload), annotations: layer.annotations ?? {} }],
    );
    expect(built.manifest.toString()).toBe(captured.manifest);
    expect(built.config.toString()).toBe(captured.config);
    // appending keeps the earlier layers in order
    const two = buildSignatureManifest(built.layers, [
      { payload: Buffer.from('{}'), annotations: { a: 'b' } },
    ]);
    expect(parseSignatureManifest(two.manifest).layers.map((l) => l.digest)).toEqual([
      layer.digest,
      built.layers[1]?.digest ?? two.layers[1]?.digest,
    ]);
  });

  it("cosign's signature verifies for the image digest; not for another digest or repository", () => {
    if (!layer) throw new Error('no layer');
    const key = parsePublicKey(captured.public_key, 'c1.pub');
    const l = {
      mediaType: layer.mediaType,
      payload: Buffer.from(captured.payload),
      annotations: layer.annotations ?? {},
    };
    const image = parseReference(`${captured.repository}@${captured.image_digest}`);
    expect(
      verifySignatureLayer(l, captured.image_digest, {
        keys: [key],
        reference: { mode: 'repository', image },
      }).signer,
    ).toBe('c1.pub');
    expect(() => verifySignatureLayer(l, `sha256:${'0'.repeat(64)}`, { keys: [key] })).toThrow(
      /not for the image's digest/,
    );
    const other = parseReference('127.0.0.1:5055/other');
    expect(() =>
      verifySignatureLayer(l, captured.image_digest, {
        keys: [key],
        reference: { mode: 'repository', image: other },
      }),
    ).toThrow(/is for repository/);
  });

  it('docker-reference for Docker Hub images is index.docker.io/…, as go-containerregistry names it', () => {
    expect(cosignRepositoryName(parseReference('nginx'))).toBe('index.docker.io/library/nginx');
  });
});
