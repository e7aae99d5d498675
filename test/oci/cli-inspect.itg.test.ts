/**
 * `gantry inspect` in-process through runCli against real registries: the JSON contract, skopeo
 * agreement, exit codes 1 (absent) / 2 (bad reference) / 3 (unreachable, refused), and registry
 * credentials from env or stdin — never from argv.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { exec } from '../../src/core/exec.js';
import { runCli } from '../../src/cli/main.js';
import { freePort } from '../../sandbox/registry.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { pushTestImage, pushTestIndex } from '../fixtures/oci-images.js';

async function cli(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: { HOME: '/nonexistent', ...env },
    ...(stdin !== undefined ? { readStdin: async () => stdin } : {}),
  });
  return { code, stdout, stderr };
}

describe('gantry inspect', () => {
  let reg: RunningRegistry;
  let single: string;
  let index: { digest: string; platforms: { platform: string; digest: string }[] };
  beforeAll(async () => {
    reg = await startRegistry();
    single = await pushTestImage(reg.url, 'cli/app', 'v1', { content: 'cli single' });
    index = await pushTestIndex(reg.url, 'cli/app', 'multi', { content: 'cli multi' });
  });

  it('prints digest, media type, size and no platforms for a single image', async () => {
    const r = await cli(['inspect', `${reg.host}/cli/app:v1`, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      reference: `${reg.host}/cli/app:v1`,
      digest: single,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      platforms: [],
    });
    expect(out.size).toBeGreaterThan(100);
  });

  it('lists the platforms of an index, agreeing with skopeo', async () => {
    const r = await cli(['inspect', `${reg.host}/cli/app:multi`, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { digest: string; platforms: unknown[]; size: number };
    expect(out.digest).toBe(index.digest);
    expect(out.platforms).toEqual(index.platforms);
    const raw = await exec('skopeo', [
      'inspect',
      '--tls-verify=false',
      '--raw',
      `docker://${reg.host}/cli/app:multi`,
    ]);
    const doc = JSON.parse(raw.stdout) as {
      manifests: { digest: string; platform: { os: string; architecture: string } }[];
    };
    expect(out.platforms).toEqual(
      doc.manifests.map((m) => ({
        platform: `${m.platform.os}/${m.platform.architecture}`,
        digest: m.digest,
      })),
    );
    expect(out.size).toBe(Buffer.byteLength(raw.stdout.replace(/\n$/, '')));
    const human = await cli(['inspect', `${reg.host}/cli/app:multi`]);
    expect(human.stdout).toContain('linux/arm64');
  });

  it('exits 1 when the image does not exist', async () => {
    const r = await cli(['inspect', `${reg.host}/cli/app:nope`, '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`image ${reg.host}/cli/app:nope not found`);
  });

  it('exits 2 for an invalid reference before touching the network', async () => {
    const r = await cli(['inspect', `${reg.host}/Cli/App:v1`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('must be lowercase');
  });

  it('exits 3 when the registry cannot be reached after retries', async () => {
    const port = await freePort();
    const r = await cli(['inspect', `127.0.0.1:${port}/cli/app:v1`, '--retries', '2', '--json']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/failed after 2 attempts: .*ECONNREFUSED/);
  });

  it('refuses a password on the command line', async () => {
    const r = await cli(['inspect', `${reg.host}/cli/app:v1`, '--username', 'u', '--password', 'p']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--password is a secret');
  });
});

describe('gantry inspect with credentials', () => {
  let reg: RunningRegistry;
  let digest: string;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'htpasswd' });
    digest = await pushTestImage(reg.url, 'private/app', 'v1', {
      credentials: { username: reg.username ?? '', password: reg.password ?? '' },
    });
  });

  it('reads the password from GANTRY_REGISTRY_PASSWORD with --username', async () => {
    const r = await cli(
      ['inspect', `${reg.host}/private/app:v1`, '--username', reg.username ?? '', '--json'],
      {
        GANTRY_REGISTRY_PASSWORD: reg.password,
      },
    );
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { digest: string }).digest).toBe(digest);
  });

  it('reads the password from stdin with --password-stdin', async () => {
    const r = await cli(
      [
        'inspect',
        `${reg.host}/private/app:v1`,
        '--username',
        reg.username ?? '',
        '--password-stdin',
        '--json',
      ],
      {},
      `${reg.password}\n`,
    );
    expect(r.code).toBe(0);
  });

  it('exits 3 with a hint when credentials are missing, masking a wrong password', async () => {
    const r = await cli(['inspect', `${reg.host}/private/app:v1`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('no credentials were found');
    expect(r.stderr).toContain('write:package');
    const wrong = await cli(['inspect', `${reg.host}/private/app:v1`, '--username', 'gantry', '--verbose'], {
      GANTRY_REGISTRY_PASSWORD: 'a-wrong-password',
    });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain('were rejected');
    expect(wrong.stderr).not.toContain('a-wrong-password');
  });

  it('exits 2 for --username without a password', async () => {
    const r = await cli(['inspect', `${reg.host}/private/app:v1`, '--username', 'gantry']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('GANTRY_REGISTRY_PASSWORD');
  });
});
