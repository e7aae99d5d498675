// The orchestrator with plain-object fakes for exec, git and the registry: retries, failure
// messages, digest verification, credentials handling — no daemons.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { GantryError } from '../../src/core/errors.js';
import type { ExecOptions, ExecResult } from '../../src/core/exec.js';
import { Inputs, flagInputSource } from '../../src/core/inputs.js';
import { MemoryLogger } from '../../src/core/logging.js';
import { buildImages, type ExecFn } from '../../src/build/build-images.js';
import { getBuildInputs } from '../../src/build/inputs.js';
import type { ManifestInfo, RegistryReader } from '../../src/build/registry-reader.js';

const SHA = 'c'.repeat(40);
const ENV = {
  GITHUB_SHA: SHA,
  GITHUB_REF: 'refs/heads/main',
  GITHUB_EVENT_NAME: 'push',
  SOURCE_DATE_EPOCH: '0',
};
const digestOf = (s: string): string =>
  `sha256:${Buffer.from(s).toString('hex').padEnd(64, '0').slice(0, 64)}`;

interface Call {
  command: string;
  args: readonly string[];
  options: ExecOptions;
}

function result(
  command: string,
  args: readonly string[],
  exitCode: number,
  stdout = '',
  stderr = '',
): ExecResult {
  return {
    command,
    args,
    exitCode,
    signal: null,
    stdout,
    stderr,
    truncated: false,
    durationMs: 1,
    timedOut: false,
  };
}

/** A fake docker: `buildx build` writes a metadata file whose digest depends on target + platform. */
function fakeDocker(options: { driver?: string; buildFailures?: string[] } = {}): ExecFn & { calls: Call[] } {
  const calls: Call[] = [];
  const failures = [...(options.buildFailures ?? [])];
  const fn: ExecFn = async (command, args, opts = {}) => {
    calls.push({ command, args, options: opts });
    const a = args.join(' ');
    if (a === 'buildx inspect')
      return result(command, args, 0, `Name: default\nDriver: ${options.driver ?? 'docker'}\n`);
    if (a.startsWith('login')) return result(command, args, 0, 'Login Succeeded');
    if (a.startsWith('image inspect')) return result(command, args, 0, '1234\n');
    if (a.startsWith('buildx build')) {
      const failure = failures.shift();
      if (failure) return result(command, args, 1, '', failure);
      const target = args[args.indexOf('--target') + 1] ?? '';
      const platform = args[args.indexOf('--platform') + 1] ?? '';
      const meta = args[args.indexOf('--metadata-file') + 1] ?? '';
      await writeFile(
        meta,
        JSON.stringify({
          'containerimage.digest': digestOf(`${target}${platform}`),
          'containerimage.config.digest': digestOf('cfg'),
        }),
      );
      return result(command, args, 0);
    }
    if (a.startsWith('buildx imagetools create')) {
      const refs = args.filter((_, i) => args[i - 1] === '--tag');
      return result(
        command,
        args,
        0,
        '',
        refs.map((r) => `#1 0.000 pushing ${digestOf('index')} to ${r}`).join('\n'),
      );
    }
    return result(command, args, 0);
  };
  return Object.assign(fn, { calls });
}

/** A fake registry: what each tag resolves to; by default whatever the fake docker pushed. */
function fakeRegistry(resolve: (ref: string) => ManifestInfo): RegistryReader & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async inspect(ref) {
      asked.push(ref);
      return resolve(ref);
    },
  };
}

