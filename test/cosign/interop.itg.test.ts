/**
 * Interoperability with the real cosign 2.5 against a real distribution registry: each direction
 * of sign/verify, keys from either tool, tampering rejected by both, two signers on one image,
 * no duplicates, recursive signing of an index, and a registry with authentication.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateCosignKeyPair, loadSigningKey, loadVerificationKey } from '../../src/cosign/keys.js';
import { buildSignatureManifest, parseSignatureManifest, signatureTag } from '../../src/cosign/layout.js';
import { defaultSignatureRegistry } from '../../src/cosign/oci-registry.js';
import { signImages } from '../../src/cosign/sign-image.js';
import { verifyImage } from '../../src/cosign/verify-image.js';
import { SIGNATURE_ANNOTATION } from '../../src/cosign/verify-signature.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import {
  cosign,
  cosignSign,
  cosignVerify,
  getManifestBytes,
  pushBlob,
  pushImage,
  pushIndex,
  pushManifest,
} from './helpers.js';

let reg: RunningRegistry;
let dir: string;
const registry = defaultSignatureRegistry({ env: {}, dockerConfig: false });
const keys = { cosignKey: '', cosignPub: '', gantryKey: '', gantryPub: '' };

beforeAll(async () => {
  reg = await startRegistry({ auth: 'none' });
  dir = mkdtempSync(join(tmpdir(), 'gantry-cosign-itg-'));
  // a key pair made by the real cosign …
  const gen = await cosign(
    ['generate-key-pair', '--output-key-prefix', 'cosign'],
    { COSIGN_PASSWORD: 'cosign-pw' },
    dir,
  );
  expect(gen.exitCode, gen.stderr).toBe(0);
  keys.cosignKey = join(dir, 'cosign.key');
  keys.cosignPub = join(dir, 'cosign.pub');
  // … and one made by gantry
  const pair = await generateCosignKeyPair('gantry-pw');
  keys.gantryKey = join(dir, 'gantry.key');
  keys.gantryPub = join(dir, 'gantry.pub');
  writeFileSync(keys.gantryKey, pair.privateKeyPem, { mode: 0o600 });
  writeFileSync(keys.gantryPub, pair.publicKeyPem);
});

const gantryKey = () => loadSigningKey({ key: keys.gantryKey, password: 'gantry-pw', env: {} });
const cosignKeyInGantry = () =>
  loadSigningKey({ key: keys.cosignKey, env: { COSIGN_PASSWORD: 'cosign-pw' } });
const pub = (path: string) => loadVerificationKey({ key: path });

describe('gantry ⇄ cosign', () => {
  it('1. gantry signs (key from cosign generate-key-pair) → cosign verify accepts; the payload is cosign-shaped', async () => {
    const digest = await pushImage(reg.url, 'app1', 'v1');
    const [signed] = await signImages({
      registry,
      images: [`${reg.host}/app1:v1`],
      key: await cosignKeyInGantry(),
      annotations: { commit: 'abc123' },
    });
    expect(signed?.digest).toBe(digest);
    expect(signed?.['signature-ref']).toMatch(new RegExp(`${reg.host}/app1:${signatureTag(digest)}@sha256:`));
    const res = await cosignVerify(keys.cosignPub, `${reg.host}/app1@${digest}`, ['-a', 'commit=abc123']);
    expect(res.exitCode, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as {
      critical: { identity: { 'docker-reference': string } };
      optional: unknown;
    }[];
    expect(out[0]?.critical.identity['docker-reference']).toBe(`${reg.host}/app1`);
    expect(out[0]?.optional).toEqual({ commit: 'abc123' });
  });

  it('2. cosign signs → gantry verify accepts, by tag and by digest', async () => {
    const digest = await pushImage(reg.url, 'app2', 'v1');
    const res = await cosignSign(keys.cosignKey, 'cosign-pw', `${reg.host}/app2@${digest}`, [
      '-a',
      'env=prod',
    ]);
    expect(res.exitCode, res.stderr).toBe(0);
    for (const image of [`${reg.host}/app2:v1`, `${reg.host}/app2@${digest}`]) {
      const v = await verifyImage(registry, image, {
        keys: [await pub(keys.cosignPub)],
        annotations: { env: 'prod' },
      });
      expect(v.verified, v.problems.join('\n')).toBe(true);
      expect(v.digest).toBe(digest);
    }
    const wrongAnnotation = await verifyImage(registry, `${reg.host}/app2:v1`, {
      keys: [await pub(keys.cosignPub)],
      annotations: { env: 'dev' },
    });
    expect(wrongAnnotation.verified).toBe(false);
  });

  it('3. a key from gantry generate-key-pair signs with cosign; gantry and cosign verify it', async () => {
    const digest = await pushImage(reg.url, 'app3', 'v1');
    const res = await cosignSign(keys.gantryKey, 'gantry-pw', `${reg.host}/app3@${digest}`);
    expect(res.exitCode, res.stderr).toBe(0);
    expect(
      (await verifyImage(registry, `${reg.host}/app3:v1`, { keys: [await pub(keys.gantryPub)] })).verified,
    ).toBe(true);
    expect((await cosignVerify(keys.gantryPub, `${reg.host}/app3@${digest}`)).exitCode).toBe(0);
  });

  it('5. two signers on one image: both signatures survive and verify; re-signing does not duplicate', async () => {
    const digest = await pushImage(reg.url, 'app5', 'v1');
    const ref = `${reg.host}/app5@${digest}`;
    expect((await cosignSign(keys.cosignKey, 'cosign-pw', ref)).exitCode).toBe(0);
    const [first] = await signImages({ registry, images: [ref], key: await gantryKey() });
    expect(first?.pushed).toBe(true);
    const [again] = await signImages({ registry, images: [ref], key: await gantryKey() });
    expect(again?.pushed).toBe(false);
    const layers = parseSignatureManifest(
      (await getManifestBytes(reg.url, 'app5', signatureTag(digest))) ?? Buffer.from(''),
    ).layers;
    expect(layers).toHaveLength(2);
    for (const key of [keys.cosignPub, keys.gantryPub]) {
      expect((await cosignVerify(key, ref)).exitCode).toBe(0);
      expect((await verifyImage(registry, ref, { keys: [await pub(key)] })).verified).toBe(true);
    }
    // cosign appending after gantry keeps gantry's signature too
    expect((await cosignSign(keys.cosignKey, 'cosign-pw', ref, ['-a', 'round=2'])).exitCode).toBe(0);
    const after = parseSignatureManifest(
      (await getManifestBytes(reg.url, 'app5', signatureTag(digest))) ?? Buffer.from(''),
    ).layers;
    expect(after).toHaveLength(3);
    expect((await verifyImage(registry, ref, { keys: [await pub(keys.gantryPub)] })).verified).toBe(true);
  });

  it('recursive: signs the index and every platform manifest; cosign verifies each', async () => {
    const { index, children } = await pushIndex(reg.url, 'multi', 'v1');
    const signed = await signImages({
      registry,
      images: [`${reg.host}/multi:v1`],
      key: await gantryKey(),
      recursive: true,
    });
    expect(signed.map((s) => s.digest)).toEqual([index, ...children]);
    for (const d of [index, ...children]) {
      expect((await cosignVerify(keys.gantryPub, `${reg.host}/multi@${d}`)).exitCode).toBe(0);
    }
    const single = await pushIndex(reg.url, 'multi2', 'v1');
    const one = await signImages({ registry, images: [`${reg.host}/multi2:v1`], key: await gantryKey() });
    expect(one.map((s) => s.digest)).toEqual([single.index]);
    expect(
      (await cosignVerify(keys.gantryPub, `${reg.host}/multi2@${single.children[0] ?? ''}`)).exitCode,
    ).not.toBe(0);
  });
});

describe('4. tampering is rejected by both gantry and cosign', () => {
  async function bothReject(ref: string, pubPath = keys.gantryPub): Promise<string[]> {
    const c = await cosignVerify(pubPath, ref);
    expect(c.exitCode).not.toBe(0);
    const g = await verifyImage(registry, ref, { keys: [await pub(pubPath)] });
    expect(g.verified).toBe(false);
    return g.problems;
  }
  async function signed(repo: string): Promise<{ digest: string; ref: string }> {
    const digest = await pushImage(reg.url, repo, 'v1');
    await signImages({ registry, images: [`${reg.host}/${repo}@${digest}`], key: await gantryKey() });
    return { digest, ref: `${reg.host}/${repo}@${digest}` };
  }
  async function rewrite(
    repo: string,
    digest: string,
    fn: (payload: Buffer, sig: string) => { payload: Buffer; annotations: Record<string, string> },
  ) {
    const tag = signatureTag(digest);
    const layer = parseSignatureManifest((await getManifestBytes(reg.url, repo, tag)) ?? Buffer.from(''))
      .layers[0];
    const payload = Buffer.from(
      await (await fetch(`${reg.url}/v2/${repo}/blobs/${layer?.digest ?? ''}`)).arrayBuffer(),
    );
    const changed = fn(payload, layer?.annotations?.[SIGNATURE_ANNOTATION] ?? '');
    const built = buildSignatureManifest([], [changed]);
    for (const b of [...built.newBlobs, built.config]) await pushBlob(reg.url, repo, b);
    await pushManifest(reg.url, repo, tag, built.manifest, 'application/vnd.oci.image.manifest.v1+json');
  }

  it('wrong key', async () => {
    const { ref } = await signed('t-wrongkey');
    expect((await cosignVerify(keys.gantryPub, ref)).exitCode).toBe(0);
    const problems = await bothReject(ref, keys.cosignPub);
    expect(problems.join()).toMatch(/does not verify with/);
  });

  it('a payload signed for another digest', async () => {
    const a = await signed('t-otherdigest');
    const b = await pushImage(reg.url, 't-otherdigest', 'v2');
    const sig = await getManifestBytes(reg.url, 't-otherdigest', signatureTag(a.digest));
    await pushManifest(
      reg.url,
      't-otherdigest',
      signatureTag(b),
      sig ?? Buffer.from(''),
      'application/vnd.oci.image.manifest.v1+json',
    );
    const problems = await bothReject(`${reg.host}/t-otherdigest@${b}`);
    expect(problems.join()).toMatch(/is for sha256:.*not for the image's digest/);
  });

  it('a modified payload', async () => {
    const { digest, ref } = await signed('t-modified');
    await rewrite('t-modified', digest, (p, sig) => ({
      payload: Buffer.from(p.toString().replace('"optional":null', '"optional":{"x":"y"}')),
      annotations: { [SIGNATURE_ANNOTATION]: sig },
    }));
    expect((await bothReject(ref)).join()).toMatch(/does not verify/);
  });

  it('the signature removed', async () => {
    const { digest, ref } = await signed('t-removed');
    await rewrite('t-removed', digest, (p) => ({ payload: p, annotations: {} }));
    expect((await bothReject(ref)).join()).toMatch(/no dev\.cosignproject\.cosign\/signature annotation/);
  });

  it('the manifest changed after signing (tag moved to a new manifest)', async () => {
    await signed('t-moved');
    await pushImage(reg.url, 't-moved', 'v1'); // same tag, new content
    expect((await bothReject(`${reg.host}/t-moved:v1`)).join()).toMatch(/no signatures found/);
  });
});

describe('registries with authentication', () => {
  it('signs and verifies against an htpasswd registry with credentials; without them it is an auth error', async () => {
    const secure = await startRegistry({ auth: 'htpasswd' });
    const creds = { username: secure.username ?? '', password: secure.password ?? '' };
    const digest = await pushImage(secure.url, 'private', 'v1', creds);
    const authed = defaultSignatureRegistry({ credentials: creds, env: {}, dockerConfig: false });
    const [s] = await signImages({
      registry: authed,
      images: [`${secure.host}/private:v1`],
      key: await gantryKey(),
    });
    expect(s?.digest).toBe(digest);
    expect(
      (await verifyImage(authed, `${secure.host}/private:v1`, { keys: [await pub(keys.gantryPub)] }))
        .verified,
    ).toBe(true);
    await expect(
      verifyImage(defaultSignatureRegistry({ env: {}, dockerConfig: false }), `${secure.host}/private:v1`, {
        keys: [await pub(keys.gantryPub)],
      }),
    ).rejects.toMatchObject({ code: 'auth' });
  });
});
