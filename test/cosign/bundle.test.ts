/**
 * Sigstore bundle verification against sigstore-conformance's 70 cases (21 pass, 49 fail): keyless
 * and managed-key bundles, each with its trusted root — offline.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isGantryError } from '../../src/core/errors.js';
import {
  legacyAnnotationsFromBundle,
  trustedRootMaterial,
  verifySigstoreBundle,
} from '../../src/cosign/bundle.js';
import { verifySignatureLayer } from '../../src/cosign/verify-signature.js';
import { conformancePath, readConformanceJson } from './conformance.js';

interface Case {
  name: string;
  expect: 'pass' | 'fail';
  bundle: string;
  artifact: string | null;
  key: string | null;
  identity: string | null;
  issuer: string | null;
  trusted_root: string;
  description: string;
}
const cases = readConformanceJson<Case[]>('sigstore-conformance', 'cases.json');
const assets = (p: string): string => conformancePath('sigstore-conformance', 'assets', 'bundle-verify', p);

function rootFor(c: Case): unknown {
  const path = c.trusted_root.startsWith('PRODUCTION')
    ? conformancePath('sigstore-conformance', 'production_trusted_root.json')
    : assets(c.trusted_root);
  return JSON.parse(readFileSync(path, 'utf8'));
}

function artifactFor(c: Case): Buffer | undefined {
  if (!c.artifact) return undefined;
  for (const p of [assets(c.artifact), conformancePath('sigstore-conformance', 'assets', c.artifact)]) {
    if (existsSync(p)) return readFileSync(p);
  }
  return undefined;
}

/**
 * Cases the pinned verifier cannot pass yet, with the reason. Asserted as they are, so that a
 * verifier upgrade that fixes them makes this test fail and the entry gets removed.
 */
const KNOWN_UNSUPPORTED: Record<string, RegExp> = {
  // Rekor v2 "hashedrekord-over-DSSE" (rekor-v2-spec §6.1.4) is only in @sigstore/verify 4.x,
  // which needs Node 22+; gantry must run on Node 20.
  'rekor2-dsse-happy-path': /digest mismatch/,
};

describe('sigstore-conformance bundle cases', () => {
  it('has 70 cases', () => expect(cases).toHaveLength(70));
  for (const c of cases) {
    it(`${c.name} → ${c.expect}`, () => {
      let verdict: string;
      let reason = '';
      try {
        if (!existsSync(assets(c.bundle))) throw new Error(`missing ${c.bundle}`);
        verifySigstoreBundle({
          bundle: readFileSync(assets(c.bundle), 'utf8'),
          artifact: artifactFor(c),
          trustedRoot: rootFor(c),
          ...(c.key ? { key: readFileSync(assets(c.key), 'utf8') } : {}),
          ...(c.identity ? { identity: c.identity } : {}),
          ...(c.issuer ? { issuer: c.issuer } : {}),
        });
        verdict = 'pass';
      } catch (e) {
        if (!isGantryError(e)) throw e;
        verdict = 'fail';
        reason = e.message;
      }
      const known = KNOWN_UNSUPPORTED[c.name];
      if (known) {
        expect(verdict).toBe('fail');
        expect(reason).toMatch(known);
      } else {
        expect(verdict).toBe(c.expect);
      }
    });
  }
});

describe('keyless legacy annotations from a real public-good bundle (happy-path-v0.3)', () => {
  // The artifact is a.txt, not a simple-signing payload: reaching the payload check means the
  // certificate chain, identity, Rekor SET and signature all verified.
  const bundle = JSON.parse(readFileSync(assets('happy-path-v0.3/bundle.sigstore.json'), 'utf8')) as unknown;
  const material = trustedRootMaterial(
    JSON.parse(readFileSync(conformancePath('sigstore-conformance', 'production_trusted_root.json'), 'utf8')),
  );
  const identity =
    'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
  const layer = {
    mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
    payload: readFileSync(assets('a.txt')),
    annotations: legacyAnnotationsFromBundle(bundle),
  };
  const verdict = (issuer: string, rekorKeys = material.rekorKeys): string => {
    try {
      verifySignatureLayer(layer, 'sha256:' + '0'.repeat(64), {
        certificate: {
          roots: material.roots,
          intermediates: material.intermediates,
          identities: [{ subject: identity, issuer }],
        },
        rekorKeys,
      });
      return 'accept';
    } catch (e) {
      return (e as Error).message;
    }
  };

  it('certificate, identity, SET and signature verify', () => {
    expect(verdict('https://token.actions.githubusercontent.com')).toMatch(/signed payload is not JSON/);
  });
  it('another issuer or another Rekor key is rejected before the payload', () => {
    expect(verdict('https://accounts.google.com')).toMatch(/certificate identity/);
    expect(
      verdict('https://token.actions.githubusercontent.com', [
        generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey,
      ]),
    ).toMatch(/SET does not verify/);
  });
});
