/**
 * Tag and label rules: pure functions of a GitContext, in the spirit of docker/metadata-action but
 * with safer defaults. Every build is tagged with the full commit SHA and `sha-<7>` (immutable
 * names a deploy can trace back); a branch push adds the branch name; a version tag adds
 * `1.2.3`, `1.2` and `1` (not for pre-releases, and no bare `0` for 0.x, whose minor releases may
 * break); `latest` only when asked for; extra raw tags last. Labels are the OCI annotation keys
 * (https://github.com/opencontainers/image-spec/blob/main/annotations.md).
 */
import { ConfigurationError } from '../core/errors.js';
import type { GitContext } from './git-context.js';

export interface TagRuleOptions {
  /** Add `latest` (never implied). */
  latest?: boolean;
  /** Raw extra tags, validated. */
  extra?: readonly string[];
}

/** A docker tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** A ref name made into a valid tag: `feature/Login` → `feature-Login`; leading `.`/`-` dropped. */
export function sanitizeTag(name: string): string {
  const t = name
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 128);
  return t;
}

const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$/;

/** Tags for a version tag name, or undefined when it is not semver. */
export function semverTags(tagName: string): string[] | undefined {
  const m = SEMVER.exec(tagName);
  if (!m) return undefined;
  const [, major, minor, patch, pre] = m;
  const full = `${major}.${minor}.${patch}${pre ? `-${pre}` : ''}`;
  if (pre) return [sanitizeTag(full)];
  const tags = [full, `${major}.${minor}`];
  if (major !== '0') tags.push(String(major));
  return tags;
}

export type RefKind =
  | { kind: 'branch'; name: string }
  | { kind: 'tag'; name: string }
  | { kind: 'pull'; number: string }
  | { kind: 'other' };

export function classifyRef(ref: string | undefined): RefKind {
  if (!ref) return { kind: 'other' };
  if (ref.startsWith('refs/heads/')) return { kind: 'branch', name: ref.slice('refs/heads/'.length) };
  if (ref.startsWith('refs/tags/')) return { kind: 'tag', name: ref.slice('refs/tags/'.length) };
  const pr = /^refs\/pull\/(\d+)\//.exec(ref);
  if (pr?.[1]) return { kind: 'pull', number: pr[1] };
  return { kind: 'other' };
}

/** Pull requests (from forks, too) never push by default: their code is not reviewed yet. */
export function defaultPush(git: GitContext): boolean {
  return !['pull_request', 'pull_request_target'].includes(git.eventName ?? '');
}

/** The tags (without repository) for one build, in a stable order, deduplicated. */
export function computeTags(git: GitContext, options: TagRuleOptions = {}): string[] {
  const tags: string[] = [git.sha, `sha-${git.sha.slice(0, 7)}`];
  const ref = classifyRef(git.ref);
  const event = git.eventName;
  if (event === 'schedule') tags.push('nightly');
  else if (ref.kind === 'pull' || event === 'pull_request' || event === 'pull_request_target') {
    if (ref.kind === 'pull') tags.push(`pr-${ref.number}`);
  } else if (ref.kind === 'branch') {
    const t = sanitizeTag(ref.name);
    if (t) tags.push(t);
  } else if (ref.kind === 'tag') {
    const t = semverTags(ref.name) ?? [sanitizeTag(ref.name)].filter(Boolean);
    tags.push(...t);
  }
  if (options.latest) tags.push('latest');
  for (const extra of options.extra ?? []) {
    if (!isValidTag(extra)) {
      throw new ConfigurationError(
        `tag "${extra}" is not a valid image tag; use letters, digits, _ . - (at most 128, not starting with . or -)`,
        { input: 'tags' },
      );
    }
    tags.push(extra);
  }
  return [...new Set(tags)];
}

/** org.opencontainers.image.version: the semver (without `v`), the tag or branch name, else the short SHA. */
export function versionOf(git: GitContext): string {
  const ref = classifyRef(git.ref);
  if (ref.kind === 'tag') return semverTags(ref.name)?.[0] ?? ref.name;
  if (ref.kind === 'branch') return ref.name;
  if (ref.kind === 'pull') return `pr-${ref.number}`;
  return git.sha.slice(0, 7);
}

/** OCI labels for one target; user labels win over the computed ones. */
export function ociLabels(
  git: GitContext,
  options: { title: string; extra?: Readonly<Record<string, string>> },
): Record<string, string> {
  const labels: Record<string, string> = {
    'org.opencontainers.image.created': git.created,
    'org.opencontainers.image.revision': git.sha,
    'org.opencontainers.image.title': options.title,
    'org.opencontainers.image.version': versionOf(git),
  };
  if (git.sourceUrl) labels['org.opencontainers.image.source'] = git.sourceUrl;
  return { ...labels, ...options.extra };
}

/** `linux/arm64/v8` → `linux-arm64-v8`, the suffix of per-platform tags. */
export function platformSlug(platform: string): string {
  return platform.replace(/\//g, '-');
}

/** The tag a single-platform build is pushed under before the merge: `<sha>-linux-arm64`. */
export function platformTag(git: GitContext, platform: string): string {
  return `${git.sha}-${platformSlug(platform)}`;
}
