/**
 * Sigstore bundles (the format cosign v3 stores as an OCI referrer, and `cosign attest
 * --new-bundle-format` writes): verified with sigstore-js's @sigstore/verify against a given
 * trusted root — no TUF, no network — for keyless (Fulcio certificate + Rekor entry + SCT) and
 * managed-key bundles alike. Any failure is GantryError('signature-invalid').
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial, type VerificationPolicy } from '@sigstore/verify';
import { ConfigurationError, GantryError, errorMessage } from '../core/errors.js';

export interface VerifyBundleOptions {
  /** The bundle JSON (text or parsed). */
  bundle: unknown;
  /** The signed artifact for message-signature bundles; DSSE bundles carry their payload. */
  artifact?: Uint8Array;
  /** A Sigstore trusted_root.json (parsed). */
  trustedRoot: unknown;
  /** Managed-key bundles: the public key that must have signed. */
  key?: KeyObject | string;
  /** Keyless: the certificate SAN (email or URI) and OIDC issuer that must match. */
  identity?: string;
  issuer?: string;
}

export interface VerifiedBundle {
  /** The certificate SAN, or "public key" for managed-key bundles. */
  signer: string;
  issuer: string | undefined;
}

/** Verifies a Sigstore bundle; throws signature-invalid with sigstore-js's reason. */
export function verifySigstoreBundle(opts: VerifyBundleOptions): VerifiedBundle {
  let root: TrustedRoot;
  try {
    root = TrustedRoot.fromJSON(opts.trustedRoot);
  } catch (e) {
    throw new ConfigurationError(`the trusted root is not a Sigstore trusted_root.json: ${errorMessage(e)}`, {
      cause: e,
    });
  }
  checkValidityStarts(opts.trustedRoot);
  let key: KeyObject | undefined;
  try {
    key = typeof opts.key === 'string' ? createPublicKey(opts.key) : opts.key;
  } catch (e) {
    throw new ConfigurationError(`the verification key is not a PEM public key: ${errorMessage(e)}`, {
      cause: e,
    });
  }
  let bundleJson: unknown = opts.bundle;
  if (typeof bundleJson === 'string') {
    try {
      bundleJson = JSON.parse(bundleJson);
    } catch (e) {
      throw new GantryError('signature-invalid', `the Sigstore bundle is not JSON: ${errorMessage(e)}`, {
        cause: e,
      });
    }
  }
  const trust = toTrustMaterial(
    root,
    key
      ? () => ({ publicKey: key, validFor: () => true })
      : (hint) => {
          throw new GantryError(
            'signature-invalid',
            `the bundle is signed by a public key (${hint}), but none was given`,
          );
        },
  );
  const policy: VerificationPolicy = {};
  if (opts.identity) policy.subjectAlternativeName = opts.identity;
  if (opts.issuer) policy.extensions = { issuer: opts.issuer };
  try {
    const bundle = bundleFromJSON(bundleJson);
    const dsse = bundle.content.$case === 'dsseEnvelope' ? bundle.content.dsseEnvelope : undefined;
    // A DSSE bundle carries its payload; the artifact must then be one of its in-toto subjects.
    if (dsse && opts.artifact) checkInTotoSubject(dsse.payload, opts.artifact);
    const entity = toSignedEntity(bundle, !dsse && opts.artifact ? Buffer.from(opts.artifact) : undefined);
    const signer = new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 1 }).verify(entity, policy);
    return {
      signer: signer.identity?.subjectAlternativeName ?? 'public key',
      issuer: signer.identity?.extensions?.issuer,
    };
  } catch (e) {
    if (e instanceof GantryError) throw e;
    throw new GantryError('signature-invalid', `the Sigstore bundle does not verify: ${errorMessage(e)}`, {
      cause: e,
    });
  }
}

function checkInTotoSubject(payload: Buffer, artifact: Uint8Array): void {
  const want = createHash('sha256').update(artifact).digest('hex');
  let subjects: { digest?: Record<string, string> }[] = [];
  try {
    subjects = (JSON.parse(payload.toString('utf8')) as { subject?: typeof subjects }).subject ?? [];
  } catch {
    /* not an in-toto statement: no subject can match */
  }
  if (!subjects.some((s) => s.digest?.sha256 === want)) {
    throw new GantryError(
      'signature-invalid',
      'the artifact is not a subject of the signed in-toto statement',
    );
  }
}

/**
 * The trusted root's keys must say from when they are valid; @sigstore/verify would treat a
 * missing start as unbounded, which sigstore-conformance requires rejecting.
 */
