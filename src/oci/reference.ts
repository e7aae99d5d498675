/**
 * Image references in docker's grammar (github.com/distribution/reference), reproduced exactly:
 * the same regular expressions, the same normalization (`ubuntu` → `docker.io/library/ubuntu`),
 * the same familiar form, the same error reasons. Gantry's own entry point is `parseReference`
 * (docker's `ParseNormalizedNamed`: what `docker pull` accepts); the other parsers exist because
 * each has its users (`parseDockerRef` adds `:latest`, `parseExact` does not normalize).
 *
 * Implementation-defined choice: digests with the `sha512` (and `sha384`) algorithm are accepted.
 * The OCI image spec registers sha512, and go-digest parses it whenever the algorithm is linked in
 * (distribution/reference's own `validname@sha512:…` test row only fails with a go-digest build
 * that does not import crypto/sha512). Unknown algorithms are still "unsupported digest algorithm".
 */
import { GantryError } from '../core/errors.js';
import { DIGEST_ERRORS, digestProblem, type DigestErrorReason } from './digest.js';

/** A named reference: repository (domain + path) with an optional tag and/or digest. */
export interface ImageReference {
  /** Registry host[:port]. Empty only for references from `parseExact` that named none. */
  readonly domain: string;
  /** Repository path within the registry, e.g. `library/ubuntu`. */
  readonly path: string;
  readonly tag?: string | undefined;
  readonly digest?: string | undefined;
}

