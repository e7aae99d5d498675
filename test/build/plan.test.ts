// inputs → the exact argv gantry runs, one table (STYLE.md #2).
import { describe, expect, it } from 'vitest';
import { Inputs, flagInputSource } from '../../src/core/inputs.js';
import { getBuildInputs } from '../../src/build/inputs.js';
import type { GitContext } from '../../src/build/git-context.js';
import {
  buildahMergeCommands,
  imagetoolsCreateArgs,
  toPlan,
  type Capabilities,
} from '../../src/build/plan.js';

const SHA = 'fedcba9876543210fedcba9876543210fedcba98';
const GIT: GitContext = {
  eventName: 'push',
  ref: 'refs/heads/main',
  sha: SHA,
  sourceUrl: undefined,
  created: '2026-01-02T03:04:05.000Z',
};
const DOCKER_DRIVER: Capabilities = {
  multiPlatform: false,
  cacheExport: false,
  ghaCache: false,
  driver: 'docker',
};
const CONTAINER_DRIVER: Capabilities = {
  multiPlatform: true,
  cacheExport: true,
  ghaCache: false,
  driver: 'docker-container',
};
const BUILDAH: Capabilities = { multiPlatform: true, cacheExport: false, ghaCache: false, driver: 'buildah' };

function plan(flags: Record<string, string>, caps = DOCKER_DRIVER, git = GIT, env: NodeJS.ProcessEnv = {}) {
  const inputs = getBuildInputs(new Inputs(flagInputSource(flags)), env);
  return toPlan(inputs, { git, workDir: '/w/run1', capabilities: caps });
}

const LABELS = [
  '--label',
  'org.opencontainers.image.created=2026-01-02T03:04:05.000Z',
  '--label',
  `org.opencontainers.image.revision=${SHA}`,
  '--label',
  'org.opencontainers.image.title=api',
  '--label',
  'org.opencontainers.image.version=main',
];
const TAGS = (image: string): string[] =>
  [`${image}:${SHA}`, `${image}:sha-fedcba9`, `${image}:main`].flatMap((t) => ['--tag', t]);

interface Row {
  name: string;
  flags: Record<string, string>;
  caps: Capabilities;
  git?: GitContext;
  argv: string[];
}

