// build-multiarch against real components: a private dockerd + buildx, buildah (vfs, chroot), and
// distribution registries on loopback. Every check of what was pushed reads the registry directly
// over HTTP and hashes the bytes it serves — independent of gantry's own registry reader.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile, mkdir, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { repoRoot, startDockerd } from '../fixtures/dockerd.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { startFaultProxy } from '../fixtures/fault-proxy.js';

const docker = await startDockerd();
const registry = await startRegistry({ auth: 'htpasswd' });
const sampleApp = join(repoRoot, 'examples/app');

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

function basic(reg: RunningRegistry): Record<string, string> {
  return reg.username
    ? { authorization: 'Basic ' + Buffer.from(`${reg.username}:${reg.password}`).toString('base64') }
    : {};
}

interface Fetched {
  status: number;
  digest: string;
  json: Record<string, unknown>;
}

async function fetchManifest(reg: RunningRegistry, repo: string, reference: string): Promise<Fetched> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${reference}`, {
    headers: { accept: ACCEPT, ...basic(reg) },
  });
  const body = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    digest: `sha256:${createHash('sha256').update(body).digest('hex')}`,
    json: res.status === 200 ? (JSON.parse(body.toString()) as Record<string, unknown>) : {},
  };
}

async function fetchConfig(
  reg: RunningRegistry,
  repo: string,
  manifestDigest: string,
): Promise<{
  architecture: string;
  config: { Labels?: Record<string, string>; ExposedPorts?: Record<string, unknown> };
}> {
  const m = await fetchManifest(reg, repo, manifestDigest);
  const cfgDigest = (m.json.config as { digest: string }).digest;
  const res = await fetch(`${reg.url}/v2/${repo}/blobs/${cfgDigest}`, { headers: basic(reg) });
  return (await res.json()) as never;
}

interface ImageOut {
  target: string;
  image: string;
  digest: string | null;
  ref: string | null;
  tags: string[];
  platforms: Record<string, string>;
  pushed: boolean;
  sizeBytes: number | null;
  durationMs: number;
}

/** Runs `gantry build … --json` in-process, the password on stdin. */
async function gantryBuild(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; reg?: RunningRegistry } = {},
): Promise<{ code: number; images: ImageOut[]; stderr: string; stdout: string }> {
  const reg = options.reg ?? registry;
  let stdout = '';
  let stderr = '';
  const creds = reg.username ? ['--username', reg.username, '--password-stdin'] : [];
  const code = await runCli(['build', ...args, ...creds, '--json'], {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: { ...process.env, ...docker.env, ...options.env },
    readStdin: async () => `${reg.password ?? ''}\n`,
  });
  const parsed = JSON.parse(stdout || 'null') as unknown;
  return { code, images: Array.isArray(parsed) ? (parsed as ImageOut[]) : [], stderr, stdout };
}

/** A runner environment for a push to main of a fresh commit (unique tags per test). */
function pushEvent(extra: NodeJS.ProcessEnv = {}): { env: NodeJS.ProcessEnv; sha: string } {
  const sha = randomBytes(20).toString('hex');
  return {
    sha,
    env: {
      GITHUB_EVENT_NAME: 'push',
      GITHUB_REF: 'refs/heads/main',
      GITHUB_SHA: sha,
      GITHUB_SERVER_URL: 'https://gitea.example.com',
      GITHUB_REPOSITORY: 'acme/app',
      GITHUB_STEP_SUMMARY: '',
      ...extra,
    },
  };
}

function repoOf(image: string, reg: RunningRegistry = registry): string {
  return image.slice(reg.host.length + 1);
}

/** Each tag resolves, in the registry, to exactly the digest gantry reported. */
async function expectTagsResolve(img: ImageOut, reg: RunningRegistry = registry): Promise<void> {
  expect(img.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(img.ref).toBe(`${img.image}@${img.digest}`);
  for (const tag of img.tags) {
    const m = await fetchManifest(reg, repoOf(img.image, reg), tag);
    expect(m.status, `${img.image}:${tag}`).toBe(200);
    expect(m.digest, `${img.image}:${tag}`).toBe(img.digest);
  }
}

describe('gantry build with buildx (docker driver)', () => {
  it('pushes two targets of one multi-stage Dockerfile; every tag resolves to the reported digest', async () => {
    const { env, sha } = pushEvent();
    const image = `${registry.host}/acme/app-{target}`;
    const r = await gantryBuild(
      [
        '--context',
        sampleApp,
        '--targets',
        'api,worker',
        '--image',
        image,
        '--build-args',
        'API_BEHAVIOR=crashloop',
      ],
      { env },
    );
    expect(r.stderr).not.toMatch(/failed:/);
    expect(r.code).toBe(0);
    expect(r.images.map((i) => i.target)).toEqual(['api', 'worker']);
    for (const img of r.images) {
      expect(img.tags).toEqual([sha, `sha-${sha.slice(0, 7)}`, 'main']);
      await expectTagsResolve(img);
      expect(Object.keys(img.platforms)).toEqual(['linux/amd64']);
      expect(img.platforms['linux/amd64']).toBe(img.digest);
    }
    const [api, worker] = r.images;
    expect(api?.digest).not.toBe(worker?.digest);
    const apiCfg = await fetchConfig(registry, repoOf(api?.image ?? ''), api?.digest ?? '');
    const workerCfg = await fetchConfig(registry, repoOf(worker?.image ?? ''), worker?.digest ?? '');
    expect(apiCfg.config.Labels).toMatchObject({
      'dev.gantry.sim/behavior': 'crashloop',
      'org.opencontainers.image.revision': sha,
      'org.opencontainers.image.source': 'https://gitea.example.com/acme/app',
      'org.opencontainers.image.title': 'api',
      'org.opencontainers.image.version': 'main',
    });
    expect(Object.keys(apiCfg.config.ExposedPorts ?? {})).toEqual(['8080/tcp']);
    expect(workerCfg.config.Labels?.['dev.gantry.sim/behavior']).toBe('healthy');
    expect(workerCfg.config.ExposedPorts).toBeUndefined();
    // the password went to a temporary DOCKER_CONFIG, not the caller's
    const callerConfig = join(docker.env.DOCKER_CONFIG ?? '', 'config.json');
    if (existsSync(callerConfig)) expect(await readFile(callerConfig, 'utf8')).not.toContain(registry.host);
    expect(r.stderr).not.toContain(registry.password);
    // the docker driver cannot export cache: said once per build, and the build went on
    expect(r.stderr).toMatch(/cannot export cache/);
  });

  it('builds amd64 + arm64 per platform and merges them with imagetools into one index', async () => {
    const { env, sha } = pushEvent();
    const r = await gantryBuild(
      [
        '--context',
        sampleApp,
        '--targets',
        'admin',
        '--image',
        `${registry.host}/acme/multi-{target}`,
        '--platforms',
        'linux/amd64,linux/arm64',
      ],
      { env },
    );
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const [admin] = r.images;
    if (!admin) throw new Error('no image');
    await expectTagsResolve(admin);
    const index = await fetchManifest(registry, 'acme/multi-admin', admin.digest ?? '');
    expect(index.json.mediaType).toMatch(/manifest\.list|image\.index/);
    const manifests = index.json.manifests as {
      digest: string;
      platform: { os: string; architecture: string };
    }[];
    const byPlatform = Object.fromEntries(
      manifests.map((m) => [`${m.platform.os}/${m.platform.architecture}`, m.digest]),
    );
    expect(byPlatform).toEqual(admin.platforms);
    expect(Object.keys(admin.platforms).sort()).toEqual(['linux/amd64', 'linux/arm64']);
    // each platform manifest is the real thing: its config says its architecture
    const arm = await fetchConfig(registry, 'acme/multi-admin', admin.platforms['linux/arm64'] ?? '');
    expect(arm.architecture).toBe('arm64');
    // the per-platform tags the index was made from
    const perPlatform = await fetchManifest(registry, 'acme/multi-admin', `${sha}-linux-arm64`);
    expect(perPlatform.digest).toBe(admin.platforms['linux/arm64']);
  });

  it('fails at once on a broken Dockerfile, naming the target, with the last lines of the build log', async () => {
    const ctx = await mkdtemp(join(tmpdir(), 'gantry-broken-'));
    await writeFile(join(ctx, 'ok.txt'), 'ok\n');
    await writeFile(
      join(ctx, 'Dockerfile'),
      'FROM scratch AS api\nCOPY ok.txt /ok\n\nFROM scratch AS worker\nCOPY missing-file.txt /x\n',
    );
    const { env } = pushEvent();
    const started = performance.now();
    const r = await gantryBuild(
      ['--context', ctx, '--targets', 'api,worker', '--image', `${registry.host}/acme/broken-{target}`],
      { env },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/target worker \(linux\/amd64\): build failed/);
    expect(r.stderr).toMatch(/missing-file\.txt.*not found/);
    expect(r.stderr).not.toMatch(/attempt 2/);
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'check-failed', exitCode: 1 } });
  });

  it('retries a push the registry fails with 503 and still reports the true digest', async () => {
    const open = await startRegistry();
    const proxy = await startFaultProxy({ target: open.url });
    afterAll(() => proxy.stop());
    // the push itself (manifest PUT) fails twice with 503, as a registry behind a busy proxy does
    proxy.inject({
      fault: { kind: 'status', status: 503 },
      times: 2,
      match: { method: 'PUT', path: '/manifests/' },
    });
    const viaProxy = { ...open, host: proxy.host, url: proxy.url };
    const { env } = pushEvent();
    const r = await gantryBuild(
      ['--context', sampleApp, '--targets', 'api', '--image', `${proxy.host}/acme/flaky`],
      {
        env,
        reg: viaProxy,
      },
    );
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(proxy.requests.filter((q) => q.fault === 'status')).toHaveLength(2);
    expect(proxy.pending()).toBe(0);
    expect(r.stderr).toMatch(/transient failure on attempt 1/);
    const [img] = r.images;
    if (!img) throw new Error('no image');
    await expectTagsResolve(img, viaProxy);
  });

  it('on a pull request builds every target without pushing and reports size and duration', async () => {
    const summary = join(await mkdtemp(join(tmpdir(), 'gantry-summary-')), 'summary.md');
    await writeFile(summary, '');
    const sha = randomBytes(20).toString('hex');
    const env = {
      GITHUB_EVENT_NAME: 'pull_request',
      GITHUB_REF: 'refs/pull/7/merge',
      GITHUB_SHA: sha,
      GITHUB_STEP_SUMMARY: summary,
    };
    const r = await gantryBuild(
      [
        '--context',
        sampleApp,
        '--targets',
        'api,worker,admin',
        '--image',
        `${registry.host}/acme/pr-{target}`,
      ],
      { env },
    );
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.images.map((i) => [i.target, i.pushed, i.digest])).toEqual([
      ['api', false, null],
      ['worker', false, null],
      ['admin', false, null],
    ]);
    for (const img of r.images) {
      expect(img.sizeBytes).toBeGreaterThan(0);
      expect(img.durationMs).toBeGreaterThan(0);
      const tags = await fetch(`${registry.url}/v2/acme/pr-${img.target}/tags/list`, {
        headers: basic(registry),
      });
      expect(tags.status).toBe(404); // nothing was pushed
    }
  });
});

describe('gantry build merge mode', () => {
  it('combines per-platform images built on different runners into one tagged index', async () => {
    const { env, sha } = pushEvent();
    const image = `${registry.host}/acme/merged-{target}`;
    const common = ['--context', sampleApp, '--targets', 'api,worker', '--image', image];
    const amd = await gantryBuild([...common, '--mode', 'platform', '--platforms', 'linux/amd64'], { env });
    const arm = await gantryBuild([...common, '--mode', 'platform', '--platforms', 'linux/arm64'], { env });
    expect([amd.code, arm.code], amd.stderr.slice(-1500) + arm.stderr.slice(-1500)).toEqual([0, 0]);
    expect(amd.images[0]?.tags).toEqual([`${sha}-linux-amd64`]);
    const merged = await gantryBuild(
      [...common, '--mode', 'merge', '--platforms', 'linux/amd64,linux/arm64'],
      { env },
    );
    expect(merged.code, merged.stderr.slice(-2000)).toBe(0);
    for (const [i, img] of merged.images.entries()) {
      await expectTagsResolve(img);
      expect(img.tags).toContain('main');
      expect(img.platforms).toEqual({
        'linux/amd64': amd.images[i]?.digest,
        'linux/arm64': arm.images[i]?.digest,
      });
    }
  });
});

describe('gantry build with buildah', () => {
  it('builds amd64 + arm64 into one index with buildah and pushes it under every tag', async () => {
    const storage = await mkdtemp(join(tmpdir(), 'gantry-buildah-'));
    await mkdir(join(storage, 'root'));
    const conf = join(storage, 'storage.conf');
    await writeFile(
      conf,
      `[storage]\ndriver = "vfs"\nrunroot = "${join(storage, 'run')}"\ngraphroot = "${join(storage, 'root')}"\n`,
    );
    // a copy of the context: buildah must not depend on anything buildx left behind
    const ctx = join(storage, 'ctx');
    await cp(sampleApp, ctx, { recursive: true });
    const { env } = pushEvent({ CONTAINERS_STORAGE_CONF: conf, STORAGE_DRIVER: 'vfs' });
    const r = await gantryBuild(
      [
        '--builder',
        'buildah',
        '--context',
        ctx,
        '--targets',
        'api',
        '--image',
        `${registry.host}/acme/buildah-{target}`,
        '--platforms',
        'linux/amd64,linux/arm64',
      ],
      { env },
    );
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const [api] = r.images;
    if (!api) throw new Error('no image');
    await expectTagsResolve(api);
    const index = await fetchManifest(registry, 'acme/buildah-api', api.digest ?? '');
    expect(index.json.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(Object.keys(api.platforms).sort()).toEqual(['linux/amd64', 'linux/arm64']);
    const arm = await fetchConfig(registry, 'acme/buildah-api', api.platforms['linux/arm64'] ?? '');
    expect(arm.architecture).toBe('arm64');
    expect(arm.config.Labels?.['dev.gantry.sim/behavior']).toBe('healthy');
  });
});
