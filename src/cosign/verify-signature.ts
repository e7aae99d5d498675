/**
 * The verdict on one cosign signature — a pure function of the signature layer (payload bytes +
 * cosign's layer annotations), the image's real digest and a policy. No I/O, so every path is
 * table-tested (containers/image's cosign fixtures, tampering cases) and k3s-deploy can call it
 * cheaply. It never returns on failure: anything not positively verified throws
 * GantryError('signature-invalid') with the reason.
 *
 * Checks, in cosign's order (sigstore/cosign pkg/cosign/verify.go): media type, the signature over
 * the payload bytes (with a key, or with a certificate chaining to trusted roots and matching an
 * identity), the Rekor SET when transparency-log keys are given, then the payload's claims:
 * `docker-manifest-digest` == the image digest, `docker-reference` per the reference policy, and
 * the required annotations in `optional`.
 */
import { X509Certificate as NodeX509, createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { X509Certificate as SigstoreX509, json as sigstoreJson } from '@sigstore/core';
import { GantryError, errorMessage } from '../core/errors.js';
import { parseReference, referenceName, type ImageReference } from '../oci/reference.js';
import { keyAlgorithm, parsePemBlocks, type VerificationKey } from './keys.js';
import {
  SIMPLE_SIGNING_MEDIA_TYPE,
  parseSimpleSigningPayload,
  type SimpleSigningPayload,
} from './payload.js';
import { decodeBase64Strict, verifyBytes } from './signature.js';

export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain';
export const BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';

/** Fulcio's OIDC issuer extensions: v1 holds the raw string, v2 a DER UTF8String. */
const OID_FULCIO_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const OID_FULCIO_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';

/** One entry of a cosign signature manifest: the layer's media type, blob and annotations. */
export interface SignatureLayer {
  mediaType: string;
  payload: Uint8Array;
  annotations: Readonly<Record<string, string>>;
}

/** Who may have signed, for certificate-based (keyless or PKI) signatures. */
export interface CertificateIdentity {
  /** Exact SAN (email, URI or DNS name), or a RegExp over them. */
  subject?: string | RegExp;
  /** Exact OIDC issuer (Fulcio extension), or a RegExp. */
  issuer?: string | RegExp;
  /** A DNS name that must also be among the SANs (cosign's --certificate-identity for PKI certs + hostname). */
  hostname?: string;
}

export interface CertificatePolicy {
  /** Trusted root certificates (PEM). */
  roots: string[];
  /** Extra intermediates (PEM), besides the signature's own chain annotation. */
  intermediates?: string[];
  /** At least one identity must match; empty = any certificate chaining to a root. */
  identities: CertificateIdentity[];
}

/**
 * How the payload's docker-reference is checked: `repository` — names the same repository as the
 * image (gantry's default); `exact` — containers/image's matchExact (both tagged or digested,
 * equal strings); `ignore` — cosign's own behaviour (its SIGNATURE_SPEC ignores the identity).
 */
export type ReferencePolicy =
  | { mode: 'repository'; image: ImageReference }
  | { mode: 'exact'; image: ImageReference }
  | { mode: 'ignore' };

export interface SignaturePolicy {
  keys?: VerificationKey[];
  certificate?: CertificatePolicy;
  /** Rekor public keys; when given, a valid SET (`dev.sigstore.cosign/bundle`) is required. */
  rekorKeys?: KeyObject[];
  reference?: ReferencePolicy;
  /** Each must equal (as a string) the payload's `optional[key]`. */
  annotations?: Readonly<Record<string, string>>;
  /** Time for certificate validity when there is no SET. Default: now. */
  now?: Date;
}

export interface VerifiedSignature {
  payload: SimpleSigningPayload;
  /** The key source or the certificate subject that verified. */
  signer: string;
  /** The base64 signature, to tell signatures apart. */
  signature: string;
}

function invalid(message: string, cause?: unknown): never {
  throw new GantryError('signature-invalid', message, cause === undefined ? {} : { cause });
}

interface RekorSetPayload {
  body: string;
  integratedTime: number;
  logIndex: number;
  logID: string;
}

/**
 * Checks a Rekor SignedEntryTimestamp: an ECDSA signature by the log over the canonical JSON of
 * {body, integratedTime, logID, logIndex}; then that the entry is about this signature (hashedrekord
 * with the payload's sha256 and the same signature). Returns the integrated time.
 */
function verifyRekorSet(
  bundleText: string | undefined,
  rekorKeys: KeyObject[],
  signatureB64: string,
  payloadSha256: string,
): Date {
  if (bundleText === undefined)
    invalid('no transparency log entry (dev.sigstore.cosign/bundle) on the signature');
  let bundle: { SignedEntryTimestamp?: string; Payload?: RekorSetPayload };
  try {
    bundle = JSON.parse(bundleText) as typeof bundle;
  } catch (e) {
    return invalid('the transparency log bundle is not JSON', e);
  }
  const p = bundle.Payload;
  const set = bundle.SignedEntryTimestamp ? decodeBase64Strict(bundle.SignedEntryTimestamp) : undefined;
  if (!p || !set || typeof p.body !== 'string' || typeof p.integratedTime !== 'number') {
    invalid('the transparency log bundle is incomplete');
  }
  const canonical = Buffer.from(
    sigstoreJson.canonicalize({
      body: p.body,
      integratedTime: p.integratedTime,
      logID: p.logID,
      logIndex: p.logIndex,
    }),
  );
  const signedByLog = rekorKeys.some((k) =>
    verifyBytes({ publicKey: k, algorithm: keyAlgorithm(k, 'rekor key') }, canonical, set),
  );
  if (!signedByLog) invalid('the transparency log SET does not verify with the trusted Rekor key');
  let entry: {
    kind?: string;
    spec?: { data?: { hash?: { value?: string } }; signature?: { content?: string } };
  };
  try {
    entry = JSON.parse(Buffer.from(p.body, 'base64').toString('utf8')) as typeof entry;
  } catch (e) {
    return invalid('the transparency log entry body is not JSON', e);
  }
  if (entry.kind === 'hashedrekord') {
    if (`sha256:${entry.spec?.data?.hash?.value ?? ''}` !== payloadSha256) {
      invalid('the transparency log entry is for another payload');
    }
    if (entry.spec?.signature?.content !== signatureB64)
      invalid('the transparency log entry is for another signature');
  } else if (entry.kind !== 'rekord') {
    invalid(`unsupported transparency log entry kind "${String(entry.kind)}"`);
  }
  return new Date(p.integratedTime * 1000);
}

function matches(want: string | RegExp | undefined, values: string[]): boolean {
  if (want === undefined) return true;
  return values.some((v) => (typeof want === 'string' ? v === want : want.test(v)));
}

/** SAN values from node's `subjectAltName` text ("email:a@b, DNS:h, URI:u"). */
function subjectAltNames(cert: NodeX509): string[] {
  const text = cert.subjectAltName ?? '';
  return text
    .split(/,\s*(?=[A-Za-z ]+:)/)
    .map((s) => s.replace(/^(email|DNS|URI|IP Address):/, '').trim())
    .filter(Boolean);
}

function oidcIssuer(pem: string): string | undefined {
  const cert = SigstoreX509.parse(pem);
  const v1 = cert.extension(OID_FULCIO_ISSUER_V1);
  if (v1) return v1.value.toString('utf8');
  const v2 = cert.extension(OID_FULCIO_ISSUER_V2);
  // a DER UTF8String: tag 0x0c, one length byte for the short issuer URLs Fulcio writes
  if (v2 && v2.value[0] === 0x0c) return v2.value.subarray(2).toString('utf8');
  return undefined;
}

function splitCertificates(pem: string): NodeX509[] {
  return parsePemBlocks(pem)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => new NodeX509(b.der));
}

