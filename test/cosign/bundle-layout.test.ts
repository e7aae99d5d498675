/**
 * The bundle format, hermetic: cosign 2.5's captured `attest --new-bundle-format` referrers verify
 * with the cosign key (and are told apart by predicate type), gantry's bundles and referrer
 * manifests have cosign's shape, tampering is rejected, and verify-image / sign-image over an
 * in-memory registry find bundles where cosign's fallback index hides their artifactType.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isGantryError } from '../../src/core/errors.js';
import {
  BUNDLE_MEDIA_TYPE,
  COSIGN_SIGN_PREDICATE_TYPE,
  EMPTY_CONFIG_MEDIA_TYPE,
  buildBundleReferrerManifest,
  buildKeyBundle,
  buildSignStatement,
  dssePae,
  parseBundleReferrerManifest,
  publicKeyHint,
  verifyKeyBundle,
} from '../../src/cosign/bundle-layout.js';
import { generateCosignKeyPair, decryptPrivateKey, parsePublicKey } from '../../src/cosign/keys.js';
import { OCI_MANIFEST_MEDIA_TYPE } from '../../src/cosign/layout.js';
import type { FetchedManifest, ReferrerDescriptor, SignatureRegistry } from '../../src/cosign/registry.js';
import { signImages } from '../../src/cosign/sign-image.js';
import { verifyImage } from '../../src/cosign/verify-image.js';
import type { ImageReference } from '../../src/oci/reference.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'cosign-2.5-new-bundle');
interface Captured {
  imageDigest: string;
  fallbackIndexEntryArtifactType: string;
  referrers: Record<'sign-v1' | 'custom', { manifestDigest: string; manifest: string; bundle: string }>;
}
const captured = JSON.parse(readFileSync(join(fixtures, 'referrers.json'), 'utf8')) as Captured;
const cosignPub = parsePublicKey(readFileSync(join(fixtures, 'cosign.pub'), 'utf8'), 'cosign.pub');
const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const otherDigest = `sha256:${'ab'.repeat(32)}`;

async function newKey() {
  const pair = await generateCosignKeyPair('pw');
  return {
    key: await decryptPrivateKey(pair.privateKeyPem, 'pw', 'test key'),
    pub: parsePublicKey(pair.publicKeyPem, 'test.pub'),
  };
}

function expectInvalid(fn: () => unknown, message: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(isGantryError(e, 'signature-invalid'), String(e)).toBe(true);
    expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error('expected signature-invalid');
}

describe('cosign 2.5 bundles (captured)', () => {
  it('the key hint is base64(sha256(SPKI DER)), as cosign writes it', () => {
    const bundle = JSON.parse(captured.referrers.custom.bundle) as {
      verificationMaterial: { publicKey: { hint: string } };
    };
    expect(publicKeyHint(cosignPub)).toBe(bundle.verificationMaterial.publicKey.hint);
  });

  it('attest --type custom verifies with the key and reads as an attestation, not a signature', () => {
    const r = verifyKeyBundle(JSON.parse(captured.referrers.custom.bundle), captured.imageDigest, [
      cosignPub,
    ]);
    expect(r.signer).toBe('cosign.pub');
    expect(r.predicateType).toBe('https://cosign.sigstore.dev/attestation/v1');
  });

  it('attest --type sign/v1 verifies as an image signature', () => {
    const r = verifyKeyBundle(JSON.parse(captured.referrers['sign-v1'].bundle), captured.imageDigest, [
      cosignPub,
    ]);
    expect(r.predicateType).toBe(COSIGN_SIGN_PREDICATE_TYPE);
  });

  it('is rejected for another digest, with another key, or with a modified payload', async () => {
    const bundle = JSON.parse(captured.referrers.custom.bundle) as {
      dsseEnvelope: { payload: string; signatures: { sig: string }[] };
    };
    expectInvalid(() => verifyKeyBundle(bundle, otherDigest, [cosignPub]), /not for sha256:abab/);
    const { pub } = await newKey();
    expectInvalid(
      () => verifyKeyBundle(bundle, captured.imageDigest, [pub]),
      /does not verify with test.pub/,
    );
    const st = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString()) as {
      predicateType: string;
    };
    st.predicateType = COSIGN_SIGN_PREDICATE_TYPE; // an attestation promoted to a signature
    const forged = {
      ...bundle,
      dsseEnvelope: { ...bundle.dsseEnvelope, payload: Buffer.from(JSON.stringify(st)).toString('base64') },
    };
    expectInvalid(() => verifyKeyBundle(forged, captured.imageDigest, [cosignPub]), /does not verify/);
  });

  it('the referrer manifest parses: bundle layer, subject, artifactType', () => {
    const m = parseBundleReferrerManifest(Buffer.from(captured.referrers.custom.manifest));
    expect(m.artifactType).toBe(BUNDLE_MEDIA_TYPE);
    expect(m.subjectDigest).toBe(captured.imageDigest);
    expect(m.layer.digest).toBe(sha256(Buffer.from(captured.referrers.custom.bundle)));
  });
});

describe('gantry bundles', () => {
  it("the statement is cosign v3's: in-toto v1, digest subject with the annotations, sign/v1", () => {
    const st = JSON.parse(buildSignStatement(captured.imageDigest, { commit: 'abc' }).toString()) as unknown;
    expect(st).toEqual({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ digest: { sha256: captured.imageDigest.slice(7) }, annotations: { commit: 'abc' } }],
      predicateType: COSIGN_SIGN_PREDICATE_TYPE,
      predicate: {},
    });
  });

  it('a key bundle verifies (DSSE PAE over the statement) and carries the key hint', async () => {
    const { key, pub } = await newKey();
    const bundleBytes = buildKeyBundle(key, buildSignStatement(captured.imageDigest, { a: '1' }));
    const bundle = JSON.parse(bundleBytes.toString()) as {
      mediaType: string;
      verificationMaterial: { publicKey: { hint: string } };
      dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string }[] };
    };
    expect(bundle.mediaType).toBe(BUNDLE_MEDIA_TYPE);
    expect(bundle.verificationMaterial.publicKey.hint).toBe(publicKeyHint(pub));
    const r = verifyKeyBundle(bundle, captured.imageDigest, [pub]);
    expect(r).toMatchObject({ predicateType: COSIGN_SIGN_PREDICATE_TYPE, annotations: { a: '1' } });
    // the signature is over PAE, not over the bare payload
    const { verify } = await import('node:crypto');
    const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
    const sig = Buffer.from(bundle.dsseEnvelope.signatures[0]?.sig ?? '', 'base64');
    expect(verify('sha256', dssePae(bundle.dsseEnvelope.payloadType, payload), pub.publicKey, sig)).toBe(
      true,
    );
    expect(verify('sha256', payload, pub.publicKey, sig)).toBe(false);
  });

  it("the referrer manifest has cosign's shape (same keys, config, layer type, annotations)", () => {
    const bundle = Buffer.from(captured.referrers.custom.bundle);
    const cosignManifest = JSON.parse(captured.referrers.custom.manifest) as Record<string, unknown> & {
      subject: { mediaType: string; digest: string; size: number };
      annotations: Record<string, string>;
    };
    const ours = JSON.parse(
      buildBundleReferrerManifest({
        subject: cosignManifest.subject,
        bundle,
        predicateType: 'https://cosign.sigstore.dev/attestation/v1',
        created: new Date(Date.parse(cosignManifest.annotations['org.opencontainers.image.created'] ?? '')),
      }).toString(),
    ) as unknown;
    expect(ours).toEqual(cosignManifest);
  });

  it('a message-signature bundle is not an image signature', () => {
    expectInvalid(
      () =>
        verifyKeyBundle(
          { mediaType: BUNDLE_MEDIA_TYPE, messageSignature: { signature: 'AA==' } },
          captured.imageDigest,
          [cosignPub],
        ),
      /message signature/,
    );
  });
});

/** A registry in memory; `fallbackArtifactType` mimics what cosign writes into the tag index. */
function memoryRegistry(fallbackArtifactType?: string) {
  const manifests = new Map<string, FetchedManifest>();
  const tags = new Map<string, string>();
  const blobs = new Map<string, Buffer>();
  const referrers = new Map<string, ReferrerDescriptor[]>();
  const key = (ref: ImageReference, id: string) => `${ref.path}@${id}`;
  const registry: SignatureRegistry = {
    getManifest(ref) {
      const id = ref.digest ?? tags.get(key(ref, ref.tag ?? 'latest'));
      return Promise.resolve(id ? manifests.get(key(ref, id)) : undefined);
    },
    putManifest(ref, tag, bytes, mediaType) {
      const digest = sha256(bytes);
      manifests.set(key(ref, digest), { bytes, mediaType, digest });
      if (tag) tags.set(key(ref, tag), digest);
      return Promise.resolve(digest);
    },
    getBlob(ref, digest) {
      const b = blobs.get(key(ref, digest));
      return b ? Promise.resolve(b) : Promise.reject(new Error(`no blob ${digest}`));
    },
    putBlob(ref, bytes) {
      blobs.set(key(ref, sha256(bytes)), bytes);
      return Promise.resolve(sha256(bytes));
    },
    referrers(ref, digest) {
      return Promise.resolve(referrers.get(key(ref, digest)) ?? []);
    },
    async putReferrer(subject, bytes, mediaType) {
      const digest = await registry.putManifest(subject, undefined, bytes, mediaType);
      const m = JSON.parse(bytes.toString()) as {
        artifactType?: string;
        annotations?: Record<string, string>;
      };
      const list = referrers.get(key(subject, subject.digest ?? '')) ?? [];
      list.push({
        mediaType,
        digest,
        size: bytes.length,
        artifactType: fallbackArtifactType ?? m.artifactType,
        ...(fallbackArtifactType ? {} : { annotations: m.annotations }),
      });
      referrers.set(key(subject, subject.digest ?? ''), list);
      return digest;
    },
  };
  return { registry, blobs };
}