describe('toPlan: inputs → buildx argv', () => {
  it.each<Row>([
    {
      name: 'one target, one platform, push, registry cache read-only on the docker driver',
      flags: { image: 'r.example/acme/app-{target}', targets: 'api' },
      caps: DOCKER_DRIVER,
      argv: [
        'buildx',
        'build',
        '--progress',
        'plain',
        '--file',
        'Dockerfile',
        '--target',
        'api',
        '--platform',
        'linux/amd64',
        ...TAGS('r.example/acme/app-api'),
        ...LABELS,
        '--provenance=false',
        '--sbom=false',
        '--cache-from',
        'type=registry,ref=r.example/acme/app-api:buildcache',
        '--metadata-file',
        '/w/run1/api-0.metadata.json',
        '--push',
        '.',
      ],
    },
    {
      name: 'container driver: several platforms in one call, cache written, build args and secrets by reference',
      flags: {
        image: 'r.example/acme/api',
        targets: 'api',
        platforms: 'linux/amd64,linux/arm64',
        context: 'app',
        file: 'app/Dockerfile.prod',
        'build-args': 'B=2\nA=1',
        secrets: 'npmrc=s3cr3t-value',
        'secret-envs': 'token=GH_TOKEN',
        'secret-files': 'key=/run/key',
        pull: 'true',
      },
      caps: CONTAINER_DRIVER,
      argv: [
        'buildx',
        'build',
        '--progress',
        'plain',
        '--file',
        'app/Dockerfile.prod',
        '--target',
        'api',
        '--platform',
        'linux/amd64,linux/arm64',
        ...TAGS('r.example/acme/api'),
        ...LABELS,
        '--build-arg',
        'A=1',
        '--build-arg',
        'B=2',
        '--secret',
        'id=npmrc,env=GANTRY_BUILD_SECRET_0',
        '--secret',
        'id=token,env=GH_TOKEN',
        '--secret',
        'id=key,src=/run/key',
        '--provenance=false',
        '--sbom=false',
        '--cache-from',
        'type=registry,ref=r.example/acme/api:buildcache',
        '--cache-to',
        'type=registry,ref=r.example/acme/api:buildcache,mode=max',
        '--pull',
        '--metadata-file',
        '/w/run1/api-0.metadata.json',
        '--push',
        'app',
      ],
    },
    {
      name: 'pull request: no push, no cache, attestations asked for',
      flags: {
        image: 'r.example/acme/api',
        targets: 'api',
        'no-cache': 'true',
        provenance: 'true',
        sbom: 'true',
      },
      caps: DOCKER_DRIVER,
      git: { ...GIT, eventName: 'pull_request', ref: 'refs/pull/9/merge' },
      argv: [
        'buildx',
        'build',
        '--progress',
        'plain',
        '--file',
        'Dockerfile',
        '--target',
        'api',
        '--platform',
        'linux/amd64',
        '--tag',
        `r.example/acme/api:${SHA}`,
        '--tag',
        'r.example/acme/api:sha-fedcba9',
        '--tag',
        'r.example/acme/api:pr-9',
        ...LABELS.slice(0, 6),
        '--label',
        'org.opencontainers.image.version=pr-9',
        '--provenance=true',
        '--sbom=true',
        '--no-cache',
        '--metadata-file',
        '/w/run1/api-0.metadata.json',
        '.',
      ],
    },
  ])('$name', ({ flags, caps, git, argv }) => {
    const p = plan(flags, caps, git ?? GIT, { GH_TOKEN: 'x' });
    expect(p.targets[0]?.builds.map((b) => b.args)).toEqual([argv]);
    // secret values never appear in argv; they travel in the environment
    expect(JSON.stringify(p.targets)).not.toContain('s3cr3t-value');
  });

  it('carries secret values in the environment only', () => {
    const p = plan({ image: 'r.example/a', secrets: 'npmrc=s3cr3t-value' });
    expect(p.secretEnv).toEqual({ GANTRY_BUILD_SECRET_0: 's3cr3t-value' });
  });

  it('docker driver + two platforms: one build per platform under <sha>-<os>-<arch>, then an index with the final tags', () => {
    const p = plan({ image: 'r.example/acme/api', platforms: 'linux/amd64,linux/arm64/v8', cache: 'none' });
    const [t] = p.targets;
    expect(t?.builds.map((b) => [b.platforms, b.pushes])).toEqual([
      [['linux/amd64'], [`r.example/acme/api:${SHA}-linux-amd64`]],
      [['linux/arm64/v8'], [`r.example/acme/api:${SHA}-linux-arm64-v8`]],
    ]);
    expect(t?.builds[1]?.args).toContain('/w/run1/image-1.metadata.json');
    expect(t?.merge).toEqual({
      refs: [`r.example/acme/api:${SHA}`, 'r.example/acme/api:sha-fedcba9', 'r.example/acme/api:main'],
      platforms: ['linux/amd64', 'linux/arm64/v8'],
    });
    expect(
      imagetoolsCreateArgs('r.example/acme/api', t?.merge?.refs ?? [], ['sha256:a', 'sha256:b']),
    ).toEqual([
      'buildx',
      'imagetools',
      'create',
      '--tag',
      `r.example/acme/api:${SHA}`,
      '--tag',
      'r.example/acme/api:sha-fedcba9',
      '--tag',
      'r.example/acme/api:main',
      'r.example/acme/api@sha256:a',
      'r.example/acme/api@sha256:b',
    ]);
  });

  it('platform mode pushes only the per-platform tag; merge mode plans only the index', () => {
    const one = plan({ image: 'r.example/x', mode: 'platform', platforms: 'linux/arm64', cache: 'none' });
    expect(one.targets[0]?.builds[0]?.pushes).toEqual([`r.example/x:${SHA}-linux-arm64`]);
    expect(one.targets[0]?.merge).toBeUndefined();
    const merge = plan({ image: 'r.example/x', mode: 'merge', platforms: 'linux/amd64,linux/arm64' });
    expect(merge.targets[0]?.builds).toEqual([]);
    expect(merge.targets[0]?.merge?.refs).toHaveLength(3);
    expect(merge.push).toBe(true);
  });

  it('warns (and goes on) when the cache cannot be written or the gha cache is missing', () => {
    expect(plan({ image: 'r.example/x' }).warnings).toEqual([
      expect.stringMatching(/"docker" driver cannot export cache/),
    ]);
    expect(plan({ image: 'r.example/x', cache: 'gha' }, CONTAINER_DRIVER).warnings).toEqual([
      expect.stringMatching(/no Actions cache service/),
    ]);
    const gha = plan({ image: 'r.example/x', cache: 'gha' }, { ...CONTAINER_DRIVER, ghaCache: true });
    expect(gha.warnings).toEqual([]);
    expect(gha.targets[0]?.builds[0]?.args).toEqual(
      expect.arrayContaining(['--cache-to', 'type=gha,scope=r.example/x,mode=max']),
    );
  });

  it('derives the login registry from the image unless given', () => {
    expect(plan({ image: '127.0.0.1:5000/a/{target}', targets: 'api' }).registry).toBe('127.0.0.1:5000');
    expect(plan({ image: 'acme/app' }).registry).toBe('docker.io');
    expect(plan({ image: 'acme/app', registry: 'ghcr.io' }).registry).toBe('ghcr.io');
  });
});

