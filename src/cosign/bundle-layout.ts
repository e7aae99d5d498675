/**
 * Signatures in the Sigstore bundle format, stored as OCI referrers of the image — the layout cosign
 * v3 writes for `cosign sign` (and cosign 2.x for `cosign attest --new-bundle-format`); see
 * sigstore/cosign specs/BUNDLE_SPEC.md and `signDigestBundle` in cmd/cosign/cli/sign/sign.go.
 *
 * - The signed thing is an in-toto Statement v1 whose one subject is the image digest (the payload
 *   annotations go into that subject's `annotations`), predicate type
 *   `https://sigstore.dev/cosign/sign/v1`, predicate `{}`; it travels as a DSSE envelope
 *   (`application/vnd.in-toto+json`) inside a v0.3 bundle. A key-based bundle names its key only by
 *   `verificationMaterial.publicKey.hint` = base64(sha256(SPKI DER)), as cosign writes it.
 * - The referrer is an OCI image manifest: config = the empty `{}` blob (media type
 *   `application/vnd.oci.empty.v1+json`), one layer = the bundle, `subject` = the image,
 *   `artifactType` = the bundle media type, annotations `dev.sigstore.bundle.content` and
 *   `dev.sigstore.bundle.predicateType` (+ `org.opencontainers.image.created`).
 *
 * Everything here is pure: building, and verifying a bundle with a key for an image digest.
 */