async function pushFakeImage(registry: SignatureRegistry): Promise<string> {
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST_MEDIA_TYPE, n: Math.random() }),
  );
  await registry.putManifest({ domain: 'reg.test', path: 'app' }, 'v1', manifest, OCI_MANIFEST_MEDIA_TYPE);
  return sha256(manifest);
}

describe('sign-image / verify-image with format bundle (in-memory registry)', () => {
  it('signs as a referrer; verify finds it in auto and bundle format, not in legacy', async () => {
    const { registry } = memoryRegistry();
    const digest = await pushFakeImage(registry);
    const { key, pub } = await newKey();
    const [signed] = await signImages({
      registry,
      images: ['reg.test/app:v1'],
      key,
      format: 'bundle',
      annotations: { commit: 'c1' },
    });
    expect(signed?.digest).toBe(digest);
    expect(signed?.['signature-ref']).toMatch(/^reg\.test\/app@sha256:[a-f0-9]{64}$/);
    const auto = await verifyImage(registry, 'reg.test/app:v1', {
      keys: [pub],
      annotations: { commit: 'c1' },
    });
    expect(auto.verified).toBe(true);
    expect(auto.signatures).toMatchObject([
      { format: 'bundle', signer: 'test.pub', annotations: { commit: 'c1' } },
    ]);
    expect((await verifyImage(registry, 'reg.test/app:v1', { keys: [pub], format: 'bundle' })).verified).toBe(
      true,
    );
    const legacy = await verifyImage(registry, 'reg.test/app:v1', { keys: [pub], format: 'legacy' });
    expect(legacy.verified).toBe(false);
    expect(legacy.problems.join()).toMatch(/no signatures found/);
    const wrongAnnotation = await verifyImage(registry, 'reg.test/app:v1', {
      keys: [pub],
      annotations: { commit: 'c2' },
    });
    expect(wrongAnnotation.verified).toBe(false);
    expect(wrongAnnotation.problems.join()).toMatch(/annotation commit is "c1", expected "c2"/);
  });

  it("finds bundles whose fallback-index entry has cosign's empty-config artifactType", async () => {
    const { registry } = memoryRegistry(EMPTY_CONFIG_MEDIA_TYPE);
    await pushFakeImage(registry);
    const { key, pub } = await newKey();
    await signImages({ registry, images: ['reg.test/app:v1'], key, format: 'bundle' });
    const r = await verifyImage(registry, 'reg.test/app:v1', { keys: [pub], format: 'bundle' });
    expect(r.verified, r.problems.join('; ')).toBe(true);
  });

  it('an attestation bundle is listed but does not verify the image; a wrong key does not either', async () => {
    const { registry } = memoryRegistry();
    const digest = await pushFakeImage(registry);
    const { key, pub } = await newKey();
    const statement = Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ digest: { sha256: digest.slice(7) } }],
        predicateType: 'https://slsa.dev/provenance/v1',
        predicate: {},
      }),
    );
    const bundle = buildKeyBundle(key, statement);
    await registry.putBlob({ domain: 'reg.test', path: 'app' }, bundle);
    const manifest = buildBundleReferrerManifest({
      subject: { mediaType: OCI_MANIFEST_MEDIA_TYPE, digest, size: 1 },
      bundle,
      predicateType: 'https://slsa.dev/provenance/v1',
      created: new Date(0),
    });
    await registry.putReferrer?.(
      { domain: 'reg.test', path: 'app', digest },
      manifest,
      OCI_MANIFEST_MEDIA_TYPE,
    );
    const r = await verifyImage(registry, 'reg.test/app:v1', { keys: [pub] });
    expect(r.verified).toBe(false);
    expect(r.attestations).toMatchObject([
      { predicateType: 'https://slsa.dev/provenance/v1', signer: 'test.pub' },
    ]);
    const other = await newKey();
    await signImages({ registry, images: ['reg.test/app:v1'], key: other.key, format: 'bundle' });
    const wrong = await verifyImage(registry, 'reg.test/app:v1', { keys: [pub] });
    expect(wrong.verified).toBe(false);
    expect(wrong.problems.join()).toMatch(/does not verify with test.pub/);
  });

  it('a bundle replaced in storage after signing fails the read-back, and sign reports it', async () => {
    const { registry, blobs } = memoryRegistry();
    await pushFakeImage(registry);
    const { key } = await newKey();
    const evil = {
      ...registry,
      putBlob: async (ref: ImageReference, bytes: Buffer) => {
        const d = await registry.putBlob(ref, bytes);
        if (bytes.toString().includes('dsseEnvelope')) {
          const b = JSON.parse(bytes.toString()) as { dsseEnvelope: { signatures: { sig: string }[] } };
          b.dsseEnvelope.signatures = [{ sig: Buffer.alloc(70, 1).toString('base64') }];
          blobs.set(`${ref.path}@${d}`, Buffer.from(JSON.stringify(b)));
        }
        return d;
      },
    };
    await expect(
      signImages({ registry: evil, images: ['reg.test/app:v1'], key, format: 'bundle' }),
    ).rejects.toThrow(/did not verify when read back/);
  });

  it('auto reads bundle referrers only when no legacy signature verified', async () => {
    const { registry } = memoryRegistry();
    let lookups = 0;
    const counting: SignatureRegistry = {
      ...registry,
      referrers: (ref, digest, type) => {
        lookups++;
        return registry.referrers?.(ref, digest, type) ?? Promise.resolve(undefined);
      },
    };
    await pushFakeImage(registry);
    const { key, pub } = await newKey();
    await signImages({ registry, images: ['reg.test/app:v1'], key, format: 'bundle' });
    const viaBundle = await verifyImage(counting, 'reg.test/app:v1', { keys: [pub] });
    expect(viaBundle.verified).toBe(true);
    expect(lookups).toBe(1);
    await signImages({ registry, images: ['reg.test/app:v1'], key });
    const viaLegacy = await verifyImage(counting, 'reg.test/app:v1', { keys: [pub] });
    expect(viaLegacy.signatures.map((s) => s.format)).toEqual(['legacy']);
    expect(lookups).toBe(1);
    const both = await verifyImage(counting, 'reg.test/app:v1', { keys: [pub], format: 'bundle' });
    expect(both.signatures.map((s) => s.format)).toEqual(['bundle']);
    expect(lookups).toBe(2);
  });

  it('refuses format bundle when the registry client cannot push referrers', async () => {
    const { registry } = memoryRegistry();
    await pushFakeImage(registry);
    const { key } = await newKey();
    const noReferrers: SignatureRegistry = { ...registry, putReferrer: undefined };
    await expect(
      signImages({ registry: noReferrers, images: ['reg.test/app:v1'], key, format: 'bundle' }),
    ).rejects.toThrow(/cannot push referrers/);
  });
});