describe('toPlan: inputs → buildah argv', () => {
  it('two platforms: bud --manifest, then manifest push --all per tag (TLS off for loopback), secrets via 0600 files', () => {
    const p = plan(
      {
        builder: 'buildah',
        image: '127.0.0.1:5000/acme/{target}',
        targets: 'api',
        platforms: 'linux/amd64,linux/arm64',
        secrets: 'tok=v',
      },
      BUILDAH,
    );
    const [b] = p.targets[0]?.builds ?? [];
    expect(b?.command).toBe('buildah');
    expect(b?.args).toEqual([
      'bud',
      '--isolation',
      'chroot',
      '--file',
      'Dockerfile',
      '--target',
      'api',
      '--platform',
      'linux/amd64,linux/arm64',
      '--manifest',
      'localhost/gantry-build/api:run1',
      ...LABELS,
      '--secret',
      'id=tok,src=/w/run1/secrets/0',
      '.',
    ]);
    expect(b?.pushSteps.map((s) => s.args)).toEqual(
      [SHA, 'sha-fedcba9', 'main'].map((tag, i) => [
        'manifest',
        'push',
        '--all',
        '--tls-verify=false',
        '--digestfile',
        `/w/run1/api-${i}.digest`,
        'localhost/gantry-build/api:run1',
        `docker://127.0.0.1:5000/acme/api:${tag}`,
      ]),
    );
    expect(p.secretFiles).toEqual([{ path: '/w/run1/secrets/0', value: 'v' }]);
    expect(p.warnings).toEqual([expect.stringMatching(/not used with buildah/)]);
  });

  it('one platform: bud --tag and buildah push (TLS verified for a remote registry)', () => {
    const p = plan(
      {
        builder: 'buildah',
        image: 'gitea.example.com/acme/api',
        cache: 'none',
        pull: 'true',
        'no-cache': 'true',
      },
      BUILDAH,
    );
    const [b] = p.targets[0]?.builds ?? [];
    expect(b?.args).toEqual(
      expect.arrayContaining(['--tag', 'localhost/gantry-build/image:run1', '--no-cache', '--pull=always']),
    );
    expect(b?.pushSteps[0]?.args).toEqual([
      'push',
      '--digestfile',
      '/w/run1/image-0.digest',
      'localhost/gantry-build/image:run1',
      `docker://gitea.example.com/acme/api:${SHA}`,
    ]);
  });

  it('merge with buildah: a local list from remote digests, pushed per tag', () => {
    expect(
      buildahMergeCommands({
        localName: 'l',
        image: 'localhost:5000/x',
        refs: ['localhost:5000/x:t'],
        digests: ['sha256:a'],
        workDir: '/w',
      }),
    ).toEqual({
      create: ['manifest', 'create', 'l'],
      add: [['manifest', 'add', '--tls-verify=false', 'l', 'docker://localhost:5000/x@sha256:a']],
      push: [
        {
          args: [
            'manifest',
            'push',
            '--tls-verify=false',
            '--digestfile',
            '/w/merge-0.digest',
            'l',
            'docker://localhost:5000/x:t',
          ],
          ref: 'localhost:5000/x:t',
          digestFile: '/w/merge-0.digest',
        },
      ],
    });
  });
});
