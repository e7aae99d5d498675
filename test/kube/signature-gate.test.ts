// k3s-deploy's signature gate, without a cluster: the keyless inputs' validation (exit 2 naming the
// input, before anything is read or contacted), the keyless policy built from a trusted root by
// the code `gantry verify` uses, the either-authority rule, and action.yml ↔ CLI flags.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { deployCommand } from '../../src/cli/commands/deploy.js';
import { releaseCommand } from '../../src/cli/commands/release.js';
import { runCli } from '../../src/cli/main.js';
import { isGantryError } from '../../src/core/errors.js';
import { Inputs, envInputSource } from '../../src/core/inputs.js';
import { certificatePolicyFromTrustedRoot } from '../../src/cosign/run.js';
import {
  KEYLESS_GATE_INPUTS,
  anyOfVerifiers,
  keylessGateInputs,
  signatureGate,
  type ImageVerdict,
  type ImageVerifier,
} from '../../src/kube/images.js';
import { readReleaseInputs } from '../../src/kube/release-step.js';
import { readDeployInputs, toDeployOptions } from '../../src/kube/run.js';
import type { Registry } from '../../src/oci/registry.js';
import { conformancePath } from '../cosign/conformance.js';

const ISSUER = 'https://token.actions.githubusercontent.com';
const IDENTITY = 'https://github.com/acme/app/.github/workflows/deploy.yml@refs/heads/main';
const ROOT = conformancePath('sigstore-conformance', 'production_trusted_root.json');

const inputs = (env: Record<string, string>): Inputs => new Inputs(envInputSource(env));
const deployInputs = (env: Record<string, string>) =>
  readDeployInputs(inputs({ INPUT_DEPLOYMENTS: 'api=registry.example/api:v2', ...env }));

function configurationInput(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(isGantryError(e, 'configuration'), String(e)).toBe(true);
    return (e as { input?: string }).input;
  }
  return expect.fail('should throw a ConfigurationError');
}

const KEYLESS = {
  'INPUT_VERIFY-CERTIFICATE-IDENTITY': IDENTITY,
  'INPUT_VERIFY-CERTIFICATE-OIDC-ISSUER': ISSUER,
  'INPUT_VERIFY-TRUSTED-ROOT': ROOT,
};

