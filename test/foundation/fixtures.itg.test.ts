// The foundation's real components: a distribution registry and a private dockerd + buildx.
// A FROM-scratch image is built and pushed with `docker buildx build --push`, then read back from
// the registry over HTTP (with and without htpasswd auth).
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exec, execChecked } from '../../src/core/exec.js';
import { startDockerd } from '../fixtures/dockerd.js';
import { startRegistry } from '../fixtures/registry.js';

const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

describe('registry fixture', () => {
  it('serves the OCI distribution API anonymously and rejects anonymous pushes with htpasswd', async () => {
    const open = await startRegistry();
    const res = await fetch(`${open.url}/v2/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');

    const locked = await startRegistry({ auth: 'htpasswd' });
    expect((await fetch(`${locked.url}/v2/`)).status).toBe(401);
    const basic = 'Basic ' + Buffer.from(`${locked.username}:${locked.password}`).toString('base64');
    expect((await fetch(`${locked.url}/v2/`, { headers: { authorization: basic } })).status).toBe(200);
    const wrong = 'Basic ' + Buffer.from(`${locked.username}:nope`).toString('base64');
    expect((await fetch(`${locked.url}/v2/`, { headers: { authorization: wrong } })).status).toBe(401);
  });
});

describe('dockerd + buildx fixture', () => {
  it('builds a FROM scratch image, pushes it to the registry and the pushed digest reads back', async () => {
    const registry = await startRegistry({ auth: 'htpasswd' });
    const docker = await startDockerd();
    const ctx = await mkdtemp(join(tmpdir(), 'gantry-ctx-'));
    await writeFile(join(ctx, 'hello.txt'), `hello from gantry ${Date.now()}\n`);
    await writeFile(
      join(ctx, 'Dockerfile'),
      'FROM scratch\nCOPY hello.txt /hello.txt\nLABEL dev.gantry.test=foundation\n',
    );

    const version = await execChecked('docker', ['buildx', 'version'], { env: docker.env });
    expect(version.stdout).toMatch(/buildx/);

    // password through stdin into the fixture's private DOCKER_CONFIG, never argv
    await execChecked(
      'docker',
      ['login', registry.host, '--username', registry.username ?? '', '--password-stdin'],
      {
        env: docker.env,
        stdin: registry.password ?? '',
      },
    );
    const ref = `${registry.host}/gantry/foundation:test`;
    const meta = join(ctx, 'metadata.json');
    const build = await exec(
      'docker',
      ['buildx', 'build', '--platform', 'linux/amd64', '--tag', ref, '--push', '--metadata-file', meta, ctx],
      { env: docker.env },
    );
    expect(build.stderr + build.stdout).not.toMatch(/ERROR/);
    expect(build.exitCode).toBe(0);
    const metadata = JSON.parse(await readFile(meta, 'utf8')) as Record<string, string>;
    const digest = metadata['containerimage.digest'];
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const auth = 'Basic ' + Buffer.from(`${registry.username}:${registry.password}`).toString('base64');
    const res = await fetch(`${registry.url}/v2/gantry/foundation/manifests/test`, {
      headers: { accept: MANIFEST_TYPES, authorization: auth },
    });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    // the digest buildx reported is the digest of the bytes the registry serves
    expect(`sha256:${createHash('sha256').update(body).digest('hex')}`).toBe(digest);
    const manifest = JSON.parse(body.toString()) as { config: { digest: string } };
    const config = await fetch(`${registry.url}/v2/gantry/foundation/blobs/${manifest.config.digest}`, {
      headers: { authorization: auth },
    });
    const cfg = (await config.json()) as { architecture: string; config: { Labels: Record<string, string> } };
    expect(cfg.architecture).toBe('amd64');
    expect(cfg.config.Labels['dev.gantry.test']).toBe('foundation');
    console.log(
      `startup: registry ${registry.startupMs.toFixed(0)} ms, dockerd ${docker.startupMs.toFixed(0)} ms`,
    );
  });
});
