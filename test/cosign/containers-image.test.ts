/**
 * The 23 accept/reject cases of containers/image's cosign fixtures (signatures made by the real
 * cosign binary): key, Rekor SET, Fulcio and PKI certificates, identity policies, several
 * signatures per image.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isGantryError } from '../../src/core/errors.js';
import { parsePublicKey } from '../../src/cosign/keys.js';
import {
  BUNDLE_ANNOTATION,
  CHAIN_ANNOTATION,
  SIGNATURE_ANNOTATION,
  verifySignatureLayer,
  type SignatureLayer,
  type SignaturePolicy,
} from '../../src/cosign/verify-signature.js';
import { parseReference } from '../../src/oci/reference.js';
import { conformancePath, readConformance, readConformanceJson } from './conformance.js';

const DIR = 'cosign-signatures-containers-image';
interface Case {
  sig?: string;
  image_dir?: string;
  manifest?: string | null;
  keys?: string[];
  rekor_keys?: string[];
  mutate?: string;
  image_ref?: string;
  identity_policy?: string;
  fulcio_ca?: string;
  oidc_issuer?: string;
  subject_email?: string;
  subject_hostname?: string;
  ca_roots?: string;
  ca_intermediates?: string;
  expect: string;
  note?: string;
}
const { cases } = readConformanceJson<{ cases: Case[] }>(DIR, 'expectations.json');

/** containers/image's on-disk form: "\x00sigstore-json\n" + {mimeType, payload, annotations}. */
function readSignature(file: string): SignatureLayer {
  const raw = readFileSync(conformancePath(DIR, file));
  const json = JSON.parse(raw.subarray(raw.indexOf(0x0a) + 1).toString('utf8')) as {
    mimeType: string;
    payload: string;
    annotations: Record<string, string>;
  };
  return {
    mediaType: json.mimeType,
    payload: Buffer.from(json.payload, 'base64'),
    annotations: json.annotations,
  };
}

function mutate(layer: SignatureLayer, how: string | undefined): SignatureLayer {
  const a = { ...layer.annotations };
  switch (how) {
    case undefined:
      return layer;
    case 'remove dev.cosignproject.cosign/signature annotation':
      delete a[SIGNATURE_ANNOTATION];
      break;
    case "signature annotation = base64('invalid signature')":
      a[SIGNATURE_ANNOTATION] = Buffer.from('invalid signature').toString('base64');
      break;
    case 'remove dev.sigstore.cosign/bundle':
      delete a[BUNDLE_ANNOTATION];
      break;
    case "dev.sigstore.cosign/bundle = 'this is not a valid SET'":
      a[BUNDLE_ANNOTATION] = 'this is not a valid SET';
      break;
    case 'remove dev.sigstore.cosign/chain':
      delete a[CHAIN_ANNOTATION];
      break;
    default:
      throw new Error(`unknown mutation ${how}`);
  }
  return { ...layer, annotations: a };
}

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The image digest the signature is checked against; undefined when the image has no manifest. */
function imageDigest(c: Case, layer: SignatureLayer): string | undefined {
  if (c.manifest === null) return undefined;
  const manifest = c.manifest ?? (c.sig && `${c.sig.split('/')[0]}/manifest.json`);
  if (manifest && existsSync(conformancePath(DIR, manifest)))
    return sha256(readFileSync(conformancePath(DIR, manifest)));
  // no manifest next to the signature (unknown-cosign-key.signature): the digest it claims
  const p = JSON.parse(Buffer.from(layer.payload).toString()) as {
    critical: { image: { 'docker-manifest-digest': string } };
  };
  return p.critical.image['docker-manifest-digest'];
}

function policyFor(c: Case, referenceMode: 'exact' | 'repository' = 'exact'): SignaturePolicy {
  const policy: SignaturePolicy = {};
  if (c.keys) policy.keys = c.keys.map((k) => parsePublicKey(readConformance(DIR, k), k));
  if (c.rekor_keys) policy.rekorKeys = c.rekor_keys.map((k) => createPublicKey(readConformance(DIR, k)));
  if (c.fulcio_ca) {
    policy.certificate = {
      roots: [readConformance(DIR, c.fulcio_ca)],
      identities: [{ subject: c.subject_email, issuer: c.oidc_issuer }],
    };
  }
  if (c.ca_roots) {
    policy.certificate = {
      roots: [readConformance(DIR, c.ca_roots)],
      intermediates: c.ca_intermediates ? [readConformance(DIR, c.ca_intermediates)] : [],
      identities: [{ subject: c.subject_email, hostname: c.subject_hostname }],
    };
  }
  if (c.image_ref && c.identity_policy === 'matchExact') {
    policy.reference = { mode: referenceMode, image: parseReference(c.image_ref) };
  }
  return policy;
}