describe('keyless gate inputs', () => {
  it('none given: no keyless authority (verify-key alone, or no gate)', () => {
    expect(keylessGateInputs(deployInputs({}))).toBeUndefined();
    expect(keylessGateInputs(deployInputs({ 'INPUT_VERIFY-KEY': 'env://K' }))).toBeUndefined();
  });

  it('identity + issuer + trusted root are read under their verify- names', () => {
    expect(keylessGateInputs(deployInputs(KEYLESS))).toEqual({
      certificateIdentity: IDENTITY,
      certificateIdentityRegexp: undefined,
      certificateOidcIssuer: ISSUER,
      certificateOidcIssuerRegexp: undefined,
      trustedRoot: ROOT,
    });
    expect(
      keylessGateInputs(
        deployInputs({
          'INPUT_VERIFY-CERTIFICATE-IDENTITY-REGEXP': 'https://github\\.com/acme/.*',
          'INPUT_VERIFY-CERTIFICATE-OIDC-ISSUER-REGEXP': 'https://token\\.actions\\..*',
          'INPUT_VERIFY-TRUSTED-ROOT': ROOT,
          'INPUT_VERIFY-KEY': 'env://K', // key and keyless together are allowed
        }),
      ),
    ).toMatchObject({ certificateIdentityRegexp: 'https://github\\.com/acme/.*', trustedRoot: ROOT });
  });

  const { 'INPUT_VERIFY-CERTIFICATE-IDENTITY': _i, ...noIdentity } = KEYLESS;
  const { 'INPUT_VERIFY-CERTIFICATE-OIDC-ISSUER': _o, ...noIssuer } = KEYLESS;
  const { 'INPUT_VERIFY-TRUSTED-ROOT': _r, ...noRoot } = KEYLESS;
  it.each([
    ['identity without issuer', noIssuer, 'verify-certificate-oidc-issuer'],
    ['identity without trusted root', noRoot, 'verify-trusted-root'],
    ['issuer and root without identity', noIdentity, 'verify-certificate-identity'],
    ['a trusted root alone', { 'INPUT_VERIFY-TRUSTED-ROOT': ROOT }, 'verify-certificate-identity'],
    [
      'an issuer alone, next to verify-key',
      { 'INPUT_VERIFY-KEY': 'env://K', 'INPUT_VERIFY-CERTIFICATE-OIDC-ISSUER': ISSUER },
      'verify-certificate-identity',
    ],
    [
      'identity and identity-regexp',
      { ...KEYLESS, 'INPUT_VERIFY-CERTIFICATE-IDENTITY-REGEXP': '.*' },
      'verify-certificate-identity-regexp',
    ],
    [
      'issuer and issuer-regexp',
      { ...KEYLESS, 'INPUT_VERIFY-CERTIFICATE-OIDC-ISSUER-REGEXP': '.*' },
      'verify-certificate-oidc-issuer-regexp',
    ],
    [
      'an identity regexp that does not compile',
      { ...noIdentity, 'INPUT_VERIFY-CERTIFICATE-IDENTITY-REGEXP': 'https://(github' },
      'verify-certificate-identity-regexp',
    ],
    [
      'an issuer regexp that does not compile',
      { ...noIssuer, 'INPUT_VERIFY-CERTIFICATE-OIDC-ISSUER-REGEXP': '[' },
      'verify-certificate-oidc-issuer-regexp',
    ],
  ])('%s: a ConfigurationError naming the input, from toDeployOptions', (_name, env, input) => {
    // toDeployOptions is what runDeploy and runRelease call before reading or contacting anything
    expect(configurationInput(() => toDeployOptions(deployInputs(env), {}))).toBe(input);
  });

  it('gantry deploy / gantry release: exit 2 naming the flag, before any cluster is contacted', async () => {
    for (const command of ['deploy', 'release']) {
      let stderr = '';
      const code = await runCli(
        [
          command,
          'api=registry.example/api:v2',
          '--verify-certificate-identity',
          IDENTITY,
          '--verify-trusted-root',
          ROOT,
          // unreachable on purpose: validation must come first
          '--kubeconfig',
          join(tmpdir(), 'gantry-no-such-kubeconfig'),
          ...(command === 'release' ? ['--smoke-url', 'http://127.0.0.1:9/'] : []),
        ],
        { stdout: () => undefined, stderr: (t) => (stderr += t), env: { PATH: process.env.PATH } },
      );
      expect(code, stderr).toBe(2);
      expect(stderr).toContain('verify-certificate-oidc-issuer');
    }
  });

  it('gantry release reads the same keyless flags', async () => {
    const r = await readReleaseInputs(
      inputs({
        INPUT_DEPLOYMENTS: 'api=registry.example/api:v2',
        'INPUT_SMOKE-URL': 'http://127.0.0.1:9/',
        ...KEYLESS,
      }),
      {},
    );
    expect(keylessGateInputs(r.deploy)).toMatchObject({ certificateIdentity: IDENTITY, trustedRoot: ROOT });
  });
});

describe('keyless policy from a trusted root (shared with gantry verify)', () => {
  const keyless = keylessGateInputs(deployInputs(KEYLESS));

  it('Fulcio roots, Rekor keys, the trusted root itself and the identity constraint', async () => {
    const policy = await certificatePolicyFromTrustedRoot(keyless!, KEYLESS_GATE_INPUTS);
    const root = JSON.parse(readFileSync(ROOT, 'utf8')) as { tlogs: unknown[] };
    expect(policy.trustedRoot).toEqual(root);
    expect(policy.certificate?.roots.length).toBeGreaterThan(0);
    expect(policy.certificate?.roots[0]).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(policy.rekorKeys?.length).toBe(root.tlogs.length);
    expect(policy.certificate?.identities).toEqual([{ subject: IDENTITY, issuer: ISSUER }]);
  });

  it('regexps match whole values', async () => {
    const policy = await certificatePolicyFromTrustedRoot(
      keylessGateInputs(
        deployInputs({
          'INPUT_VERIFY-CERTIFICATE-IDENTITY-REGEXP': 'https://github\\.com/acme/.*',
          'INPUT_VERIFY-CERTIFICATE-OIDC-ISSUER-REGEXP': 'https://token\\.actions\\.githubusercontent\\.com',
          'INPUT_VERIFY-TRUSTED-ROOT': ROOT,
        }),
      )!,
      KEYLESS_GATE_INPUTS,
    );
    const [id] = policy.certificate?.identities ?? [];
    const subject = id?.subject as RegExp;
    expect(subject.test(IDENTITY)).toBe(true);
    expect(subject.test(`https://evil.example/?${IDENTITY}`)).toBe(false);
    expect((id?.issuer as RegExp).test(ISSUER)).toBe(true);
    expect((id?.issuer as RegExp).test(`${ISSUER}.evil`)).toBe(false);
  });

  it('a missing, malformed or CA-less trusted root is a ConfigurationError naming verify-trusted-root', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-root-'));
    const bad = join(dir, 'bad.json');
    const empty = join(dir, 'empty.json');
    writeFileSync(bad, '{');
    writeFileSync(empty, JSON.stringify({ tlogs: [], certificateAuthorities: [] }));
    for (const trustedRoot of [join(dir, 'missing.json'), bad, empty]) {
      const err = await certificatePolicyFromTrustedRoot(
        { ...keyless!, trustedRoot },
        KEYLESS_GATE_INPUTS,
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isGantryError(err, 'configuration'), String(err)).toBe(true);
      expect((err as { input?: string }).input).toBe('verify-trusted-root');
      expect(String((err as Error).message)).toContain('verify-trusted-root');
    }
  });

  it('signatureGate: keyless only, key + keyless, or nothing', async () => {
    const registry = {} as Registry;
    expect(await signatureGate({ keys: [], keyless: undefined, registry })).toBeUndefined();
    expect(await signatureGate({ keys: [], keyless, registry })).toBeDefined();
    const bad = join(mkdtempSync(join(tmpdir(), 'gantry-root-')), 'missing.json');
    // the trusted root is read when the gate is built (before anything is patched)
    const err = await signatureGate({ keys: [], keyless: { ...keyless!, trustedRoot: bad }, registry }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as { input?: string }).input).toBe('verify-trusted-root');
  });
});

