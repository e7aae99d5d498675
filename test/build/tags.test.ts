import { describe, expect, it } from 'vitest';
import { isGantryError } from '../../src/core/errors.js';
import type { GitContext } from '../../src/build/git-context.js';
import {
  computeTags,
  defaultPush,
  ociLabels,
  sanitizeTag,
  semverTags,
  versionOf,
} from '../../src/build/tags.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const git = (eventName: string | undefined, ref: string | undefined): GitContext => ({
  eventName,
  ref,
  sha: SHA,
  sourceUrl: 'https://gitea.example.com/acme/app',
  created: '2026-01-02T03:04:05.000Z',
});
const base = [SHA, 'sha-0123456'];

describe('computeTags: tag rules per event', () => {
  it.each([
    ['push to main', git('push', 'refs/heads/main'), {}, [...base, 'main']],
    [
      'push to a feature branch with a slash',
      git('push', 'refs/heads/feature/Login_2'),
      {},
      [...base, 'feature-Login_2'],
    ],
    ['version tag', git('push', 'refs/tags/v1.2.3'), {}, [...base, '1.2.3', '1.2', '1']],
    ['version tag without v', git('push', 'refs/tags/2.0.10'), {}, [...base, '2.0.10', '2.0', '2']],
    ['0.x version: no bare 0', git('push', 'refs/tags/v0.4.1'), {}, [...base, '0.4.1', '0.4']],
    ['pre-release: only the full version', git('push', 'refs/tags/v1.3.0-rc.1'), {}, [...base, '1.3.0-rc.1']],
    ['non-semver tag', git('push', 'refs/tags/release-2026'), {}, [...base, 'release-2026']],
    ['pull request', git('pull_request', 'refs/pull/42/merge'), {}, [...base, 'pr-42']],
    ['schedule', git('schedule', 'refs/heads/main'), {}, [...base, 'nightly']],
    [
      'workflow_dispatch on a branch',
      git('workflow_dispatch', 'refs/heads/release/1.x'),
      {},
      [...base, 'release-1.x'],
    ],
    ['CLI outside a runner, detached HEAD', git(undefined, undefined), {}, base],
    ['latest only when asked', git('push', 'refs/heads/main'), { latest: true }, [...base, 'main', 'latest']],
    [
      'extra raw tags, deduplicated',
      git('push', 'refs/heads/main'),
      { extra: ['stable', 'main'] },
      [...base, 'main', 'stable'],
    ],
  ])('%s', (_name, ctx, options, expected) => {
    expect(computeTags(ctx, options)).toEqual(expected);
  });

  it('rejects an invalid extra tag naming the input', () => {
    try {
      computeTags(git('push', 'refs/heads/main'), { extra: ['-bad'] });
      expect.unreachable();
    } catch (e) {
      expect(isGantryError(e, 'configuration')).toBe(true);
      expect((e as Error).message).toMatch(/tag "-bad"/);
    }
  });

  it.each([
    ['push', true],
    ['schedule', true],
    ['workflow_dispatch', true],
    ['pull_request', false],
    ['pull_request_target', false],
    [undefined, true],
  ])('pushes by default on %s: %s', (event, expected) => {
    expect(defaultPush(git(event, 'refs/heads/main'))).toBe(expected);
  });

  it.each([
    ['feature/x', 'feature-x'],
    ['.hidden', 'hidden'],
    ['a'.repeat(200), 'a'.repeat(128)],
    ['über', 'ber'],
  ])('sanitizeTag(%s)', (input, expected) => {
    expect(sanitizeTag(input)).toBe(expected);
  });

  it('semverTags returns undefined for non-semver names', () => {
    expect(semverTags('v1.2')).toBeUndefined();
    expect(semverTags('v1.2.3+build.5')).toEqual(['1.2.3', '1.2', '1']);
  });
});

describe('ociLabels', () => {
  it('labels created, revision, source, title and version; user labels win', () => {
    expect(
      ociLabels(git('push', 'refs/tags/v1.2.3'), {
        title: 'api',
        extra: { 'org.opencontainers.image.title': 'API' },
      }),
    ).toEqual({
      'org.opencontainers.image.created': '2026-01-02T03:04:05.000Z',
      'org.opencontainers.image.revision': SHA,
      'org.opencontainers.image.source': 'https://gitea.example.com/acme/app',
      'org.opencontainers.image.title': 'API',
      'org.opencontainers.image.version': '1.2.3',
    });
  });
  it.each([
    ['refs/heads/main', 'main'],
    ['refs/pull/3/merge', 'pr-3'],
    [undefined, '0123456'],
  ])('version for %s is %s', (ref, expected) => {
    expect(versionOf(git('push', ref))).toBe(expected);
  });
});
