/**
 * cosign's simple-signing payload ("cosign container image signature", sigstore/sigstore
 * `pkg/signature/payload`), byte-for-byte: cosign signs the output of Go's json.Marshal, so the
 * encoder here reproduces it (no whitespace, map keys sorted, `<`, `>`, `&`, U+2028 and U+2029
 * escaped as \u00XX) — a verifier checks the signature over the bytes it is given, but a payload we
 * build must be the one cosign would build so that signatures are interchangeable.
 */
import { GantryError } from '../core/errors.js';

export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';

/** The parsed payload. */
export interface SimpleSigningPayload {
  critical: {
    identity: { 'docker-reference': string };
    image: { 'docker-manifest-digest': string };
    type: string;
  };
  optional: Record<string, unknown> | null;
}

function sortValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortValue);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort(goStringLess)) out[k] = sortValue((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

// Go sorts map keys by their UTF-8 bytes; JS sorts by UTF-16 units. They differ only above U+FFFF.
function goStringLess(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Go's json.Marshal output for JSON-like data (maps sorted, HTML-safe escaping). */
export function goJsonMarshal(value: unknown): string {
  const text = JSON.stringify(sortValue(value));
  // These characters can only occur inside strings, so replacing them in the output is safe.
  return text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export interface PayloadOptions {
  /** The repository as cosign names it, e.g. `127.0.0.1:5000/app` or `index.docker.io/library/nginx`. */
  repository: string;
  /** `sha256:<hex>` of the manifest being signed. */
  digest: string;
  /** Into `optional` (cosign's `-a key=value`). Absent or empty → `null`, as cosign writes. */
  annotations?: Record<string, unknown> | undefined;
  /** cosign's `--sign-container-identity`: replaces the docker-reference. */
  claimedIdentity?: string;
}

/** The exact bytes cosign signs for an image. */
export function buildSimpleSigningPayload(opts: PayloadOptions): Buffer {
  const ann = opts.annotations && Object.keys(opts.annotations).length > 0 ? opts.annotations : null;
  const payload: SimpleSigningPayload = {
    critical: {
      identity: { 'docker-reference': opts.claimedIdentity ?? opts.repository },
      image: { 'docker-manifest-digest': opts.digest },
      type: SIMPLE_SIGNING_TYPE,
    },
    optional: ann,
  };
  return Buffer.from(goJsonMarshal(payload), 'utf8');
}

/** Parses a payload; anything that is not a cosign simple-signing payload is signature-invalid. */
export function parseSimpleSigningPayload(bytes: Uint8Array): SimpleSigningPayload {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw new GantryError('signature-invalid', 'the signed payload is not JSON', { cause: e });
  }
  const p = raw as Partial<SimpleSigningPayload> | null;
  const c = p?.critical;
  if (!c || typeof c !== 'object')
    throw new GantryError('signature-invalid', 'the signed payload has no "critical" section');
  if (c.type !== SIMPLE_SIGNING_TYPE) {
    throw new GantryError(
      'signature-invalid',
      `the signed payload has type "${String(c.type)}", not "${SIMPLE_SIGNING_TYPE}"`,
    );
  }
  const digest = c.image?.['docker-manifest-digest'];
  if (typeof digest !== 'string' || !/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(digest)) {
    throw new GantryError('signature-invalid', 'the signed payload has no valid docker-manifest-digest');
  }
  const ref = c.identity?.['docker-reference'];
  if (typeof ref !== 'string')
    throw new GantryError('signature-invalid', 'the signed payload has no docker-reference');
  const optional = p.optional === undefined || p.optional === null ? null : p.optional;
  if (optional !== null && (typeof optional !== 'object' || Array.isArray(optional))) {
    throw new GantryError('signature-invalid', 'the signed payload\'s "optional" is not an object');
  }
  return {
    critical: {
      identity: { 'docker-reference': ref },
      image: { 'docker-manifest-digest': digest },
      type: c.type,
    },
    optional,
  };
}