describe('either authority verifies (key or keyless)', () => {
  const fixed = (v: ImageVerdict): ImageVerifier & { calls: number } => {
    const f = {
      calls: 0,
      verify: () => {
        f.calls++;
        return Promise.resolve(v);
      },
    };
    return f;
  };
  const yes = (signer: string): ImageVerdict => ({ verified: true, signers: [signer], problems: [] });
  const no = (problem: string): ImageVerdict => ({ verified: false, signers: [], problems: [problem] });
  const image = { domain: 'r.example', path: 'api' };

  it('the key verifies: keyless is not asked', async () => {
    const keyless = fixed(yes(IDENTITY));
    const v = await anyOfVerifiers([
      { label: 'verify-key', verifier: fixed(yes('cosign.pub')) },
      { label: 'keyless', verifier: keyless },
    ]).verify(image, 'sha256:x');
    expect(v).toEqual(yes('cosign.pub'));
    expect(keyless.calls).toBe(0);
  });

  it('only keyless verifies: passes with the certificate identity', async () => {
    const v = await anyOfVerifiers([
      { label: 'verify-key', verifier: fixed(no('no signatures found')) },
      { label: 'keyless', verifier: fixed(yes(IDENTITY)) },
    ]).verify(image, 'sha256:x');
    expect(v).toEqual(yes(IDENTITY));
  });

  it('neither: refused with the reasons of both, labelled', async () => {
    const v = await anyOfVerifiers([
      { label: 'verify-key', verifier: fixed(no('does not verify with k')) },
      { label: 'keyless', verifier: fixed(no('not the expected one')) },
    ]).verify(image, 'sha256:x');
    expect(v).toEqual({
      verified: false,
      signers: [],
      problems: ['verify-key: does not verify with k', 'keyless: not the expected one'],
    });
  });
});

describe('action.yml ↔ gantry deploy / release', () => {
  const yml = parseYaml(
    readFileSync(new URL('../../actions/k3s-deploy/action.yml', import.meta.url), 'utf8'),
  ) as { inputs: Record<string, { description: string }> };
  const names = [
    'verify-key',
    'verify-certificate-identity',
    'verify-certificate-identity-regexp',
    'verify-certificate-oidc-issuer',
    'verify-certificate-oidc-issuer-regexp',
    'verify-trusted-root',
  ];
  it('the action and both commands declare every signature-gate input', () => {
    for (const name of names) {
      expect(Object.keys(yml.inputs)).toContain(name);
      expect(deployCommand.options.map((o) => o.name)).toContain(name);
      expect(releaseCommand.options.map((o) => o.name)).toContain(name);
    }
  });
  it('the action and gantry deploy declare the same inputs', () => {
    expect(Object.keys(yml.inputs).sort()).toEqual(deployCommand.options.map((o) => o.name).sort());
  });
});