/** A fake buildah: every push writes the digest `pushedAs(ref)` to its --digestfile. */
function fakeBuildah(pushedAs: (ref: string) => string): ExecFn & { calls: Call[] } {
  const calls: Call[] = [];
  const fn: ExecFn = async (command, args, opts = {}) => {
    calls.push({ command, args, options: opts });
    const file = args[args.indexOf('--digestfile') + 1];
    if (args.includes('--digestfile') && file) {
      const ref = (args.at(-1) ?? '').replace(/^docker:\/\//, '');
      await writeFile(file, pushedAs(ref));
    }
    return result(command, args, args[0] === 'inspect' ? 1 : 0);
  };
  return Object.assign(fn, { calls });
}

const inputs = (flags: Record<string, string>, env: NodeJS.ProcessEnv = ENV) =>
  getBuildInputs(
    new Inputs(flagInputSource({ image: 'r.example/acme/{target}', targets: 'api', ...flags })),
    env,
  );
const noGit = async (): Promise<undefined> => undefined;

describe('buildImages', () => {
  it('reports one digest per target and checks every tag against the registry', async () => {
    const exec = fakeDocker();
    const reg = fakeRegistry(() => ({
      digest: digestOf('apilinux/amd64'),
      mediaType: undefined,
      platforms: {},
    }));
    const r = await buildImages(inputs({}), {
      logger: new MemoryLogger(),
      env: ENV,
      exec,
      git: noGit,
      registryReader: () => reg,
    });
    expect(r.images).toMatchObject([
      {
        target: 'api',
        digest: digestOf('apilinux/amd64'),
        platforms: { 'linux/amd64': digestOf('apilinux/amd64') },
        sizeBytes: 1234,
        pushed: true,
      },
    ]);
    expect(reg.asked.sort()).toEqual([
      `r.example/acme/api:${SHA}`,
      'r.example/acme/api:main',
      'r.example/acme/api:sha-ccccccc',
    ]);
  });

  it('fails when a pushed tag resolves to another digest than the builder reported', async () => {
    const reg = fakeRegistry((ref) => ({
      digest: ref.endsWith(':main') ? digestOf('someone else') : digestOf('apilinux/amd64'),
      mediaType: undefined,
      platforms: {},
    }));
    const err = await buildImages(inputs({}), {
      logger: new MemoryLogger(),
      env: ENV,
      exec: fakeDocker(),
      git: noGit,
      registryReader: () => reg,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GantryError);
    expect((err as GantryError).code).toBe('check-failed');
    expect((err as Error).message).toMatch(
      /r\.example\/acme\/api:main resolves to sha256:736f6d.*but the build reported/,
    );
  });

  it('retries a transient push failure with back-off, then succeeds', async () => {
    const exec = fakeDocker({
      buildFailures: [
        '#7 pushing r.example/acme/api:main with docker\nERROR: received unexpected HTTP status: 503 Service Unavailable',
      ],
    });
    const reg = fakeRegistry(() => ({
      digest: digestOf('apilinux/amd64'),
      mediaType: undefined,
      platforms: {},
    }));
    const clock = new ManualClock();
    const logger = new MemoryLogger();
    const r = await buildImages(inputs({}), {
      logger,
      env: ENV,
      exec,
      git: noGit,
      registryReader: () => reg,
      clock,
    });
    expect(r.images[0]?.digest).toBe(digestOf('apilinux/amd64'));
    expect(exec.calls.filter((c) => c.args[1] === 'build')).toHaveLength(2);
    expect(clock.sleeps).toHaveLength(1);
    expect(logger.text()).toMatch(/warning: target api \(linux\/amd64\): transient failure on attempt 1/);
  });

  it('gives up after the configured attempts on a registry that keeps failing', async () => {
    const fail = 'ERROR: received unexpected HTTP status: 502 Bad Gateway';
    const exec = fakeDocker({ buildFailures: [fail, fail, fail] });
    const err = await buildImages(inputs({}), {
      logger: new MemoryLogger(),
      env: ENV,
      exec,
      git: noGit,
      registryReader: () =>
        fakeRegistry(() => {
          throw new Error('unused');
        }),
      clock: new ManualClock(),
      pushAttempts: 3,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/failed after 3 attempts.*502 Bad Gateway/s);
    expect(exec.calls.filter((c) => c.args[1] === 'build')).toHaveLength(3);
  });

  it('fails a broken Dockerfile at once, naming the target and quoting the log tail', async () => {
    const exec = fakeDocker({
      buildFailures: [
        '#5 [worker 1/1] COPY nope /x\nERROR: failed to solve: failed to compute cache key: "/nope" not found: not found',
      ],
    });
    const err = await buildImages(inputs({ targets: 'worker' }), {
      logger: new MemoryLogger(),
      env: ENV,
      exec,
      git: noGit,
      registryReader: () =>
        fakeRegistry(() => {
          throw new Error('unused');
        }),
      clock: new ManualClock(),
    }).catch((e: unknown) => e);
    expect((err as GantryError).code).toBe('check-failed');
    expect((err as GantryError).exitCode).toBe(1);
    expect((err as Error).message).toMatch(
      /^target worker \(linux\/amd64\): build failed \(exit 1\); last lines of the log:\n.*"\/nope" not found/s,
    );
    expect(exec.calls.filter((c) => c.args[1] === 'build')).toHaveLength(1);
  });

  it('logs in with the password on stdin into a temporary DOCKER_CONFIG used by every command and removed afterwards', async () => {
    const exec = fakeDocker();
    const reg = fakeRegistry(() => ({
      digest: digestOf('apilinux/amd64'),
      mediaType: undefined,
      platforms: {},
    }));
    const logger = new MemoryLogger();
    const env = { ...ENV, GANTRY_REGISTRY_PASSWORD: 'hunter2-secret', DOCKER_CONFIG: '/home/me/.docker' };
    await buildImages(inputs({ username: 'ci', registry: 'r.example' }, env), {
      logger,
      env,
      exec,
      git: noGit,
      registryReader: () => reg,
    });
    const login = exec.calls.find((c) => c.args[0] === 'login');
    expect(login?.args).toEqual(['login', '--username', 'ci', '--password-stdin', 'r.example']);
    expect(login?.options.stdin).toBe('hunter2-secret');
    const config = login?.options.env?.DOCKER_CONFIG ?? '';
    expect(config).toMatch(/gantry-docker-config-/);
    for (const c of exec.calls.filter((x) => x.args[0] !== 'buildx' || x.args[1] !== 'inspect')) {
      expect(c.options.env?.DOCKER_CONFIG, c.args.join(' ')).toBe(config);
      expect(c.args.join(' ')).not.toContain('hunter2-secret');
    }
    expect(existsSync(config)).toBe(false);
  });

  it('masks the registry password and every build secret in what a failed build reports', async () => {
    const env = { ...ENV, GANTRY_REGISTRY_PASSWORD: 'hunter2-secret', NPM_TOKEN: 'npm-env-secret-456' };
    const leaky = fakeDocker({
      buildFailures: [
        '#6 [api 2/2] RUN cat /run/secrets/*\n#6 0.2 hunter2-secret tok-value-123 npm-env-secret-456\n' +
          'ERROR: failed to solve: process "/bin/sh -c cat /run/secrets/*" did not complete successfully: exit code: 1',
      ],
    });
    // the real exec masks captured output with the masker it is given; so does this wrapper
    const exec: ExecFn = async (command, args, opts = {}) => {
      const r = await leaky(command, args, opts);
      return { ...r, stderr: opts.masker ? opts.masker.mask(r.stderr) : r.stderr };
    };
    const logger = new MemoryLogger();
    const err = await buildImages(
      inputs({ username: 'ci', secrets: 'tok=tok-value-123', 'secret-envs': 'npm=NPM_TOKEN' }, env),
      {
        logger,
        env,
        exec,
        git: noGit,
        registryReader: () => fakeRegistry(() => ({ digest: '', mediaType: undefined, platforms: {} })),
      },
    ).catch((e: unknown) => e);
    const message = (err as Error).message;
    expect(message).toContain('*** *** ***');
    for (const secret of ['hunter2-secret', 'tok-value-123', 'npm-env-secret-456']) {
      expect(message + logger.text()).not.toContain(secret);
    }
  });

  it('buildah: fails when the tags of one image were pushed as different digests', async () => {
    const exec = fakeBuildah((ref) => (ref.endsWith(':main') ? digestOf('other') : digestOf('api')));
    const reg = fakeRegistry((ref) => ({
      digest: ref.endsWith(':main') ? digestOf('other') : digestOf('api'),
      mediaType: undefined,
      platforms: {},
    }));
    const err = await buildImages(inputs({ builder: 'buildah' }), {
      logger: new MemoryLogger(),
      env: ENV,
      exec,
      git: noGit,
      registryReader: () => reg,
    }).catch((e: unknown) => e);
    expect((err as GantryError).code).toBe('check-failed');
    expect((err as Error).message).toMatch(
      /buildah pushed r\.example\/acme\/api:main as sha256:6f7468.*but the first tag as/,
    );
  });

  it('buildah merge: fails when the index was pushed as different digests under its tags', async () => {
    const exec = fakeBuildah((ref) => (ref.endsWith(':main') ? digestOf('other') : digestOf('index')));
    const reg = fakeRegistry((ref) => ({
      digest: ref.endsWith(':main') ? digestOf('other') : digestOf(ref.includes('arm64') ? 'arm' : 'amd'),
      mediaType: undefined,
      platforms: {},
    }));
    const err = await buildImages(
      inputs({ builder: 'buildah', mode: 'merge', platforms: 'linux/amd64,linux/arm64' }),
      { logger: new MemoryLogger(), env: ENV, exec, git: noGit, registryReader: () => reg },
    ).catch((e: unknown) => e);
    expect((err as GantryError).code).toBe('check-failed');
    expect((err as Error).message).toMatch(/r\.example\/acme\/api:main pushed as sha256:6f7468/);
  });

  it('docker driver, two platforms: builds each and merges them with imagetools; platforms come from the index', async () => {
    const exec = fakeDocker();
    const platforms = {
      'linux/amd64': digestOf('apilinux/amd64'),
      'linux/arm64': digestOf('apilinux/arm64'),
    };
    const reg = fakeRegistry((ref) => {
      if (ref.endsWith('-linux-amd64'))
        return { digest: platforms['linux/amd64'], mediaType: undefined, platforms: {} };
      if (ref.endsWith('-linux-arm64'))
        return { digest: platforms['linux/arm64'], mediaType: undefined, platforms: {} };
      return { digest: digestOf('index'), mediaType: 'application/vnd.oci.image.index.v1+json', platforms };
    });
    const r = await buildImages(inputs({ platforms: 'linux/amd64,linux/arm64' }), {
      logger: new MemoryLogger(),
      env: ENV,
      exec,
      git: noGit,
      registryReader: () => reg,
    });
    expect(r.images[0]).toMatchObject({ digest: digestOf('index'), platforms });
    const create = exec.calls.find((c) => c.args[1] === 'imagetools');
    expect(create?.args.slice(-2)).toEqual([
      `r.example/acme/api@${platforms['linux/amd64']}`,
      `r.example/acme/api@${platforms['linux/arm64']}`,
    ]);
  });

  it('a docker-container builder builds both platforms in one call', async () => {
    const exec = fakeDocker({ driver: 'docker-container' });
    const platforms = { 'linux/amd64': digestOf('a'), 'linux/arm64': digestOf('b') };
    const reg = fakeRegistry(() => ({
      digest: digestOf('apilinux/amd64,linux/arm64'),
      mediaType: 'index',
      platforms,
    }));
    const r = await buildImages(inputs({ platforms: 'linux/amd64,linux/arm64' }), {
      logger: new MemoryLogger(),
      env: ENV,
      exec,
      git: noGit,
      registryReader: () => reg,
    });
    expect(exec.calls.filter((c) => c.args[1] === 'build')).toHaveLength(1);
    expect(exec.calls.some((c) => c.args[1] === 'imagetools')).toBe(false);
    expect(r.images[0]?.platforms).toEqual(platforms);
  });

  it('fails when the pushed index lacks a requested platform', async () => {
    const reg = fakeRegistry(() => ({
      digest: digestOf('apilinux/amd64,linux/arm64'),
      mediaType: 'index',
      platforms: { 'linux/amd64': digestOf('a') },
    }));
    const err = await buildImages(inputs({ platforms: 'linux/amd64,linux/arm64' }), {
      logger: new MemoryLogger(),
      env: ENV,
      exec: fakeDocker({ driver: 'docker-container' }),
      git: noGit,
      registryReader: () => reg,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/has no linux\/arm64 manifest/);
  });
});
