/**
 * What the build knows about the commit it builds: event, ref, SHA, source URL and a creation time.
 * On a runner it comes from the environment (GitHub sets GITHUB_*; Gitea's act_runner sets the same
 * GITHUB_* names and GITEA_* aliases, so both are read, GITHUB_* first); from a terminal it falls
 * back to `git` in the build context. Reading is the only impure part: tag and label rules
 * (tags.ts) are pure functions of a GitContext.
 */
import { ConfigurationError } from '../core/errors.js';
import { exec } from '../core/exec.js';

export interface GitContext {
  /** push, pull_request, schedule, workflow_dispatch, …; undefined outside a runner. */
  eventName: string | undefined;
  /** Full ref: refs/heads/main, refs/tags/v1.2.3, refs/pull/5/merge. */
  ref: string | undefined;
  /** Full 40-hex commit SHA. */
  sha: string;
  /** Web URL of the repository (org.opencontainers.image.source). */
  sourceUrl: string | undefined;
  /** RFC 3339 time stamped into org.opencontainers.image.created. */
  created: string;
}

/** `git` as the fallback reader needs it: one call, stdout or undefined. */
export type GitRunner = (args: string[], cwd: string) => Promise<string | undefined>;

export const runGit: GitRunner = async (args, cwd) => {
  try {
    const r = await exec('git', args, { cwd, timeoutMs: 10_000 });
    return r.exitCode === 0 ? r.stdout.trim() : undefined;
  } catch {
    return undefined; // git not installed: the caller decides what is missing
  }
};

function pick(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[`GITHUB_${name}`] ?? env[`GITEA_${name}`];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** `git@host:org/repo.git` / `https://user:pw@host/org/repo.git` → `https://host/org/repo`. */
export function remoteToWebUrl(remote: string): string | undefined {
  const r = remote.trim();
  const scp = /^[\w.-]+@([\w.-]+):(.+?)(?:\.git)?\/?$/.exec(r);
  if (scp) return `https://${scp[1]}/${scp[2]}`;
  try {
    const u = new URL(r);
    if (!['http:', 'https:', 'ssh:', 'git:'].includes(u.protocol)) return undefined;
    const scheme = u.protocol === 'http:' ? 'http' : 'https';
    // an ssh port is not the web port: keep the port only for http(s) remotes
    const port = u.port && (u.protocol === 'http:' || u.protocol === 'https:') ? `:${u.port}` : '';
    return `${scheme}://${u.hostname}${port}${u.pathname.replace(/\.git\/?$/, '').replace(/\/$/, '')}`;
  } catch {
    return undefined;
  }
}

/**
 * Reads the context from the runner environment, filling what is missing from `git` in `cwd`.
 * `now` is used for `created` only when neither SOURCE_DATE_EPOCH nor a commit time is known.
 */
export async function readGitContext(options: {
  env: NodeJS.ProcessEnv;
  cwd: string;
  git?: GitRunner;
  now?: () => Date;
}): Promise<GitContext> {
  const { env, cwd } = options;
  const git = options.git ?? runGit;
  let sha = pick(env, 'SHA');
  let ref = pick(env, 'REF');
  const server = pick(env, 'SERVER_URL');
  const repo = pick(env, 'REPOSITORY');
  let sourceUrl = server && repo ? `${server.replace(/\/$/, '')}/${repo}` : undefined;
  sha ??= await git(['rev-parse', 'HEAD'], cwd);
  if (!sha) {
    throw new ConfigurationError(
      'cannot tell which commit is being built: GITHUB_SHA is unset and `git rev-parse HEAD` failed in the context',
      { input: 'context', hint: 'run inside a git checkout or set GITHUB_SHA' },
    );
  }
  if (ref === undefined) {
    const branch = await git(['symbolic-ref', '-q', 'HEAD'], cwd);
    const tag = branch ? undefined : await git(['describe', '--tags', '--exact-match', 'HEAD'], cwd);
    ref = branch || (tag ? `refs/tags/${tag}` : undefined);
  }
  if (sourceUrl === undefined) {
    const remote = await git(['remote', 'get-url', 'origin'], cwd);
    sourceUrl = remote ? remoteToWebUrl(remote) : undefined;
  }
  // Reproducible by default: the commit time, not the wall clock, so rebuilding a commit gives the
  // same config (and digest) — SOURCE_DATE_EPOCH wins, as in reproducible-builds.org's spec.
  let created: string | undefined;
  const epoch = env.SOURCE_DATE_EPOCH?.trim();
  if (epoch && /^\d+$/.test(epoch)) created = new Date(Number(epoch) * 1000).toISOString();
  if (created === undefined) {
    const commitTime = await git(['show', '-s', '--format=%cI', sha], cwd);
    if (commitTime && !Number.isNaN(Date.parse(commitTime))) created = new Date(commitTime).toISOString();
  }
  created ??= (options.now ?? (() => new Date()))().toISOString();
  return { eventName: pick(env, 'EVENT_NAME'), ref, sha, sourceUrl, created };
}
