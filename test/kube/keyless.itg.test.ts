// The keyless signature gate of k3s-deploy, end to end and offline: images signed keylessly
// (`gantry sign --mode keyless`: a Fulcio certificate and a Rekor entry from the loopback
// stand-ins of test/cosign/sigstore-services.ts) in both storage formats, in the real registry,
// deployed to kubesim by `gantry deploy` with the right identity/issuer/trusted root; the wrong
// identity, another trusted root or an unsigned image are refused (exit 1, nothing patched).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { publicKeyPem } from '../../src/cosign/keys.js';
import { startSigstoreServices, type SigstoreServices } from '../cosign/sigstore-services.js';
import { imagesOf, startKubeEnv, type KubeEnv } from './harness.js';

const ISSUER = 'https://token.actions.githubusercontent.com';
const IDENTITY = 'https://github.com/acme/app/.github/workflows/deploy.yml@refs/heads/main';
const EVIL = 'https://github.com/evil/app/.github/workflows/deploy.yml@refs/heads/main';

let env: KubeEnv;
let sigstore: SigstoreServices;
let rootFile: string;
let foreignRootFile: string;
let otherKeyFile: string;

beforeAll(async () => {
  let foreign: SigstoreServices;
  [env, sigstore, foreign] = await Promise.all([
    startKubeEnv(),
    startSigstoreServices(),
    startSigstoreServices(),
  ]);
  const dir = await mkdtemp(join(tmpdir(), 'gantry-kube-keyless-'));
  rootFile = join(dir, 'trusted_root.json');
  foreignRootFile = join(dir, 'foreign_trusted_root.json');
  otherKeyFile = join(dir, 'other.pub');
  await writeFile(rootFile, JSON.stringify(sigstore.trustedRoot));
  await writeFile(foreignRootFile, JSON.stringify(foreign.trustedRoot));
  const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  await writeFile(otherKeyFile, publicKeyPem(other.publicKey));
});

async function gantry(
  argv: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: { PATH: process.env.PATH ?? '', ...extraEnv },
  });
  return { code, stdout, stderr };
}

async function signKeyless(image: string, format: 'legacy' | 'bundle', identity = IDENTITY): Promise<void> {
  const r = await gantry(
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
      '--json',
      image,
    ],
    { SIGSTORE_ID_TOKEN: sigstore.token({ iss: ISSUER, sub: identity }) },
  );
  expect(r.code, r.stderr).toBe(0);
}

const keyless = (o: { identity?: string[]; root?: string } = {}): string[] => [
  ...(o.identity ?? ['--verify-certificate-identity', IDENTITY]),
  '--verify-certificate-oidc-issuer',
  ISSUER,
  '--verify-trusted-root',
  o.root ?? rootFile,
];

const deploy = (ns: string, line: string, flags: string[]) =>
  gantry(['deploy', line, '--namespace', ns, '--kubeconfig', env.kubesim.kubeconfig, '--json', ...flags]);

async function expectRefused(
  ns: string,
  generation: number | undefined,
  r: { code: number; stderr: string },
  reason: RegExp,
): Promise<void> {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toContain('signature verification failed; nothing was deployed');
  expect(r.stderr).toMatch(reason);
  expect((await env.getDeployment(ns, 'api')).metadata.generation).toBe(generation);
}

describe('k3s-deploy keyless gate (Fulcio + Rekor stand-ins, kubesim, real registry)', () => {
  for (const format of ['legacy', 'bundle'] as const) {
    it(`format ${format}: the right identity deploys; another identity or trusted root is refused`, async () => {
      const ns = `keyless-${format}`;
      await env.namespace(ns);
      const v1 = await env.image(`kl/${format}`, 'v1');
      const before = await env.createDeployment(ns, { name: 'api', image: v1, replicas: 1 });
      const v2 = await env.image(`kl/${format}`, 'v2');
      await signKeyless(v2, format);
      const line = `api=${v2}`;
      const gen = before.metadata.generation;

      await expectRefused(
        ns,
        gen,
        await deploy(ns, line, keyless({ identity: ['--verify-certificate-identity', EVIL] })),
        /not the expected one/,
      );
      // another root: neither its Rekor key (legacy SET) nor its CA (bundle) vouches for the signature
      await expectRefused(
        ns,
        gen,
        await deploy(ns, line, keyless({ root: foreignRootFile })),
        format === 'legacy' ? /SET does not verify with the trusted Rekor key/ : /certificate chain/,
      );

      const ok = await deploy(ns, line, keyless());
      expect(ok.code, ok.stderr).toBe(0);
      expect((JSON.parse(ok.stdout) as { result: string }).result).toBe('succeeded');
      expect(ok.stderr).toContain(`signed by ${IDENTITY}`);
      const after = await env.getDeployment(ns, 'api');
      expect(imagesOf(after)[0]).toMatch(
        new RegExp(`^${env.registry.host}/kl/${format}@sha256:[0-9a-f]{64}$`),
      );
    });
  }

  it('an identity regexp matches the whole identity; an unsigned image is refused', async () => {
    const ns = 'keyless-regexp';
    await env.namespace(ns);
    const v1 = await env.image('kl/re', 'v1');
    const before = await env.createDeployment(ns, { name: 'api', image: v1, replicas: 1 });
    const unsigned = await env.image('kl/re', 'unsigned');
    const v2 = await env.image('kl/re', 'v2');
    await signKeyless(v2, 'bundle');
    const gen = before.metadata.generation;

    await expectRefused(
      ns,
      gen,
      await deploy(ns, `api=${unsigned}`, keyless()),
      /no bundle signatures found/,
    );
    // a prefix of the identity is not enough: patterns are anchored
    await expectRefused(
      ns,
      gen,
      await deploy(
        ns,
        `api=${v2}`,
        keyless({ identity: ['--verify-certificate-identity-regexp', 'https://github\\.com/acme/app'] }),
      ),
      /not the expected one/,
    );
    const ok = await deploy(
      ns,
      `api=${v2}`,
      keyless({ identity: ['--verify-certificate-identity-regexp', 'https://github\\.com/acme/app/.*'] }),
    );
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('verify-key and keyless together: either verifies; neither is refused with both reasons', async () => {
    const ns = 'keyless-and-key';
    await env.namespace(ns);
    const v1 = await env.image('kl/both', 'v1');
    const before = await env.createDeployment(ns, { name: 'api', image: v1, replicas: 1 });
    const v2 = await env.image('kl/both', 'v2');
    await signKeyless(v2, 'legacy');
    const line = `api=${v2}`;

    const neither = await deploy(ns, line, [
      '--verify-key',
      otherKeyFile,
      ...keyless({ identity: ['--verify-certificate-identity', EVIL] }),
    ]);
    await expectRefused(ns, before.metadata.generation, neither, /verify-key: .*does not verify/);
    expect(neither.stderr).toMatch(/keyless: .*not the expected one/);

    // the key alone refuses it (keyless-signed), so passing here is the keyless authority's doing
    const keyOnly = await deploy(ns, line, ['--verify-key', otherKeyFile]);
    await expectRefused(ns, before.metadata.generation, keyOnly, /does not verify/);

    const ok = await deploy(ns, line, ['--verify-key', otherKeyFile, ...keyless()]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain(`signed by ${IDENTITY}`);
  });
});
