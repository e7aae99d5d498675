import { describe, expect, it } from 'vitest';
import { readGitContext, remoteToWebUrl, type GitRunner } from '../../src/build/git-context.js';
import { ConfigurationError } from '../../src/core/errors.js';

const SHA = 'a'.repeat(40);
/** A plain-object fake of git: answers from a table keyed by the joined arguments. */
const fakeGit = (answers: Record<string, string>): GitRunner & { calls: string[] } => {
  const calls: string[] = [];
  const fn = async (args: string[]): Promise<string | undefined> => {
    calls.push(args.join(' '));
    return answers[args.join(' ')];
  };
  return Object.assign(fn, { calls });
};

describe('readGitContext', () => {
  it('reads GitHub/Gitea runner variables (GITHUB_* first, GITEA_* as fallback)', async () => {
    const git = fakeGit({ [`show -s --format=%cI ${SHA}`]: '2026-03-04T05:06:07+01:00' });
    const ctx = await readGitContext({
      env: {
        GITEA_EVENT_NAME: 'push',
        GITHUB_REF: 'refs/tags/v1.0.0',
        GITHUB_SHA: SHA,
        GITEA_SERVER_URL: 'https://gitea.example.com/',
        GITHUB_REPOSITORY: 'acme/app',
      },
      cwd: '.',
      git,
    });
    expect(ctx).toEqual({
      eventName: 'push',
      ref: 'refs/tags/v1.0.0',
      sha: SHA,
      sourceUrl: 'https://gitea.example.com/acme/app',
      created: '2026-03-04T04:06:07.000Z',
    });
  });

  it('falls back to git outside a runner, and SOURCE_DATE_EPOCH wins for created', async () => {
    const git = fakeGit({
      'rev-parse HEAD': SHA,
      'symbolic-ref -q HEAD': 'refs/heads/dev',
      'remote get-url origin': 'git@gitea.example.com:acme/app.git',
    });
    const ctx = await readGitContext({ env: { SOURCE_DATE_EPOCH: '1700000000' }, cwd: '.', git });
    expect(ctx).toEqual({
      eventName: undefined,
      ref: 'refs/heads/dev',
      sha: SHA,
      sourceUrl: 'https://gitea.example.com/acme/app',
      created: '2023-11-14T22:13:20.000Z',
    });
  });

  it('a detached HEAD on a tag gets refs/tags/…; no commit time → now', async () => {
    const git = fakeGit({ 'rev-parse HEAD': SHA, 'describe --tags --exact-match HEAD': 'v2.0.0' });
    const ctx = await readGitContext({ env: {}, cwd: '.', git, now: () => new Date('2026-01-01T00:00:00Z') });
    expect(ctx.ref).toBe('refs/tags/v2.0.0');
    expect(ctx.created).toBe('2026-01-01T00:00:00.000Z');
  });

  it('without GITHUB_SHA and git is a configuration error naming the context', async () => {
    await expect(readGitContext({ env: {}, cwd: '/nowhere', git: fakeGit({}) })).rejects.toBeInstanceOf(
      ConfigurationError,
    );
  });

  it.each([
    ['https://user:pw@gitea.example.com/acme/app.git', 'https://gitea.example.com/acme/app'],
    ['http://127.0.0.1:3000/acme/app.git', 'http://127.0.0.1:3000/acme/app'],
    ['ssh://git@gitea.example.com:2222/acme/app.git', 'https://gitea.example.com/acme/app'],
    ['git@github.com:acme/app.git', 'https://github.com/acme/app'],
    ['/srv/git/app.git', undefined],
  ])('remoteToWebUrl(%s)', (remote, url) => {
    expect(remoteToWebUrl(remote)).toBe(url);
  });
});
