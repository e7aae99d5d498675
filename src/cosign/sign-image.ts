/**
 * sign-image: resolve each reference to its manifest digest (signing is always by digest), then
 * - `legacy` format: build cosign's simple-signing payload, sign it, and append it to the image's
 *   `sha256-<hex>.sig` signature manifest (other signatures are kept; a signature by the same key
 *   over the same payload already there is not duplicated — cosign's dupe detector does the same);
 * - `bundle` format: sign cosign v3's in-toto statement about the digest into a Sigstore bundle
 *   and push it as an OCI referrer of the image (bundle-layout.ts; every signing adds a referrer,
 *   as cosign v3 does).
 * Then read the signature back and verify it before reporting success.
 */
import { createHash } from 'node:crypto';
import { GantryError } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import { formatReference, type ImageReference } from '../oci/reference.js';
import { parsePublicKey, type SigningKey, type VerificationKey } from './keys.js';
import {
  buildSignatureManifest,
  OCI_MANIFEST_MEDIA_TYPE,
  parseSignatureManifest,
  signatureTag,
} from './layout.js';
import {
  BUNDLE_MEDIA_TYPE,
  COSIGN_SIGN_PREDICATE_TYPE,
  EMPTY_CONFIG,
  buildBundleReferrerManifest,
  buildKeyBundle,
  buildSignStatement,
  parseDsseBundle,
  type SubjectDescriptor,
} from './bundle-layout.js';
import type { SignatureFormat } from './inputs.js';
import { buildSimpleSigningPayload, SIMPLE_SIGNING_MEDIA_TYPE } from './payload.js';
import type { FetchedManifest, SignatureRegistry } from './registry.js';
import { signBytes, verifyBytes } from './signature.js';
import { parseImageInput, verifyBundleSignaturesOf, verifySignaturesOf } from './verify-image.js';
import { CERTIFICATE_ANNOTATION, SIGNATURE_ANNOTATION } from './verify-signature.js';

export interface SignImagesOptions {
  registry: SignatureRegistry;
  images: readonly string[];
  /**
   * The key, or its pending decryption: scrypt takes ~0.2 s, so the caller may start it and let
   * the registry reads (resolve digests, fetch signature manifests) overlap it. Nothing is pushed
   * before it resolves; if it rejects, its error is thrown and nothing is pushed.
   */
  key?: SigningKey | Promise<SigningKey>;
  /**
   * Keyless instead of a key: signs a payload (Fulcio certificate + Rekor entry) and returns the
   * layer annotations cosign writes (signature, certificate, chain, bundle).
   */
  keyless?: (payload: Buffer) => Promise<Record<string, string>>;
  /**
   * Keyless, bundle format: signs an in-toto statement into a DSSE Sigstore bundle (Fulcio
   * certificate + Rekor entry) and returns the bundle JSON.
   */
  keylessBundle?: (statement: Buffer) => Promise<unknown>;
  /** Signature storage: cosign's `.sig` tag (default) or a bundle referrer. */
  format?: SignatureFormat;
  /** The referrer's creation time (default now). */
  now?: () => Date;
  /** Into the payload's `optional` (cosign `-a k=v`). */
  annotations?: Record<string, string>;
  /** For an index: also sign every manifest it lists. */
  recursive?: boolean;
  logger?: Logger;
}

/** One signed manifest, as the `signatures` output lists it. */
export interface SignedImage {
  image: string;
  digest: string;
  'signature-ref': string;
  /** False when an identical signature by this key was already there. */
  pushed: boolean;
}

const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

/** The repository name cosign writes as docker-reference (go-containerregistry: index.docker.io). */
export function cosignRepositoryName(ref: ImageReference): string {
  return `${ref.domain === 'docker.io' ? 'index.docker.io' : ref.domain}/${ref.path}`;
}

function childDescriptors(manifestBytes: Buffer): SubjectDescriptor[] {
  const index = JSON.parse(manifestBytes.toString('utf8')) as { manifests?: Partial<SubjectDescriptor>[] };
  return (index.manifests ?? []).filter(
    (m): m is SubjectDescriptor =>
      typeof m.digest === 'string' && typeof m.mediaType === 'string' && typeof m.size === 'number',
  );
}

