/**
 * The bundle format against a real distribution registry (no referrers API: the `sha256-<hex>`
 * tag index is used) and the real cosign 2.5:
 * - gantry `sign --format bundle` → the referrer is in the tag index with its artifactType and
 *   annotations; gantry verify accepts; `cosign verify-attestation --new-bundle-format --type
 *   https://sigstore.dev/cosign/sign/v1` accepts it (with an empty trusted root, offline);
 * - cosign 2.5 `verify --new-bundle-format` never looks at referrers (it reads only the `.sig`
 *   tag), so it reports "no signatures found" — asserted, so that an upgrade that changes it shows;
 * - `cosign attest --new-bundle-format` → gantry finds the referrer and verifies it with the key: a
 *   `--type https://sigstore.dev/cosign/sign/v1` statement counts as a signature, another predicate
 *   type is listed as an attestation and does not verify the image;
 * - tampering (wrong key, statement for another image) is rejected by gantry and by cosign.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import {
  BUNDLE_MEDIA_TYPE,
  COSIGN_SIGN_PREDICATE_TYPE,
  buildBundleReferrerManifest,
  buildKeyBundle,
  buildSignStatement,
} from '../../src/cosign/bundle-layout.js';
import { generateCosignKeyPair, loadSigningKey, loadVerificationKey } from '../../src/cosign/keys.js';
import { OCI_MANIFEST_MEDIA_TYPE } from '../../src/cosign/layout.js';
import { defaultSignatureRegistry } from '../../src/cosign/oci-registry.js';
import { signImages } from '../../src/cosign/sign-image.js';
import { verifyImage } from '../../src/cosign/verify-image.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { cosign, getManifestBytes, pushImage, pushIndex } from './helpers.js';

let reg: RunningRegistry;
let dir: string;
const registry = defaultSignatureRegistry({ env: {}, dockerConfig: false });
const REGISTRY_FLAGS = ['--allow-insecure-registry', '--allow-http-registry'];
let trustedRoot: string;

beforeAll(async () => {
  reg = await startRegistry({ auth: 'none' });
  dir = mkdtempSync(join(tmpdir(), 'gantry-cosign-bundle-'));
  const gen = await cosign(
    ['generate-key-pair', '--output-key-prefix', 'cosign'],
    { COSIGN_PASSWORD: 'c' },
    dir,
  );
  expect(gen.exitCode, gen.stderr).toBe(0);
  const pair = await generateCosignKeyPair('g');
  writeFileSync(join(dir, 'gantry.key'), pair.privateKeyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'gantry.pub'), pair.publicKeyPem);
  // cosign 2.5 needs a trusted root for --new-bundle-format (else it goes to TUF on the internet);
  // key-based bundles without a transparency log need nothing in it.
  trustedRoot = join(dir, 'trusted_root.json');
  writeFileSync(
    trustedRoot,
    JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: [],
      certificateAuthorities: [],
      ctlogs: [],
      timestampAuthorities: [],
    }),
  );
});

const gantryKey = () => loadSigningKey({ key: join(dir, 'gantry.key'), password: 'g', env: {} });
const pub = (name: string) => loadVerificationKey({ key: join(dir, name) });

function cosignVerifyAttestation(pubName: string, ref: string, type = COSIGN_SIGN_PREDICATE_TYPE) {
  return cosign([
    'verify-attestation',
    '--new-bundle-format',
    '--trusted-root',
    trustedRoot,
    '--key',
    join(dir, pubName),
    '--type',
    type,
    '--insecure-ignore-tlog',
    ...REGISTRY_FLAGS,
    ref,
  ]);
}

function cosignAttest(ref: string, type: string, predicate: object) {
  const file = join(dir, `predicate-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(predicate));
  return cosign(
    [
      'attest',
      '--new-bundle-format',
      '--key',
      join(dir, 'cosign.key'),
      '--type',
      type,
      '--predicate',
      file,
      '--tlog-upload=false',
      '-y',
      ...REGISTRY_FLAGS,
      ref,
    ],
    { COSIGN_PASSWORD: 'c' },
  );
}

async function gantry(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return { code, stdout, stderr };
}

describe('bundle format: gantry → cosign', () => {
  it('gantry signs as a referrer in the tag index; gantry and cosign verify-attestation accept it', async () => {
    const digest = await pushImage(reg.url, 'b1', 'v1');
    const [signed] = await signImages({
      registry,
      images: [`${reg.host}/b1:v1`],
      key: await gantryKey(),
      format: 'bundle',
      annotations: { commit: 'abc' },
    });
    expect(signed?.['signature-ref']).toMatch(new RegExp(`^${reg.host}/b1@sha256:[a-f0-9]{64}$`));
    // no .sig tag; the sha256-<hex> index lists the referrer with its type and annotations
    expect(await getManifestBytes(reg.url, 'b1', `sha256-${digest.slice(7)}.sig`)).toBeUndefined();
    const index = JSON.parse(
      (await getManifestBytes(reg.url, 'b1', `sha256-${digest.slice(7)}`))?.toString() ?? '{}',
    ) as { manifests: { digest: string; artifactType: string; annotations: Record<string, string> }[] };
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]).toMatchObject({
      digest: signed?.['signature-ref'].split('@')[1],
      artifactType: BUNDLE_MEDIA_TYPE,
      annotations: { 'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE_TYPE },
    });

    const ours = await verifyImage(registry, `${reg.host}/b1:v1`, {
      keys: [await pub('gantry.pub')],
      annotations: { commit: 'abc' },
    });
    expect(ours.verified, ours.problems.join('; ')).toBe(true);
    expect(ours.signatures[0]?.format).toBe('bundle');

    const res = await cosignVerifyAttestation('gantry.pub', `${reg.host}/b1@${digest}`);
    expect(res.exitCode, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout.split('\n')[0] ?? '{}') as { payload: string };
    const statement = JSON.parse(Buffer.from(out.payload, 'base64').toString()) as {
      predicateType: string;
      subject: { annotations: Record<string, string> }[];
    };
    expect(statement.predicateType).toBe(COSIGN_SIGN_PREDICATE_TYPE);
    expect(statement.subject[0]?.annotations).toEqual({ commit: 'abc' });
  });

  it('cosign 2.5 `verify --new-bundle-format` does not read referrers: "no signatures found"', async () => {
    const digest = await pushImage(reg.url, 'b2', 'v1');
    await signImages({ registry, images: [`${reg.host}/b2:v1`], key: await gantryKey(), format: 'bundle' });
    const res = await cosign([
      'verify',
      '--new-bundle-format',
      '--trusted-root',
      trustedRoot,
      '--key',
      join(dir, 'gantry.pub'),
      '--insecure-ignore-tlog',
      ...REGISTRY_FLAGS,
      `${reg.host}/b2@${digest}`,
    ]);
    expect(res.exitCode).not.toBe(0);
    expect(res.stderr).toMatch(/no signatures found/);
  });

  it('tampering is rejected by both: wrong key; a statement about another image', async () => {
    const digest = await pushImage(reg.url, 'b3', 'v1');
    const other = await pushImage(reg.url, 'b3', 'other');
    await signImages({ registry, images: [`${reg.host}/b3:v1`], key: await gantryKey(), format: 'bundle' });
    const wrongKey = await verifyImage(registry, `${reg.host}/b3:v1`, { keys: [await pub('cosign.pub')] });
    expect(wrongKey.verified).toBe(false);
    expect(wrongKey.problems.join()).toMatch(/does not verify with/);
    expect((await cosignVerifyAttestation('cosign.pub', `${reg.host}/b3@${digest}`)).exitCode).not.toBe(0);

    // a correctly signed statement about `other`, attached as a referrer of an unsigned image
    const victim = await pushImage(reg.url, 'b3', 'victim');
    const key = await gantryKey();
    const bundle = buildKeyBundle(key, buildSignStatement(other));
    const repo = { domain: reg.host, path: 'b3' };
    await registry.putBlob(repo, bundle);
    await registry.putBlob(repo, Buffer.from('{}'));
    const victimManifest = await registry.getManifest({ ...repo, digest: victim });
    const misattached = buildBundleReferrerManifest({
      subject: {
        mediaType: OCI_MANIFEST_MEDIA_TYPE,
        digest: victim,
        size: victimManifest?.bytes.length ?? 0,
      },
      bundle,
      predicateType: COSIGN_SIGN_PREDICATE_TYPE,
      created: new Date(),
    });
    await registry.putReferrer?.({ ...repo, digest: victim }, misattached, OCI_MANIFEST_MEDIA_TYPE);
    const r = await verifyImage(registry, `${reg.host}/b3:victim`, { keys: [await pub('gantry.pub')] });
    expect(r.verified).toBe(false);
    expect(r.problems.join()).toMatch(new RegExp(`is for sha256:${other.slice(7)}, not for ${victim}`));
    const c = await cosignVerifyAttestation('gantry.pub', `${reg.host}/b3@${victim}`);
    expect(c.exitCode).not.toBe(0);
  });

  it('two signers: both bundles are kept in the index and verify', async () => {
    const digest = await pushImage(reg.url, 'b5', 'v1');
    await signImages({ registry, images: [`${reg.host}/b5:v1`], key: await gantryKey(), format: 'bundle' });
    const cosignKey = await loadSigningKey({ key: join(dir, 'cosign.key'), password: 'c', env: {} });
    await signImages({ registry, images: [`${reg.host}/b5:v1`], key: cosignKey, format: 'bundle' });
    const r = await verifyImage(registry, `${reg.host}/b5@${digest}`, {
      keys: [await pub('gantry.pub'), await pub('cosign.pub')],
    });
    expect(r.signatures.map((s) => s.signer).sort()).toEqual([
      join(dir, 'cosign.pub'),
      join(dir, 'gantry.pub'),
    ]);
    expect((await cosignVerifyAttestation('cosign.pub', `${reg.host}/b5@${digest}`)).exitCode).toBe(0);
    expect((await cosignVerifyAttestation('gantry.pub', `${reg.host}/b5@${digest}`)).exitCode).toBe(0);
  });
});

describe('bundle format: recursive', () => {
  it('signs an index and every platform manifest, each with its own referrer', async () => {
    const { index, children } = await pushIndex(reg.url, 'multi-b', 'v1');
    const signed = await signImages({
      registry,
      images: [`${reg.host}/multi-b:v1`],
      key: await gantryKey(),
      format: 'bundle',
      recursive: true,
    });
    expect(signed.map((s) => s.digest)).toEqual([index, ...children]);
    for (const digest of [index, ...children]) {
      const r = await verifyImage(registry, `${reg.host}/multi-b@${digest}`, {
        keys: [await pub('gantry.pub')],
        format: 'bundle',
      });
      expect(r.verified, r.problems.join('; ')).toBe(true);
      const c = await cosignVerifyAttestation('gantry.pub', `${reg.host}/multi-b@${digest}`);
      expect(c.exitCode, c.stderr).toBe(0);
    }
  });
});

describe('bundle format: cosign → gantry', () => {
  it('cosign attest --type sign/v1 is a signature for gantry; --type custom is an attestation only', async () => {
    const digest = await pushImage(reg.url, 'c1', 'v1');
    const ref = `${reg.host}/c1@${digest}`;
    const custom = await cosignAttest(ref, 'custom', { hello: 'world' });
    expect(custom.exitCode, custom.stderr).toBe(0);
    const onlyAttestation = await verifyImage(registry, ref, { keys: [await pub('cosign.pub')] });
    expect(onlyAttestation.verified).toBe(false);
    expect(onlyAttestation.attestations).toMatchObject([
      { predicateType: 'https://cosign.sigstore.dev/attestation/v1', signer: join(dir, 'cosign.pub') },
    ]);
    // cosign wrote its fallback-index entry with the config type as artifactType; found anyway
    const index = JSON.parse(
      (await getManifestBytes(reg.url, 'c1', `sha256-${digest.slice(7)}`))?.toString() ?? '{}',
    ) as { manifests: { artifactType: string }[] };
    expect(index.manifests[0]?.artifactType).toBe('application/vnd.oci.empty.v1+json');

    const sign = await cosignAttest(ref, COSIGN_SIGN_PREDICATE_TYPE, {});
    expect(sign.exitCode, sign.stderr).toBe(0);
    const r = await verifyImage(registry, ref, { keys: [await pub('cosign.pub')], format: 'bundle' });
    expect(r.verified, r.problems.join('; ')).toBe(true);
    expect(r.signatures).toHaveLength(1);
    expect(r.attestations).toHaveLength(1);
    expect((await verifyImage(registry, ref, { keys: [await pub('gantry.pub')] })).verified).toBe(false);
  });
});

describe('CLI', () => {
  it('gantry sign --format bundle, gantry verify --format bundle|legacy --json', async () => {
    const digest = await pushImage(reg.url, 'cli-b', 'v1');
    const s = await gantry(
      ['sign', '--key', join(dir, 'gantry.key'), '--format', 'bundle', '--json', `${reg.host}/cli-b:v1`],
      { COSIGN_PASSWORD: 'g' },
    );
    expect(s.code, s.stderr).toBe(0);
    const signed = JSON.parse(s.stdout) as { signatures: { digest: string; 'signature-ref': string }[] };
    expect(signed.signatures[0]?.digest).toBe(digest);
    const v = await gantry([
      'verify',
      '--key',
      join(dir, 'gantry.pub'),
      '--format',
      'bundle',
      '--json',
      `${reg.host}/cli-b:v1`,
    ]);
    expect(v.code, v.stderr).toBe(0);
    const out = JSON.parse(v.stdout) as {
      images: { signatures: { format: string; signatureRef: string }[] }[];
    };
    expect(out.images[0]?.signatures).toMatchObject([
      { format: 'bundle', signatureRef: signed.signatures[0]?.['signature-ref'] },
    ]);
    const legacy = await gantry([
      'verify',
      '--key',
      join(dir, 'gantry.pub'),
      '--format',
      'legacy',
      `${reg.host}/cli-b:v1`,
    ]);
    expect(legacy.code).toBe(1);
    const bad = await gantry([
      'verify',
      '--key',
      join(dir, 'gantry.pub'),
      '--format',
      'both',
      `${reg.host}/cli-b:v1`,
    ]);
    expect(bad.code).toBe(2);
  });
});
