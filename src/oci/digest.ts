/**
 * Content digests (`<algorithm>:<hex>`), the identity of everything in a registry. Parsing follows
 * go-digest (the library behind the docker reference grammar) so error reasons match docker's;
 * computing and verifying use node:crypto. Registries may send `Docker-Content-Digest`, but
 * gantry always recomputes the digest of the bytes it received and compares.
 */
import { createHash } from 'node:crypto';
import { GantryError } from '../core/errors.js';

/** sha256 is what registries use; sha384/sha512 are registered by go-digest and the OCI image spec. */
export type DigestAlgorithm = 'sha256' | 'sha384' | 'sha512';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** The grammar of any digest, registered algorithm or not (go-digest `DigestRegexp`). */
export const DIGEST_PATTERN = '[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+';
const ANCHORED_DIGEST = new RegExp(`^${DIGEST_PATTERN}$`);

/** go-digest's error reasons, by the Go variable name that docker's tests use. */
export const DIGEST_ERRORS = {
  'digest.ErrDigestInvalidFormat': 'invalid checksum digest format',
  'digest.ErrDigestInvalidLength': 'invalid checksum digest length',
  'digest.ErrDigestUnsupported': 'unsupported digest algorithm',
} as const;
export type DigestErrorReason = keyof typeof DIGEST_ERRORS;

/** A digest string that failed validation; `reason` is go-digest's error variable. */
export class DigestError extends GantryError<'input'> {
  readonly reason: DigestErrorReason;
  constructor(reason: DigestErrorReason, digest: string) {
    super('input', DIGEST_ERRORS[reason], {
      hint: `got "${digest}"; a digest looks like sha256:<64 hex digits>`,
    });
    this.name = 'DigestError';
    this.reason = reason;
  }
}

export function isDigestAlgorithm(a: string): a is DigestAlgorithm {
  return Object.hasOwn(HEX_LENGTH, a);
}

/**
 * Returns the reason `s` is not a valid digest, or undefined when it is one. Same order of checks as
 * go-digest's `Digest.Validate`.
 */
export function digestProblem(s: string): DigestErrorReason | undefined {
  const i = s.indexOf(':');
  if (i <= 0 || i + 1 === s.length) return 'digest.ErrDigestInvalidFormat';
  const algorithm = s.slice(0, i);
  const encoded = s.slice(i + 1);
  if (!isDigestAlgorithm(algorithm)) {
    return ANCHORED_DIGEST.test(s) ? 'digest.ErrDigestUnsupported' : 'digest.ErrDigestInvalidFormat';
  }
  if (encoded.length !== HEX_LENGTH[algorithm]) return 'digest.ErrDigestInvalidLength';
  return /^[a-f0-9]+$/.test(encoded) ? undefined : 'digest.ErrDigestInvalidFormat';
}

/** Validates a digest string and returns it; throws DigestError (code `input`) otherwise. */
export function parseDigest(s: string): string {
  const problem = digestProblem(s);
  if (problem) throw new DigestError(problem, s);
  return s;
}

export function isDigest(s: string): boolean {
  return digestProblem(s) === undefined;
}

/** The digest of `bytes` (sha256 unless told otherwise). */
export function digestOf(bytes: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** True when `bytes` hash to `digest` (using the digest's own algorithm). */
export function matchesDigest(bytes: Uint8Array, digest: string): boolean {
  const algorithm = digest.slice(0, digest.indexOf(':'));
  if (!isDigestAlgorithm(algorithm)) return false;
  return digestOf(bytes, algorithm) === digest;
}

/** The hex part of a digest: `sha256:abc…` → `abc…`. */
export function digestHex(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1);
}