/** Checks the leaf chains to a trusted root (each link signed by its issuer, valid at `at`). */
function verifyChain(leaf: NodeX509, chain: NodeX509[], policy: CertificatePolicy, at: Date): void {
  const roots = policy.roots.flatMap(splitCertificates);
  const pool = [...chain, ...(policy.intermediates ?? []).flatMap(splitCertificates)];
  const validAt = (c: NodeX509): boolean =>
    Date.parse(c.validFrom) <= at.getTime() && at.getTime() <= Date.parse(c.validTo);
  let current = leaf;
  for (let depth = 0; depth < 8; depth++) {
    if (!validAt(current))
      invalid(`certificate "${current.subject.replace(/\n/g, ', ')}" is not valid at ${at.toISOString()}`);
    const root = roots.find((r) => current.checkIssued(r) && current.verify(r.publicKey));
    if (root) {
      if (!validAt(root)) invalid('the trusted root certificate is not valid at signing time');
      return;
    }
    const next = pool.find(
      (c) => c !== current && c.ca && current.checkIssued(c) && current.verify(c.publicKey),
    );
    if (!next) invalid('the signing certificate does not chain to a trusted root');
    current = next;
  }
  invalid('the certificate chain is too long');
}

/**
 * Verifies one signature layer for an image digest. Returns what was verified; throws
 * GantryError('signature-invalid') otherwise.
 */
