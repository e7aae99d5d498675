/**
 * The registry client against a real CNCF distribution registry (anonymous and htpasswd Basic):
 * manifests, indexes, blobs (monolithic, chunked, mounted), tags pagination, the referrers
 * fallback, deletes, credentials from options/env/docker config, and agreement with skopeo.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec } from '../../src/core/exec.js';
import { isGantryError } from '../../src/core/errors.js';
import { digestOf } from '../../src/oci/digest.js';
import { inspectImage } from '../../src/oci/inspect.js';
import { MediaType } from '../../src/oci/manifest.js';
import { RegistryClient, referrersTag } from '../../src/oci/registry.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { buildTestImage, pushTestImage, pushTestIndex } from '../fixtures/oci-images.js';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

async function skopeo(args: string[]): Promise<string> {
  const r = await exec('skopeo', args);
  if (r.exitCode !== 0) throw new Error(`skopeo ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

describe('anonymous registry', () => {
  let reg: RunningRegistry;
  let client: RegistryClient;
  beforeAll(async () => {
    reg = await startRegistry();
    client = new RegistryClient({ dockerConfig: false, env: {} });
  });
  afterAll(() => client.close());

  it('pushes an image and reads it back by tag and by digest with computed digests', async () => {
    const digest = await pushTestImage(reg.url, 'team/app', 'v1', { labels: { a: 'b' } });
    const byTag = await client.getManifest(`${reg.host}/team/app:v1`);
    expect(byTag.digest).toBe(digest);
    expect(digestOf(byTag.bytes)).toBe(digest);
    expect(byTag.mediaType).toBe(MediaType.OciManifest);
    const byDigest = await client.getManifest(`${reg.host}/team/app@${digest}`);
    expect(Buffer.from(byDigest.bytes).equals(Buffer.from(byTag.bytes))).toBe(true);
    expect(await client.resolveDigest(`${reg.host}/team/app:v1`)).toBe(digest);
    const head = await client.headManifest(`${reg.host}/team/app:v1`);
    expect(head).toEqual({ digest, mediaType: MediaType.OciManifest, size: byTag.size });
    expect(await client.headManifest(`${reg.host}/team/app:nope`)).toBeUndefined();
  });

  it('stores config labels that a reader gets back from the config blob', async () => {
    const img = buildTestImage({ labels: { 'dev.gantry.sim/behavior': 'crashloop' }, content: 'labels' });
    await pushTestImage(reg.url, 'team/labels', 'v1', {
      labels: { 'dev.gantry.sim/behavior': 'crashloop' },
      content: 'labels',
    });
    const config = JSON.parse(
      (await client.getBlob(`${reg.host}/team/labels`, img.config.digest)).toString(),
    ) as {
      config: { Labels: Record<string, string> };
    };
    expect(config.config.Labels).toEqual({ 'dev.gantry.sim/behavior': 'crashloop' });
  });

  it('fails a missing image with not-found naming registry, repository and reference', async () => {
    const e = await rejection(client.getManifest(`${reg.host}/team/app:missing`));
    expect(isGantryError(e, 'not-found')).toBe(true);
    expect(String((e as Error).message)).toContain(`${reg.host}/team/app:missing`);
    expect(String((e as Error).message)).toContain('MANIFEST_UNKNOWN');
  });

  it('uploads blobs monolithically and in chunks, skips existing ones, and verifies downloads', async () => {
    const big = randomBytes(100_000);
    const repo = `${reg.host}/blobs/chunked`;
    expect(await client.blobExists(repo, digestOf(big))).toBe(false);
    const d = await client.pushBlob(repo, big, { chunkSize: 16 * 1024 });
    expect(d).toEqual({ digest: digestOf(big), size: big.length });
    expect(await client.blobExists(repo, d.digest)).toBe(true);
    expect((await client.getBlob(repo, d.digest)).equals(big)).toBe(true);
    const small = randomBytes(1000);
    const s = await client.pushBlob(`${reg.host}/blobs/mono`, small);
    expect((await client.getBlob(`${reg.host}/blobs/mono`, s.digest)).equals(small)).toBe(true);
    const missing = await rejection(client.getBlob(`${reg.host}/blobs/mono`, digestOf('nothing here')));
    expect(isGantryError(missing, 'not-found')).toBe(true);
  });

  it('mounts a blob from another repository instead of uploading it', async () => {
    const bytes = randomBytes(2048);
    const { digest } = await client.pushBlob(`${reg.host}/mount/source`, bytes);
    expect(await client.blobExists(`${reg.host}/mount/target`, digest)).toBe(false);
    expect(await client.mountBlob(`${reg.host}/mount/target`, digest, `${reg.host}/mount/source`)).toBe(true);
    expect(await client.blobExists(`${reg.host}/mount/target`, digest)).toBe(true);
    const other = randomBytes(64);
    await client.pushBlob(`${reg.host}/mount/target2`, other, { mountFrom: `${reg.host}/mount/nowhere` });
    expect(await client.blobExists(`${reg.host}/mount/target2`, digestOf(other))).toBe(true);
  });

  it('lists tags across Link pages', async () => {
    const tags = ['a1', 'a2', 'a3', 'a4', 'a5'];
    for (const t of tags) await pushTestImage(reg.url, 'team/tags', t);
    expect((await client.listTags(`${reg.host}/team/tags`, { pageSize: 2 })).sort()).toEqual(tags);
    expect(await client.listTags(`${reg.host}/team/none`)).toEqual([]);
  });

  it('falls back to the sha256-<hex> tag when the registry has no referrers API', async () => {
    const subject = await pushTestImage(reg.url, 'team/ref', 'v1', { content: 'subject' });
    expect(await client.getReferrers(`${reg.host}/team/ref@${subject}`)).toEqual([]);
    const art = buildTestImage({ content: 'signature' });
    await pushTestImage(reg.url, 'team/ref', 'sig-holder', { content: 'signature' });
    const fallbackIndex = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        {
          mediaType: art.mediaType,
          digest: art.digest,
          size: art.manifest.length,
          artifactType: 'application/vnd.test',
        },
      ],
    };
    await client.putManifest(
      `${reg.host}/team/ref:${referrersTag(subject)}`,
      JSON.stringify(fallbackIndex),
      MediaType.OciIndex,
    );
    const refs = await client.getReferrers(`${reg.host}/team/ref:v1`);
    expect(refs.map((r) => r.digest)).toEqual([art.digest]);
    expect(await client.getReferrers(`${reg.host}/team/ref@${subject}`, { artifactType: 'other' })).toEqual(
      [],
    );
  });

  it('attaches referrers through the tag fallback and finds them again', async () => {
    const subject = await pushTestImage(reg.url, 'team/attach', 'v1', { content: 'attach subject' });
    const empty = Buffer.from('{}');
    await client.pushBlob(`${reg.host}/team/attach`, empty);
    const referrer = (n: number): string =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        artifactType: 'application/vnd.gantry.test',
        config: { mediaType: MediaType.OciEmpty, digest: digestOf(empty), size: 2 },
        layers: [],
        subject: { mediaType: MediaType.OciManifest, digest: subject, size: 1 },
        annotations: { n: String(n) },
      });
    const d1 = await client.putReferrer(`${reg.host}/team/attach:v1`, referrer(1));
    const d2 = await client.putReferrer(`${reg.host}/team/attach@${subject}`, referrer(2));
    expect(await client.putReferrer(`${reg.host}/team/attach@${subject}`, referrer(2))).toBe(d2);
    const found = await client.getReferrers(`${reg.host}/team/attach@${subject}`, {
      artifactType: 'application/vnd.gantry.test',
    });
    expect(found.map((d) => [d.digest, d.annotations?.n])).toEqual([
      [d1, '1'],
      [d2, '2'],
    ]);
    const wrong = await rejection(
      client.putReferrer(`${reg.host}/team/attach@${digestOf('x')}`, referrer(3)),
    );
    expect(isGantryError(wrong, 'input')).toBe(true);
  });

  it('deletes a manifest by tag (resolving its digest)', async () => {
    await pushTestImage(reg.url, 'team/del', 'v1', { content: 'to delete' });
    await client.deleteManifest(`${reg.host}/team/del:v1`);
    const e = await rejection(client.getManifest(`${reg.host}/team/del:v1`));
    expect(isGantryError(e, 'not-found')).toBe(true);
  });

  it('agrees with skopeo on digests and platforms of an image and a 2-platform index', async () => {
    const single = await pushTestImage(reg.url, 'team/skopeo', 'single', { content: 'skopeo single' });
    const idx = await pushTestIndex(reg.url, 'team/skopeo', 'multi', { content: 'skopeo multi' });
    for (const [tag, want] of [
      ['single', single],
      ['multi', idx.digest],
    ] as const) {
      const ours = await inspectImage(client, `${reg.host}/team/skopeo:${tag}`);
      const raw = await skopeo([
        'inspect',
        '--tls-verify=false',
        '--raw',
        `docker://${reg.host}/team/skopeo:${tag}`,
      ]);
      expect(ours.digest).toBe(want);
      expect(digestOf(Buffer.from(raw))).toBe(ours.digest);
      const info = JSON.parse(
        await skopeo([
          'inspect',
          '--tls-verify=false',
          '--override-arch',
          'amd64',
          `docker://${reg.host}/team/skopeo:${tag}`,
        ]),
      ) as { Digest: string };
      expect(info.Digest).toBe(ours.digest);
      const doc = JSON.parse(raw) as {
        manifests?: { digest: string; platform: { os: string; architecture: string } }[];
      };
      const theirs = (doc.manifests ?? []).map((m) => ({
        platform: `${m.platform.os}/${m.platform.architecture}`,
        digest: m.digest,
      }));
      expect(ours.platforms).toEqual(theirs);
    }
    const multi = await inspectImage(client, `${reg.host}/team/skopeo:multi`);
    expect(multi.platforms).toEqual(idx.platforms);
    expect(multi.platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm64']);
  });
});

describe('htpasswd registry (Basic auth)', () => {
  let reg: RunningRegistry;
  let dir: string;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'htpasswd' });
    dir = await mkdtemp(join(tmpdir(), 'gantry-oci-itg-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('pushes and pulls with explicit credentials', async () => {
    const creds = { username: reg.username ?? '', password: reg.password ?? '' };
    const digest = await pushTestImage(reg.url, 'private/app', 'v1', { credentials: creds });
    const c = new RegistryClient({ credentials: creds, dockerConfig: false, env: {} });
    expect((await c.getManifest(`${reg.host}/private/app:v1`)).digest).toBe(digest);
    expect(await c.ping(reg.host)).toEqual({ auth: 'basic' });
    c.close();
  });

  it('fails at once with an auth error and a hint when no credentials are found', async () => {
    const c = new RegistryClient({ dockerConfig: false, env: {} });
    const started = Date.now();
    const e = await rejection(c.getManifest(`${reg.host}/private/app:v1`));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(isGantryError(e, 'auth')).toBe(true);
    expect((e as Error).message).toContain(`registry ${reg.host} repository private/app`);
    expect((e as Error).message).toContain('no credentials were found');
    expect((e as { hint?: string }).hint).toContain('write:package');
    c.close();
  });

  it('reports rejected credentials by user name, never the password', async () => {
    const c = new RegistryClient({
      credentials: { username: 'gantry', password: 'wrong-password' },
      dockerConfig: false,
      env: {},
    });
    const e = await rejection(c.getManifest(`${reg.host}/private/app:v1`));
    expect(isGantryError(e, 'auth')).toBe(true);
    expect((e as Error).message).toContain('credentials of gantry were rejected');
    expect((e as Error).message).not.toContain('wrong-password');
    c.close();
  });

  it('reads credentials from the environment and from a docker config.json', async () => {
    const viaEnv = new RegistryClient({
      dockerConfig: false,
      env: { GANTRY_REGISTRY_USERNAME: reg.username, GANTRY_REGISTRY_PASSWORD: reg.password },
    });
    expect(await viaEnv.listTags(`${reg.host}/private/app`)).toEqual(['v1']);
    viaEnv.close();
    const auth = Buffer.from(`${reg.username}:${reg.password}`).toString('base64');
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({ auths: { [`http://${reg.host}`]: { auth } } }),
      { mode: 0o600 },
    );
    const viaConfig = new RegistryClient({ env: { DOCKER_CONFIG: dir } });
    expect(await viaConfig.listTags(`${reg.host}/private/app`)).toEqual(['v1']);
    viaConfig.close();
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({ auths: { [reg.host]: { username: reg.username, password: reg.password } } }),
    );
    const viaFields = new RegistryClient({ env: { DOCKER_CONFIG: dir } });
    expect(await viaFields.listTags(`${reg.host}/private/app`)).toEqual(['v1']);
    viaFields.close();
  });
});