/** Signs every image (and, with `recursive`, every manifest of an index). */
export async function signImages(opts: SignImagesOptions): Promise<SignedImage[]> {
  const refs = opts.images.map((i) => ({ image: i, ref: parseImageInput(i) })); // input errors first
  if (refs.length === 0)
    throw new GantryError('configuration', 'no images to sign', {
      hint: 'give one or more image references',
    });
  const out: SignedImage[] = [];
  // Read phase, in parallel: resolve every reference and fetch its current signature manifests.
  const planning = Promise.all(
    refs.map(async ({ image, ref }) => {
      const manifest = await opts.registry.getManifest(ref);
      if (!manifest)
        throw new GantryError(
          'not-found',
          `image ${formatReference(ref)} not found; nothing was signed for it`,
        );
      const subjects: SubjectDescriptor[] = [
        { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length },
      ];
      if (opts.recursive && INDEX_TYPES.has(manifest.mediaType))
        subjects.push(...childDescriptors(manifest.bytes));
      return Promise.all(
        subjects.map(async (subject) => {
          const digest = subject.digest;
          const tagRef: ImageReference = { domain: ref.domain, path: ref.path, tag: signatureTag(digest) };
          const existing = opts.format === 'bundle' ? undefined : await opts.registry.getManifest(tagRef);
          return { image, ref, digest, subject, existing };
        }),
      );
    }),
  );
  // A key problem (wrong password, unreadable file) is reported first: it is the user's to fix.
  if (!opts.key && !(opts.format === 'bundle' ? opts.keylessBundle : opts.keyless))
    throw new GantryError('configuration', 'no signing key and no keyless signer');
  const [keyResult, planResult] = await Promise.allSettled([Promise.resolve(opts.key), planning]);
  if (keyResult.status === 'rejected') throw keyResult.reason;
  if (planResult.status === 'rejected') throw planResult.reason;
  const key = keyResult.value;
  for (const target of planResult.value.flat()) {
    out.push(
      opts.format === 'bundle'
        ? await signDigestBundle({ ...opts, key }, target)
        : await signDigest({ ...opts, key }, target),
    );
  }
  return out;
}

interface SignTarget {
  image: string;
  ref: ImageReference;
  digest: string;
  subject: SubjectDescriptor;
  existing: FetchedManifest | undefined;
}

/** Bundle format: statement → bundle → referrer manifest → push → read back and verify. */
async function signDigestBundle(
  opts: SignImagesOptions & { key: SigningKey | undefined },
  { image, ref, digest, subject }: SignTarget,
): Promise<SignedImage> {
  const repo: ImageReference = { domain: ref.domain, path: ref.path };
  const putReferrer = opts.registry.putReferrer?.bind(opts.registry);
  if (!putReferrer) throw new GantryError('configuration', 'the registry client cannot push referrers');
  const statement = buildSignStatement(digest, opts.annotations);
  let bundle: Buffer;
  let readBack: VerificationKey;
  if (opts.key) {
    bundle = buildKeyBundle(opts.key, statement);
    readBack = readBackKey(opts.key, undefined);
  } else {
    const json = await (opts.keylessBundle as NonNullable<SignImagesOptions['keylessBundle']>)(statement);
    const cert = parseDsseBundle(json).certificate;
    if (!cert)
      throw new GantryError('infrastructure', 'the keyless signer returned a bundle without a certificate');
    bundle = Buffer.from(JSON.stringify(json));
    readBack = readBackKey(undefined, pemCertificate(cert));
  }
  const manifest = buildBundleReferrerManifest({
    subject,
    bundle,
    predicateType: COSIGN_SIGN_PREDICATE_TYPE,
    created: (opts.now ?? (() => new Date()))(),
  });
  await Promise.all([EMPTY_CONFIG, bundle].map((blob) => opts.registry.putBlob(repo, blob)));
  const referrerDigest = await putReferrer({ ...repo, digest }, manifest, OCI_MANIFEST_MEDIA_TYPE);
  opts.logger?.info(
    `pushed signature bundle ${referrerDigest} (${BUNDLE_MEDIA_TYPE}) as a referrer of ${formatReference({ ...repo, digest })}`,
  );
  const check = await verifyBundleSignaturesOf(
    opts.registry,
    ref,
    digest,
    { keys: [readBack] },
    undefined,
    referrerDigest,
  );
  const ours = check.signatures[0];
  if (!ours) {
    throw new GantryError(
      'infrastructure',
      `the signature bundle ${referrerDigest} did not verify when read back as a referrer of ${formatReference({ ...repo, digest })}: ${check.problems.join('; ') || 'not found among the referrers'}`,
    );
  }
  return { image, digest, 'signature-ref': ours.signatureRef, pushed: true };
}