function checkValidityStarts(root: unknown): void {
  const r = root as {
    tlogs?: { publicKey?: { validFor?: { start?: string } } }[];
    ctlogs?: { publicKey?: { validFor?: { start?: string } } }[];
    certificateAuthorities?: { validFor?: { start?: string } }[];
    timestampAuthorities?: { validFor?: { start?: string } }[];
  };
  const missing = [
    ...(r.tlogs ?? []).map((t) => t.publicKey?.validFor),
    ...(r.ctlogs ?? []).map((t) => t.publicKey?.validFor),
    ...(r.certificateAuthorities ?? []).map((c) => c.validFor),
    ...(r.timestampAuthorities ?? []).map((c) => c.validFor),
  ].some((v) => !v?.start);
  if (missing)
    throw new ConfigurationError('the trusted root has a key or authority without a validity start');
}

/** What cosign needs from a trusted root for legacy keyless signatures. */
export interface TrustedRootMaterial {
  /** Fulcio root certificates (PEM), one per certificate authority. */
  roots: string[];
  /** Fulcio intermediates (PEM). */
  intermediates: string[];
  /** Rekor public keys. */
  rekorKeys: KeyObject[];
}

/** Fulcio CA certificates and Rekor keys out of a Sigstore trusted_root.json. */
export function trustedRootMaterial(root: unknown): TrustedRootMaterial {
  const r = root as {
    certificateAuthorities?: { certChain?: { certificates?: { rawBytes?: string }[] } }[];
    tlogs?: { publicKey?: { rawBytes?: string } }[];
  };
  const pem = (b64: string): string => `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
  const chains = (r.certificateAuthorities ?? []).map((ca) =>
    (ca.certChain?.certificates ?? []).map((c) => c.rawBytes ?? ''),
  );
  return {
    roots: chains.map((c) => pem(c[c.length - 1] ?? '')),
    intermediates: chains.flatMap((c) => c.slice(0, -1).map(pem)),
    rekorKeys: (r.tlogs ?? [])
      .map((t) => t.publicKey?.rawBytes)
      .filter((b): b is string => typeof b === 'string')
      .map((b) => createPublicKey({ key: Buffer.from(b, 'base64'), format: 'der', type: 'spki' })),
  };
}

/**
 * cosign's legacy layer annotations for a keyless message-signature bundle (what `cosign sign`
 * writes after Fulcio + Rekor): the signature, the Fulcio certificate (and chain when the bundle
 * has one), and the Rekor SET as `{SignedEntryTimestamp, Payload:{body, integratedTime, logIndex,
 * logID}}`.
 */
export function legacyAnnotationsFromBundle(bundleJson: unknown): Record<string, string> {
  const b = bundleJson as {
    messageSignature?: { signature?: string };
    verificationMaterial?: {
      certificate?: { rawBytes?: string };
      x509CertificateChain?: { certificates?: { rawBytes?: string }[] };
      tlogEntries?: {
        logIndex?: string;
        logId?: { keyId?: string };
        integratedTime?: string;
        inclusionPromise?: { signedEntryTimestamp?: string };
        canonicalizedBody?: string;
      }[];
    };
  };
  const sig = b.messageSignature?.signature;
  const vm = b.verificationMaterial;
  const certs = vm?.certificate?.rawBytes
    ? [vm.certificate.rawBytes]
    : (vm?.x509CertificateChain?.certificates ?? []).map((c) => c.rawBytes ?? '');
  if (!sig || certs.length === 0)
    throw new GantryError('signature-invalid', 'the bundle has no message signature with a certificate');
  const pem = (b64: string): string => {
    const lines = b64.match(/.{1,64}/g) ?? [];
    return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
  };
  const out: Record<string, string> = {
    'dev.cosignproject.cosign/signature': sig,
    'dev.sigstore.cosign/certificate': pem(certs[0] ?? ''),
  };
  if (certs.length > 1) out['dev.sigstore.cosign/chain'] = certs.slice(1).map(pem).join('');
  const entry = vm?.tlogEntries?.[0];
  if (entry?.inclusionPromise?.signedEntryTimestamp && entry.canonicalizedBody) {
    out['dev.sigstore.cosign/bundle'] = JSON.stringify({
      SignedEntryTimestamp: entry.inclusionPromise.signedEntryTimestamp,
      Payload: {
        body: entry.canonicalizedBody,
        integratedTime: Number(entry.integratedTime),
        logIndex: Number(entry.logIndex),
        logID: Buffer.from(entry.logId?.keyId ?? '', 'base64').toString('hex'),
      },
    });
  }
  return out;
}