import { createHash } from 'node:crypto';
import { GantryError } from '../core/errors.js';
import type { SigningKey, VerificationKey } from './keys.js';
import { OCI_MANIFEST_MEDIA_TYPE } from './layout.js';
import { decodeBase64Strict, signBytes, verifyBytes } from './signature.js';

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const EMPTY_CONFIG_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';
export const EMPTY_CONFIG = Buffer.from('{}');
export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** The predicate type of an image signature (cosign's types.CosignSignPredicateType). */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';
export const BUNDLE_CONTENT_ANNOTATION = 'dev.sigstore.bundle.content';
export const BUNDLE_PREDICATE_TYPE_ANNOTATION = 'dev.sigstore.bundle.predicateType';
const STATEMENT_TYPES = new Set(['https://in-toto.io/Statement/v1', 'https://in-toto.io/Statement/v0.1']);

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function invalid(message: string): never {
  throw new GantryError('signature-invalid', message);
}

/** DSSE's pre-authentication encoding: what a DSSE signature is over. */
export function dssePae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `),
    type,
    Buffer.from(` ${payload.length} `),
    payload,
  ]);
}

/** cosign's key hint: base64 of sha256 over the public key's SPKI DER. */
export function publicKeyHint(key: Pick<VerificationKey, 'publicKey'>): string {
  const der = key.publicKey.export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(der).digest('base64');
}

/** The in-toto statement cosign v3 signs for an image (field order as protojson writes it). */
export function buildSignStatement(digest: string, annotations: Record<string, string> = {}): Buffer {
  const m = /^([a-z0-9]+):([a-f0-9]+)$/.exec(digest);
  if (!m?.[1] || !m[2]) throw new GantryError('input', `"${digest}" is not a digest (algorithm:hex)`);
  const subject: Record<string, unknown> = { digest: { [m[1]]: m[2] } };
  if (Object.keys(annotations).length) subject.annotations = annotations;
  return Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [subject],
      predicateType: COSIGN_SIGN_PREDICATE_TYPE,
      predicate: {},
    }),
  );
}

/** A key-based v0.3 bundle with a DSSE envelope over `statement`, as cosign writes it. */
export function buildKeyBundle(key: SigningKey, statement: Buffer): Buffer {
  const sig = signBytes(key, dssePae(INTOTO_PAYLOAD_TYPE, statement));
  return Buffer.from(
    JSON.stringify({
      mediaType: BUNDLE_MEDIA_TYPE,
      verificationMaterial: { publicKey: { hint: publicKeyHint(key) } },
      dsseEnvelope: {
        payload: statement.toString('base64'),
        payloadType: INTOTO_PAYLOAD_TYPE,
        signatures: [{ sig: sig.toString('base64') }],
      },
    }),
  );
}

export interface SubjectDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** The referrer manifest for one bundle (the config is EMPTY_CONFIG, the layer the bundle). */
export function buildBundleReferrerManifest(opts: {
  subject: SubjectDescriptor;
  bundle: Buffer;
  predicateType: string;
  created: Date;
}): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      // cosign also puts artifactType on the config descriptor; kept for byte-level likeness
      config: {
        mediaType: EMPTY_CONFIG_MEDIA_TYPE,
        size: EMPTY_CONFIG.length,
        digest: sha256(EMPTY_CONFIG),
        artifactType: BUNDLE_MEDIA_TYPE,
      },
      layers: [{ mediaType: BUNDLE_MEDIA_TYPE, size: opts.bundle.length, digest: sha256(opts.bundle) }],
      annotations: {
        [BUNDLE_CONTENT_ANNOTATION]: 'dsse-envelope',
        [BUNDLE_PREDICATE_TYPE_ANNOTATION]: opts.predicateType,
        'org.opencontainers.image.created': opts.created.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
      subject: opts.subject,
      artifactType: BUNDLE_MEDIA_TYPE,
    }),
  );
}

export interface BundleReferrerManifest {
  artifactType: string | undefined;
  /** The bundle layer. */
  layer: { mediaType: string; digest: string; size: number };
  subjectDigest: string | undefined;
  annotations: Record<string, string>;
}

/** Reads a referrer manifest that should carry a bundle; anything else is signature-invalid. */
export function parseBundleReferrerManifest(bytes: Uint8Array): BundleReferrerManifest {
  let m: {
    artifactType?: string;
    config?: { mediaType?: string; artifactType?: string };
    layers?: { mediaType?: string; digest?: string; size?: number }[];
    subject?: { digest?: string };
    annotations?: Record<string, string>;
  };
  try {
    m = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof m;
  } catch {
    invalid('the referrer manifest is not JSON');
  }
  const artifactType = m.artifactType ?? m.config?.artifactType;
  const layer = m.layers?.find((l) => l.mediaType === BUNDLE_MEDIA_TYPE);
  if (!layer || typeof layer.digest !== 'string' || typeof layer.size !== 'number')
    invalid(`the referrer has no ${BUNDLE_MEDIA_TYPE} layer`);
  return {
    artifactType,
    layer: { mediaType: BUNDLE_MEDIA_TYPE, digest: layer.digest, size: layer.size },
    subjectDigest: m.subject?.digest,
    annotations: m.annotations ?? {},
  };
}

/** What a verified bundle says about the image. */
export interface BundleClaims {
  predicateType: string;
  /** The annotations of the subject that matched (cosign v3 puts `-a k=v` there). */
  annotations: Record<string, unknown>;
  /** base64 of the DSSE signature (tells bundles apart). */
  signature: string;
}

interface ParsedDsseBundle {
  hint: string | undefined;
  /** base64 DER of the signing certificate (keyless bundles). */
  certificate: string | undefined;
  payload: Buffer;
  payloadType: string;
  signatures: Buffer[];
  signatureB64: string;
}

/** The DSSE envelope of a bundle (message-signature bundles are not image signatures). */
export function parseDsseBundle(bundle: unknown): ParsedDsseBundle {
  const b = bundle as {
    mediaType?: string;
    verificationMaterial?: {
      publicKey?: { hint?: string };
      certificate?: { rawBytes?: string };
      x509CertificateChain?: { certificates?: { rawBytes?: string }[] };
    };
    dsseEnvelope?: { payload?: string; payloadType?: string; signatures?: { sig?: string }[] };
    messageSignature?: unknown;
  };
  if (typeof b !== 'object' || b === null) invalid('the bundle is not a JSON object');
  if (!b.mediaType?.startsWith('application/vnd.dev.sigstore.bundle'))
    invalid(`the bundle media type is ${String(b.mediaType)}`);
  const env = b.dsseEnvelope;
  if (!env) {
    invalid(
      b.messageSignature
        ? 'the bundle holds a message signature, not a DSSE statement about the image'
        : 'the bundle has no DSSE envelope',
    );
  }
  const payload = env.payload !== undefined ? decodeBase64Strict(env.payload) : undefined;
  if (!payload || typeof env.payloadType !== 'string') invalid('the DSSE envelope has no payload');
  const sigs = (env.signatures ?? []).map((s) => (s.sig ? decodeBase64Strict(s.sig) : undefined));
  if (sigs.length === 0 || sigs.some((s) => !s)) invalid('the DSSE envelope has no valid signature');
  return {
    hint: b.verificationMaterial?.publicKey?.hint,
    certificate:
      b.verificationMaterial?.certificate?.rawBytes ??
      b.verificationMaterial?.x509CertificateChain?.certificates?.[0]?.rawBytes,
    payload,
    payloadType: env.payloadType,
    signatures: sigs as Buffer[],
    signatureB64: env.signatures?.[0]?.sig ?? '',
  };
}

/**
 * The statement's claims about the image: an in-toto statement with a subject whose digest is
 * the image's. Throws signature-invalid otherwise.
 */
export function statementClaims(
  payloadType: string,
  payload: Buffer,
  imageDigest: string,
): Omit<BundleClaims, 'signature'> {
  if (payloadType !== INTOTO_PAYLOAD_TYPE) invalid(`the DSSE payload type is ${payloadType}, not in-toto`);
  let st: {
    _type?: string;
    predicateType?: string;
    subject?: { digest?: Record<string, string>; annotations?: Record<string, unknown> }[];
  };
  try {
    st = JSON.parse(payload.toString('utf8')) as typeof st;
  } catch {
    invalid('the signed statement is not JSON');
  }
  if (!STATEMENT_TYPES.has(String(st._type))) invalid(`the signed payload is not an in-toto statement`);
  const [alg, hex] = imageDigest.split(':');
  const subject = (st.subject ?? []).find((s) => alg && hex && s.digest?.[alg] === hex);
  if (!subject) {
    const got = (st.subject ?? []).map((s) => Object.entries(s.digest ?? {}).map(([a, h]) => `${a}:${h}`));
    invalid(`the signed statement is for ${got.flat().join(', ') || 'no subject'}, not for ${imageDigest}`);
  }
  if (typeof st.predicateType !== 'string') invalid('the signed statement has no predicate type');
  return { predicateType: st.predicateType, annotations: subject.annotations ?? {} };
}

/**
 * Verifies a key-based DSSE bundle for an image digest: some DSSE signature must verify with one
 * of `keys` over PAE(payloadType, payload), then the statement must name the image.
 * Returns the claims and which key verified.
 */
export function verifyKeyBundle(
  bundle: unknown,
  imageDigest: string,
  keys: readonly VerificationKey[],
): BundleClaims & { signer: string } {
  if (keys.length === 0) throw new GantryError('configuration', 'no verification key was given');
  // A certificate in the bundle does not matter here: the signature must verify with a given key.
  const b = parseDsseBundle(bundle);
  const pae = dssePae(b.payloadType, b.payload);
  const signer = keys.find((k) => b.signatures.some((s) => verifyBytes(k, pae, s)))?.source;
  if (!signer)
    invalid(`the bundle's signature does not verify with ${keys.map((k) => k.source).join(' or ')}`);
  return { ...statementClaims(b.payloadType, b.payload, imageDigest), signature: b.signatureB64, signer };
}