function pemCertificate(b64: string): string {
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

async function signDigest(
  opts: SignImagesOptions & { key: SigningKey | undefined },
  { image, ref, digest, existing }: SignTarget,
): Promise<SignedImage> {
  const repo: ImageReference = { domain: ref.domain, path: ref.path };
  const tagRef: ImageReference = { ...repo, tag: signatureTag(digest) };
  const payload = buildSimpleSigningPayload({
    repository: cosignRepositoryName(ref),
    digest,
    annotations: opts.annotations,
  });
  const payloadDigest = `sha256:${createHash('sha256').update(payload).digest('hex')}`;

  const existingLayers = existing ? parseSignatureManifest(existing.bytes).layers : [];
  // Same payload signed by this key already there? (ECDSA signatures differ each time, so compare
  // by verifying the stored signature with our public key, like cosign's dupe detector.)
  const dupe = existingLayers.find((l) => {
    const sig = l.annotations?.[SIGNATURE_ANNOTATION];
    return (
      l.mediaType === SIMPLE_SIGNING_MEDIA_TYPE &&
      l.digest === payloadDigest &&
      sig !== undefined &&
      opts.key !== undefined &&
      verifyBytes(opts.key, payload, Buffer.from(sig, 'base64'))
    );
  });
  let pushed = false;
  let signatureB64: string;
  let certificatePem: string | undefined;
  if (dupe && existing) {
    signatureB64 = dupe.annotations?.[SIGNATURE_ANNOTATION] ?? '';
    opts.logger?.info(
      `${formatReference({ ...repo, digest })} is already signed by this key; kept ${tagRef.tag}`,
    );
  } else {
    const annotations = opts.key
      ? { [SIGNATURE_ANNOTATION]: signBytes(opts.key, payload).toString('base64') }
      : await (opts.keyless as NonNullable<SignImagesOptions['keyless']>)(payload);
    signatureB64 = annotations[SIGNATURE_ANNOTATION] ?? '';
    certificatePem = annotations[CERTIFICATE_ANNOTATION];
    const built = buildSignatureManifest(existingLayers, [{ payload, annotations }]);
    await Promise.all([...built.newBlobs, built.config].map((blob) => opts.registry.putBlob(repo, blob)));
    await opts.registry.putManifest(repo, tagRef.tag, built.manifest, OCI_MANIFEST_MEDIA_TYPE);
    pushed = true;
    opts.logger?.info(
      `pushed signature ${tagRef.tag} for ${formatReference({ ...repo, digest })}` +
        (existingLayers.length ? ` (${existingLayers.length} earlier signature(s) kept)` : ''),
    );
  }

  // Read back what the registry now serves and verify our signature in it.
  const check = await verifySignaturesOf(
    opts.registry,
    ref,
    digest,
    { keys: [readBackKey(opts.key, certificatePem)] },
    undefined,
    signatureB64,
  );
  const ours = check.signatures.find((s) => s.signature === signatureB64);
  if (!check.verified || !ours) {
    throw new GantryError(
      'infrastructure',
      `the signature pushed to ${formatReference(tagRef)} did not verify when read back: ${check.problems.join('; ') || 'not found'}`,
    );
  }
  return { image, digest, 'signature-ref': ours.signatureRef, pushed };
}

/** The key the read-back check uses: ours, or the public key of the Fulcio certificate we got. */
function readBackKey(key: SigningKey | undefined, certificatePem: string | undefined): VerificationKey {
  if (key) return { publicKey: key.publicKey, algorithm: key.algorithm, source: key.source };
  if (!certificatePem) throw new GantryError('infrastructure', 'the keyless signer returned no certificate');
  return parsePublicKey(certificatePem, 'the signing certificate');
}
