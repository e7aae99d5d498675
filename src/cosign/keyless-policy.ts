/**
 * The keyless verification policy — Fulcio CA certificates and Rekor keys from a Sigstore
 * trusted_root.json, plus the certificate identity constraints — shared by verify-image
 * (`gantry verify`) and k3s-deploy's signature gate (src/kube/images.ts), which name the same
 * inputs differently (`trusted-root` vs `verify-trusted-root`): every error names the caller's
 * input. Light on purpose: k3s-deploy imports `anchoredRegexp` statically to validate its inputs,
 * so the Sigstore code (bundle.ts) is only loaded when a trusted root is actually read.
 */
import { readFile } from 'node:fs/promises';
import { ConfigurationError, errorMessage } from '../core/errors.js';
import type { trustedRootMaterial } from './bundle.js';
import type { VerifyInputs } from './inputs.js';
import type { ImageVerificationPolicy } from './verify-image.js';

export type KeylessInputs = Pick<
  VerifyInputs,
  | 'certificateIdentity'
  | 'certificateIdentityRegexp'
  | 'certificateOidcIssuer'
  | 'certificateOidcIssuerRegexp'
  | 'trustedRoot'
>;

/** The input names errors refer to, per field (verify-image's names by default). */
export type KeylessInputNames = Record<keyof KeylessInputs, string>;

export const VERIFY_IMAGE_KEYLESS_INPUTS: KeylessInputNames = {
  certificateIdentity: 'certificate-identity',
  certificateIdentityRegexp: 'certificate-identity-regexp',
  certificateOidcIssuer: 'certificate-oidc-issuer',
  certificateOidcIssuerRegexp: 'certificate-oidc-issuer-regexp',
  trustedRoot: 'trusted-root',
};

export type KeylessPolicy = Pick<ImageVerificationPolicy, 'certificate' | 'rekorKeys' | 'trustedRoot'>;

/**
 * A whole-value RegExp: gantry anchors the `*-regexp` patterns (cosign's Go regexp match is
 * unanchored), so `https://github.com/acme/.*` cannot match a value that merely contains it. A
 * pattern that does not compile is a ConfigurationError naming `input`.
 */
export function anchoredRegexp(pattern: string, input: string): RegExp {
  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch (e) {
    throw new ConfigurationError(`input "${input}": not a valid regular expression: ${errorMessage(e)}`, {
      input,
      cause: e,
    });
  }
}

/** Fulcio CA certificates, Rekor keys and identity constraints from a Sigstore trusted root file. */
export async function certificatePolicyFromTrustedRoot(
  inputs: KeylessInputs,
  names: KeylessInputNames = VERIFY_IMAGE_KEYLESS_INPUTS,
): Promise<KeylessPolicy> {
  const regexp = (s: string | undefined, input: string): RegExp | undefined =>
    s === undefined ? undefined : anchoredRegexp(s, input);
  // the identity constraints first: a bad pattern is reported before the file is read
  const subject =
    inputs.certificateIdentity ?? regexp(inputs.certificateIdentityRegexp, names.certificateIdentityRegexp);
  const issuer =
    inputs.certificateOidcIssuer ??
    regexp(inputs.certificateOidcIssuerRegexp, names.certificateOidcIssuerRegexp);
  let root: unknown;
  try {
    root = JSON.parse(await readFile(inputs.trustedRoot ?? '', 'utf8'));
  } catch (e) {
    throw new ConfigurationError(
      `${names.trustedRoot} ${inputs.trustedRoot ?? ''} cannot be read: ${errorMessage(e)}`,
      { input: names.trustedRoot },
    );
  }
  const bundle = await import('./bundle.js');
  let material: ReturnType<typeof trustedRootMaterial>;
  try {
    material = bundle.trustedRootMaterial(root);
  } catch (e) {
    throw new ConfigurationError(
      `${names.trustedRoot} ${inputs.trustedRoot ?? ''} is not a Sigstore trusted root: ${errorMessage(e)}`,
      { input: names.trustedRoot, cause: e },
    );
  }
  if (material.roots.length === 0) {
    throw new ConfigurationError(
      `${names.trustedRoot} ${inputs.trustedRoot ?? ''} is not a Sigstore trusted root: it names no certificate authority`,
      { input: names.trustedRoot },
    );
  }
  return {
    certificate: {
      roots: material.roots,
      intermediates: material.intermediates,
      identities: [{ subject, issuer }],
    },
    // keyless signatures are only as good as their transparency log entry: require the SET
    rekorKeys: material.rekorKeys,
    // keyless bundles are verified by sigstore-js against the trusted root itself
    trustedRoot: root,
  };
}