export function verifySignatureLayer(
  layer: SignatureLayer,
  imageDigest: string,
  policy: SignaturePolicy,
): VerifiedSignature {
  if (layer.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) {
    invalid(`layer media type is ${layer.mediaType}, not a cosign simple-signing signature`);
  }
  const signatureB64 = layer.annotations[SIGNATURE_ANNOTATION];
  if (signatureB64 === undefined) invalid(`the layer has no ${SIGNATURE_ANNOTATION} annotation`);
  const signature = decodeBase64Strict(signatureB64);
  if (!signature) invalid('the signature annotation is not base64');
  if (!policy.keys?.length && !policy.certificate) {
    throw new GantryError('configuration', 'no verification key or certificate identity was given');
  }

  const payloadSha256 = `sha256:${createHashHex(layer.payload)}`;
  let signedAt: Date | undefined;
  if (policy.rekorKeys?.length) {
    signedAt = verifyRekorSet(
      layer.annotations[BUNDLE_ANNOTATION],
      policy.rekorKeys,
      signatureB64,
      payloadSha256,
    );
  }

  let signer: string | undefined;
  if (policy.keys?.length) {
    signer = policy.keys.find((k) => verifyBytes(k, layer.payload, signature))?.source;
    if (!signer)
      invalid(`the signature does not verify with ${policy.keys.map((k) => k.source).join(' or ')}`);
  } else if (policy.certificate) {
    const certPem = layer.annotations[CERTIFICATE_ANNOTATION];
    if (!certPem) invalid('the signature carries no certificate');
    let leaf: NodeX509;
    try {
      const first = splitCertificates(certPem)[0];
      if (!first) throw new Error('no CERTIFICATE block');
      leaf = first;
    } catch (e) {
      return invalid(`the signature's certificate cannot be parsed: ${errorMessage(e)}`, e);
    }
    verifyChain(
      leaf,
      splitCertificates(layer.annotations[CHAIN_ANNOTATION] ?? ''),
      policy.certificate,
      signedAt ?? policy.now ?? new Date(),
    );
    const sans = subjectAltNames(leaf);
    const issuer = oidcIssuer(certPem);
    const ids = policy.certificate.identities;
    const ok =
      ids.length === 0 ||
      ids.some(
        (id) =>
          matches(id.subject, sans) &&
          matches(id.issuer, issuer === undefined ? [] : [issuer]) &&
          (id.hostname === undefined || sans.includes(id.hostname)),
      );
    if (!ok)
      invalid(
        `the certificate identity (${sans.join(', ') || 'no SAN'}; issuer ${issuer ?? 'none'}) is not the expected one`,
      );
    const publicKey = createPublicKey(leaf.publicKey.export({ format: 'pem', type: 'spki' }));
    if (
      !verifyBytes({ publicKey, algorithm: keyAlgorithm(publicKey, 'certificate') }, layer.payload, signature)
    ) {
      invalid('the signature does not verify with the certificate key');
    }
    signer = sans[0] ?? leaf.subject;
  }
  if (signer === undefined) return invalid('no verifier');

  const payload = parseSimpleSigningPayload(layer.payload);
  const signedDigest = payload.critical.image['docker-manifest-digest'];
  if (signedDigest !== imageDigest)
    invalid(`the signature is for ${signedDigest}, not for the image's digest ${imageDigest}`);
  checkReference(payload.critical.identity['docker-reference'], policy.reference);
  for (const [k, want] of Object.entries(policy.annotations ?? {})) {
    const got = payload.optional?.[k];
    const text = typeof got === 'string' ? got : got === undefined ? undefined : JSON.stringify(got);
    if (text !== want)
      invalid(`annotation ${k} is ${text === undefined ? 'missing' : `"${text}"`}, expected "${want}"`);
  }
  return { payload, signer, signature: signatureB64 };
}

function checkReference(signed: string, policy: ReferencePolicy | undefined): void {
  if (!policy || policy.mode === 'ignore') return;
  let ref: ImageReference;
  try {
    ref = parseReference(signed);
  } catch (e) {
    return invalid(`the payload's docker-reference "${signed}" is not an image reference`, e);
  }
  const repo = referenceName(policy.image);
  if (policy.mode === 'repository') {
    if (referenceName(ref) !== repo)
      invalid(`the signature is for repository ${referenceName(ref)}, not ${repo}`);
    return;
  }
  // containers/image matchExact: both sides must carry a tag or digest, and be identical
  const exact = (r: ImageReference): string | undefined =>
    r.digest ? `${referenceName(r)}@${r.digest}` : r.tag ? `${referenceName(r)}:${r.tag}` : undefined;
  const a = exact(ref);
  const b = exact(policy.image);
  if (a === undefined || b === undefined || a !== b)
    invalid(`the signed identity ${signed} does not match ${b ?? repo} exactly`);
}

function createHashHex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
