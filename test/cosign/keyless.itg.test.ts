/**
 * Keyless signing end to end, offline: sigstore-js gets a certificate from a Fulcio stand-in and a
 * Rekor entry from a Rekor stand-in (@sigstore/mock over loopback HTTP), gantry stores the result
 * in the legacy `.sig` layout and as a bundle referrer in a real registry, and gantry verify
 * checks both against the matching trusted root and the certificate identity.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { cosign, getManifestBytes, pushImage } from './helpers.js';
import { startSigstoreServices, type SigstoreServices } from './sigstore-services.js';

const ISSUER = 'https://token.actions.githubusercontent.com';
const IDENTITY = 'https://github.com/acme/app/.github/workflows/deploy.yml@refs/heads/main';

let reg: RunningRegistry;
let sigstore: SigstoreServices;
let rootFile: string;
const files = { fulcioRoot: '', rekorKey: '', ctKey: '' };

beforeAll(async () => {
  [reg, sigstore] = await Promise.all([startRegistry({ auth: 'none' }), startSigstoreServices()]);
  const dir = mkdtempSync(join(tmpdir(), 'gantry-keyless-'));
  rootFile = join(dir, 'trusted_root.json');
  writeFileSync(rootFile, JSON.stringify(sigstore.trustedRoot));
  const root = sigstore.trustedRoot as {
    certificateAuthorities: { certChain: { certificates: { rawBytes: string }[] } }[];
    tlogs: { publicKey: { rawBytes: string } }[];
    ctlogs: { publicKey: { rawBytes: string } }[];
  };
  const pem = (label: string, b64: string) =>
    `-----BEGIN ${label}-----\n${(b64.match(/.{1,64}/g) ?? []).join('\n')}\n-----END ${label}-----\n`;
  files.fulcioRoot = join(dir, 'fulcio.pem');
  files.rekorKey = join(dir, 'rekor.pub');
  files.ctKey = join(dir, 'ctlog.pub');
  writeFileSync(
    files.fulcioRoot,
    pem('CERTIFICATE', root.certificateAuthorities[0]?.certChain.certificates[0]?.rawBytes ?? ''),
  );
  writeFileSync(files.rekorKey, pem('PUBLIC KEY', root.tlogs[0]?.publicKey.rawBytes ?? ''));
  writeFileSync(files.ctKey, pem('PUBLIC KEY', root.ctlogs[0]?.publicKey.rawBytes ?? ''));
});

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

const signKeyless = (format: string, image: string) =>
  gantry(
    [
      'sign',
      '--mode',
      'keyless',
      '--format',
      format,
      '--fulcio-url',
      sigstore.url,
      '--rekor-url',
      sigstore.url,
      '--annotations',
      'commit=abc',
      '--json',
      image,
    ],
    { SIGSTORE_ID_TOKEN: sigstore.token({ iss: ISSUER, sub: IDENTITY }) },
  );

const verifyKeyless = (image: string, extra: string[] = [], identity = IDENTITY) =>
  gantry([
    'verify',
    '--certificate-identity',
    identity,
    '--certificate-oidc-issuer',
    ISSUER,
    '--trusted-root',
    rootFile,
    '--json',
    ...extra,
    image,
  ]);

/** cosign 2.5 verifying a keyless signature made against the stand-ins, without TUF. */
function cosignVerifyKeyless(format: 'legacy' | 'bundle', ref: string) {
  const identity = ['--certificate-identity', IDENTITY, '--certificate-oidc-issuer', ISSUER];
  const flags = ['--allow-insecure-registry', '--allow-http-registry'];
  // cosign 2.5 still loads the legacy Fulcio/Rekor/CT material (TUF, unless given by env) even
  // when it verifies a bundle against --trusted-root
  const env = {
    SIGSTORE_ROOT_FILE: files.fulcioRoot,
    SIGSTORE_REKOR_PUBLIC_KEY: files.rekorKey,
    SIGSTORE_CT_LOG_PUBLIC_KEY_FILE: files.ctKey,
  };
  if (format === 'bundle') {
    return cosign(
      [
        'verify-attestation',
        '--new-bundle-format',
        '--trusted-root',
        rootFile,
        '--type',
        'https://sigstore.dev/cosign/sign/v1',
        ...identity,
        ...flags,
        ref,
      ],
      env,
    );
  }
  return cosign(['verify', ...identity, ...flags, ref], env);
}
describe('keyless signing against Fulcio/Rekor stand-ins', () => {
  for (const format of ['legacy', 'bundle'] as const) {
    it(`format ${format}: signs via Fulcio + Rekor, verifies with the trusted root and identity`, async () => {
      const before = sigstore.requests.length;
      const digest = await pushImage(reg.url, `kl-${format}`, 'v1');
      const image = `${reg.host}/kl-${format}:v1`;
      const s = await signKeyless(format, image);
      expect(s.code, s.stderr).toBe(0);
      expect(sigstore.requests.slice(before)).toEqual([
        'POST /api/v2/signingCert',
        'POST /api/v1/log/entries',
      ]);
      const sigTag = await getManifestBytes(reg.url, `kl-${format}`, `sha256-${digest.slice(7)}.sig`);
      expect(sigTag !== undefined).toBe(format === 'legacy');

      const v = await verifyKeyless(image, ['--format', format, '--annotations', 'commit=abc']);
      expect(v.code, v.stdout + v.stderr).toBe(0);
      const out = JSON.parse(v.stdout) as { images: { signatures: { signer: string; format: string }[] }[] };
      expect(out.images[0]?.signatures).toMatchObject([{ signer: IDENTITY, format }]);

      // the real cosign accepts it too (offline: trusted root / env-provided roots and keys)
      const c = await cosignVerifyKeyless(format, `${reg.host}/kl-${format}@${digest}`);
      expect(c.exitCode, c.stderr).toBe(0);

      // another identity, or another trusted root, is refused
      const other = await verifyKeyless(
        image,
        ['--format', format],
        'https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main',
      );
      expect(other.code).toBe(1);
      expect(other.stdout + other.stderr).toMatch(/not the expected one/);
    });
  }

  it('a trusted root without the mock CA rejects both formats', async () => {
    await pushImage(reg.url, 'kl-root', 'v1');
    const image = `${reg.host}/kl-root:v1`;
    expect((await signKeyless('legacy', image)).code).toBe(0);
    expect((await signKeyless('bundle', image)).code).toBe(0);
    const foreign = await startSigstoreServices();
    const foreignRoot = join(mkdtempSync(join(tmpdir(), 'gantry-keyless-')), 'trusted_root.json');
    writeFileSync(foreignRoot, JSON.stringify(foreign.trustedRoot));
    const v = await gantry([
      'verify',
      '--certificate-identity',
      IDENTITY,
      '--certificate-oidc-issuer',
      ISSUER,
      '--trusted-root',
      foreignRoot,
      '--json',
      image,
    ]);
    expect(v.code).toBe(1);
    const out = JSON.parse(v.stdout) as { images: { signatures: unknown[]; problems: string[] }[] };
    expect(out.images[0]?.signatures).toEqual([]);
    expect(out.images[0]?.problems.some((p) => p.startsWith('bundle '))).toBe(true);
    expect(out.images[0]?.problems.some((p) => p.startsWith('layer '))).toBe(true);
  });
});