/** Accepts when the signature verifies; returns the rejection reason otherwise. */
function evaluate(c: Case, layer: SignatureLayer, policy = policyFor(c)): string | 'accept' {
  const digest = imageDigest(c, layer);
  if (digest === undefined) return 'image manifest missing';
  try {
    verifySignatureLayer(layer, digest, policy);
    return 'accept';
  } catch (e) {
    if (!isGantryError(e, 'signature-invalid')) throw e;
    return e.message;
  }
}

/** Why each rejection case must fail (so that a case cannot pass for an unrelated reason). */
const REJECTION_REASONS: Record<number, RegExp> = {
  3: /does not verify with cosign2\.pub/,
  4: /has no dev\.cosignproject\.cosign\/signature annotation/,
  5: /does not verify with cosign\.pub/,
  6: /does not verify with cosign\.pub/,
  7: /is for sha256:634a8f.*not for the image's digest sha256:d9dcaf/,
  8: /not for the image's digest/,
  9: /image manifest missing/,
  11: /does not match 192\.168\.64\.2:5000\/skopeo-signed:othertag exactly/,
  12: /does not match/,
  14: /SET does not verify/,
  15: /no transparency log entry/,
  16: /bundle is not JSON/,
  18: /certificate identity \(mitr@redhat\.com; issuer https:\/\/github\.com\/login\/oauth\) is not the expected one/,
  19: /does not chain to a trusted root/,
};

describe('containers/image cosign fixtures (expectations.json)', () => {
  it('has all 23 cases', () => {
    expect(cases).toHaveLength(23);
  });

  cases.forEach((c, i) => {
    const title = `#${i + 1} ${c.sig ?? c.image_dir} ${c.mutate ?? ''} ${c.note ?? ''} → ${c.expect}`;
    if (c.sig) {
      it(title, () => {
        const verdict = evaluate(c, mutate(readSignature(c.sig ?? ''), c.mutate));
        if (c.expect === 'accept') expect(verdict).toBe('accept');
        else expect(verdict).toMatch(REJECTION_REASONS[i + 1] ?? /^$/);
      });
    } else {
      it(title, () => {
        const dir = c.image_dir ?? '';
        const sigs = readdirSync(conformancePath(DIR, dir)).filter((f) => f.startsWith('signature-'));
        const accepted = sigs.filter(
          (f) => evaluate({ ...c, sig: `${dir}/${f}` }, readSignature(`${dir}/${f}`)) === 'accept',
        );
        const m = /\((\d+) valid signatures\)/.exec(c.expect);
        if (c.expect.startsWith('image allowed')) {
          expect(accepted.length).toBe(m ? Number(m[1]) : 1);
        } else {
          expect(accepted).toEqual([]);
        }
      });
    }
  });

  it("#12 is rejected only by containers/image's matchExact: gantry's repository check and cosign accept it", () => {
    const c = cases[11];
    if (!c?.sig) throw new Error('case 12 missing');
    const layer = readSignature(c.sig);
    expect(evaluate(c, layer, policyFor(c, 'exact'))).toMatch(/does not match/);
    expect(evaluate(c, layer, policyFor(c, 'repository'))).toBe('accept');
    const other = {
      ...policyFor(c, 'repository'),
      reference: { mode: 'repository' as const, image: parseReference('192.168.64.2:5000/other') },
    };
    expect(evaluate(c, layer, other)).toMatch(/is for repository/);
  });

  it('checks required annotations against the payload', () => {
    const c = cases[0];
    if (!c?.sig) throw new Error('case 1 missing');
    const layer = readSignature(c.sig);
    expect(evaluate(c, layer, { ...policyFor(c), annotations: { env: 'prod' } })).toMatch(
      /annotation env is missing/,
    );
  });
});