/** A bare digest (`sha256:…`), which `parseAnyReference` accepts where a name is optional. */
export interface DigestReference {
  readonly digest: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
export const NAME_TOTAL_LENGTH_MAX = 255;

// --- the grammar (distribution/reference regexp.go) ---------------------------------------------
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const optionalPort = '(?::[0-9]+)?';
const tagPattern = '[\\w][\\w.-]{0,127}';
const digestPattern = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = `${host}${optionalPort}`;
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePattern = `(?:${domainAndPort}/)?${remoteName}`;

/** `host[:port]` alone (docker's anchored domainAndPort). */
export const DOMAIN_REGEXP = new RegExp(`^${domainAndPort}$`);
/** A full name; groups: 1 domain (may be undefined), 2 remote path. */
export const ANCHORED_NAME_REGEXP = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
/** A whole reference; groups: 1 name, 2 tag, 3 digest. */
export const REFERENCE_REGEXP = new RegExp(`^(${namePattern})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`);
/** 64 lowercase hex digits: an image ID, never a repository name. */
export const ANCHORED_IDENTIFIER_REGEXP = /^([a-f0-9]{64})$/;
const ANCHORED_TAG_REGEXP = new RegExp(`^${tagPattern}$`);
const ANCHORED_DIGEST_REGEXP = new RegExp(`^${digestPattern}$`);

// --- errors ---------------------------------------------------------------------------------------
const REFERENCE_ERRORS = {
  ErrReferenceInvalidFormat: 'invalid reference format',
  ErrTagInvalidFormat: 'invalid tag format',
  ErrDigestInvalidFormat: 'invalid digest format',
  ErrNameContainsUppercase: 'repository name must be lowercase',
  ErrNameEmpty: 'repository name must have at least one component',
  ErrNameTooLong: `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
  ErrNameNotCanonical: 'repository name must be canonical',
} as const;

const REASON_TEXT: Record<ReferenceErrorReason, string> = {
  ...REFERENCE_ERRORS,
  ...DIGEST_ERRORS,
  ErrNameIsImageId: 'cannot specify 64-byte hexadecimal strings',
};

/**
 * Why a reference is invalid: the Go error variable of distribution/reference or go-digest, or
 * `ErrNameIsImageId` for the 64-hex-digit name docker refuses (docker reports it with fmt.Errorf).
 */
export type ReferenceErrorReason = keyof typeof REFERENCE_ERRORS | DigestErrorReason | 'ErrNameIsImageId';

/** An invalid image reference (code `input`, exit 2). `detail` is docker's exact error text. */
export class ReferenceError extends GantryError<'input'> {
  readonly reason: ReferenceErrorReason;
  readonly detail: string;
  readonly reference: string;
  constructor(reason: ReferenceErrorReason, reference: string, detail?: string) {
    const message = detail ?? REASON_TEXT[reason];
    super('input', `invalid image reference "${reference}": ${message}`, {
      hint: 'a reference looks like [registry[:port]/]repository[:tag][@sha256:<64 hex>], repository in lowercase',
    });
    this.name = 'ReferenceError';
    this.reason = reason;
    this.detail = message;
    this.reference = reference;
  }
}

// --- formatting -----------------------------------------------------------------------------------
export function isNamed(r: ImageReference | DigestReference): r is ImageReference {
  return 'path' in r;
}

/** `domain/path` (or just `path` when there is no domain). */
export function referenceName(r: ImageReference): string {
  return r.domain ? `${r.domain}/${r.path}` : r.path;
}

/** The full string form: `name[:tag][@digest]`; a bare digest for a DigestReference. */
export function formatReference(r: ImageReference | DigestReference): string {
  if (!isNamed(r)) return r.digest;
  return `${referenceName(r)}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** The short name docker prints: no `docker.io/`, no `library/` for official images. */
export function familiarName(r: ImageReference): string {
  if (r.domain !== DEFAULT_DOMAIN) return referenceName(r);
  if (r.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = r.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return r.path;
}

/** The familiar form of the whole reference, e.g. `ubuntu:22.04`. */
export function familiarString(r: ImageReference | DigestReference): string {
  if (!isNamed(r)) return r.digest;
  return `${familiarName(r)}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

// --- parsing --------------------------------------------------------------------------------------
function named(domain: string, path: string, tag?: string, digest?: string): ImageReference {
  const r: { domain: string; path: string; tag?: string; digest?: string } = { domain, path };
  if (tag) r.tag = tag;
  if (digest) r.digest = digest;
  return r;
}

/**
 * docker's `Parse`: the grammar only, no normalization (`ubuntu` stays `ubuntu`, domain empty).
 */
export function parseExact(s: string): ImageReference {
  const m = REFERENCE_REGEXP.exec(s);
  if (!m) {
    if (s === '') throw new ReferenceError('ErrNameEmpty', s);
    if (REFERENCE_REGEXP.test(s.toLowerCase())) throw new ReferenceError('ErrNameContainsUppercase', s);
    throw new ReferenceError('ErrReferenceInvalidFormat', s);
  }
  const nameMatch = ANCHORED_NAME_REGEXP.exec(m[1] ?? '');
  const domain = nameMatch?.[1] ?? '';
  const path = nameMatch?.[2] ?? m[1] ?? '';
  if (path.length > NAME_TOTAL_LENGTH_MAX) throw new ReferenceError('ErrNameTooLong', s);
  const digest = m[3];
  if (digest) {
    const problem = digestProblem(digest);
    if (problem) throw new ReferenceError(problem, s);
  }
  return named(domain, path, m[2], digest);
}

/** docker's splitDockerDomain: which part of a familiar name is the registry. */
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  let domain: string;
  let remainder: string;
  if (slash === -1) {
    return { domain: DEFAULT_DOMAIN, remainder: OFFICIAL_REPO_PREFIX + name };
  }
  const first = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  if (first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first) {
    domain = first === LEGACY_DEFAULT_DOMAIN ? DEFAULT_DOMAIN : first;
    remainder = rest;
  } else {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  }
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/**
 * docker's `ParseNormalizedNamed`: accepts familiar names and fills in `docker.io` and `library/`.
 * Throws ReferenceError (code `input`) with docker's reason.
 */
export function parseNormalized(s: string): ImageReference {
  if (ANCHORED_IDENTIFIER_REGEXP.test(s)) {
    throw new ReferenceError(
      'ErrNameIsImageId',
      s,
      `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`,
    );
  }
  const { domain, remainder } = splitDockerDomain(s);
  const colon = remainder.indexOf(':');
  const remote = colon === -1 ? remainder : remainder.slice(0, colon);
  if (remote.toLowerCase() !== remote) {
    throw new ReferenceError(
      'ErrNameContainsUppercase',
      s,
      `invalid reference format: repository name (${remote}) must be lowercase`,
    );
  }
  try {
    return parseExact(`${domain}/${remainder}`);
  } catch (e) {
    // report the user's input, not our expansion of it
    if (e instanceof ReferenceError) throw new ReferenceError(e.reason, s, e.detail);
    throw e;
  }
}

/** Gantry's reference parser: docker's normalized form (what `docker pull` accepts). */
export function parseReference(s: string): ImageReference {
  return parseNormalized(s.trim() === s ? s : s.trim());
}

/** docker's `ParseDockerRef`: normalized, `:latest` when neither tag nor digest, tag dropped next to a digest. */
export function parseDockerRef(s: string): ImageReference {
  const r = parseNormalized(s);
  if (r.digest) return named(r.domain, r.path, undefined, r.digest);
  return tagNameOnly(r);
}

/** docker's `ParseAnyReference`: a bare image ID or digest becomes a DigestReference. */
export function parseAnyReference(s: string): ImageReference | DigestReference {
  if (ANCHORED_IDENTIFIER_REGEXP.test(s)) return { digest: `sha256:${s}` };
  if (digestProblem(s) === undefined) return { digest: s };
  return parseNormalized(s);
}

/** docker's `ParseNamed`: only the canonical, fully-qualified form is accepted. */
export function parseCanonical(s: string): ImageReference {
  const r = parseNormalized(s);
  if (formatReference(r) !== s) throw new ReferenceError('ErrNameNotCanonical', s);
  return r;
}

/** docker's `WithName`: a repository name (no tag, no digest). */
export function withName(name: string): ImageReference {
  const m = ANCHORED_NAME_REGEXP.exec(name);
  if (!m) throw new ReferenceError('ErrReferenceInvalidFormat', name);
  const path = m[2] ?? '';
  if (path.length > NAME_TOTAL_LENGTH_MAX) throw new ReferenceError('ErrNameTooLong', name);
  return named(m[1] ?? '', path);
}

/** The same repository with `tag` (any digest is kept, as docker's WithTag does). */
export function withTag(r: ImageReference, tag: string): ImageReference {
  if (!ANCHORED_TAG_REGEXP.test(tag)) throw new ReferenceError('ErrTagInvalidFormat', tag);
  return named(r.domain, r.path, tag, r.digest);
}

/** The same repository pinned to `digest` (any tag is kept, as docker's WithDigest does). */
export function withDigest(r: ImageReference, digest: string): ImageReference {
  if (!ANCHORED_DIGEST_REGEXP.test(digest)) throw new ReferenceError('ErrDigestInvalidFormat', digest);
  return named(r.domain, r.path, r.tag, digest);
}

/** The repository alone: tag and digest removed. */
export function trimNamed(r: ImageReference): ImageReference {
  return named(r.domain, r.path);
}

/** Adds `:latest` when the reference has neither tag nor digest. */
export function tagNameOnly(r: ImageReference): ImageReference {
  return r.tag || r.digest ? r : named(r.domain, r.path, 'latest');
}

/** Go's path.Match as a RegExp: `*` and `?` never cross `/`, `[…]` classes with ranges and `^`. */
function globToRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRegExp(pattern[++i] ?? '');
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) throw new GantryError('input', `bad pattern "${pattern}": unterminated [`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = '^' + cls.slice(1).replace(/[\]\\]/g, '\\$&');
      else cls = cls.replace(/[\]\\^]/g, '\\$&');
      re += `(?!/)[${cls}]`;
      i = end;
    } else re += escapeRegExp(c);
  }
  return new RegExp(re + '$');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** docker's `FamiliarMatch`: a glob against the familiar string, then against the familiar name. */
export function familiarMatch(pattern: string, r: ImageReference | DigestReference): boolean {
  const re = globToRegExp(pattern);
  if (re.test(familiarString(r))) return true;
  return isNamed(r) && re.test(familiarName(r));
}
