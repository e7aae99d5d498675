/**
 * The typed inputs of sign-image and verify-image, read in one place for both the actions
 * (INPUT_*) and the CLI (flags), plus the pure decisions on them: which signing mode applies
 * (`auto` → keyless only when an OIDC token is available), and `k=v` annotation parsing.
 */
import { ConfigurationError, errorMessage } from '../core/errors.js';
import type { Inputs } from '../core/inputs.js';

export type SigningMode = 'key' | 'keyless';
export type SignatureFormat = 'legacy' | 'bundle';

export interface SignInputs {
  images: string[];
  /** Path, inline PEM or env://VAR. */
  key: string | undefined;
  /** undefined → COSIGN_PASSWORD → empty. */
  password: string | undefined;
  mode: 'key' | 'keyless' | 'auto';
  annotations: Record<string, string>;
  recursive: boolean;
  format: SignatureFormat;
  fulcioUrl: string;
  rekorUrl: string;
  registryUsername: string | undefined;
  registryPassword: string | undefined;
}

export interface VerifyInputs {
  images: string[];
  /** Public keys: path, inline PEM or env://VAR (several allowed: any may match). */
  keys: string[];
  certificateIdentity: string | undefined;
  certificateIdentityRegexp: string | undefined;
  certificateOidcIssuer: string | undefined;
  certificateOidcIssuerRegexp: string | undefined;
  /** Path of a Sigstore trusted root JSON (keyless verification). */
  trustedRoot: string | undefined;
  annotations: Record<string, string>;
  checkReference: boolean;
  /** Which signature storage to look in: legacy `.sig` tag, bundle referrers, or both. */
  format: SignatureFormat | 'auto';
  registryUsername: string | undefined;
  registryPassword: string | undefined;
}

/** `k=v` items (list input) → a map; a malformed item is a ConfigurationError naming the input. */
export function parseAnnotations(items: readonly string[], input: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigurationError(`${input}: "${item}" is not key=value`, { input });
    out[item.slice(0, eq).trim()] = item.slice(eq + 1);
  }
  return out;
}

function oneOf<T extends string>(inputs: Inputs, name: string, allowed: readonly T[], fallback: T): T {
  const v = inputs.string(name, fallback);
  if (!(allowed as readonly string[]).includes(v)) {
    throw new ConfigurationError(`${inputs.source.label(name)} is "${v}"; use one of ${allowed.join(', ')}`, {
      input: name,
    });
  }
  return v as T;
}

/**
 * The `images` input: references, newline/comma separated — or build-multiarch's `images` output
 * as it is (a JSON array of `{ ref }` objects), so a workflow can pass
 * `images: ${{ steps.build.outputs.images }}` straight through.
 */
export function imageList(inputs: Inputs): string[] {
  const raw = inputs.optional('images');
  if (raw?.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (e) {
      throw new ConfigurationError(
        `${inputs.source.label('images')} starts with "[" but is not valid JSON (${errorMessage(e)}); give references one per line, or build-multiarch's images output unchanged`,
        { input: 'images' },
      );
    }
    const refs = Array.isArray(parsed)
      ? parsed.map((item: unknown) =>
          typeof item === 'string' ? item : (item as { ref?: unknown } | null)?.ref,
        )
      : [];
    if (refs.length === 0 || refs.some((r) => typeof r !== 'string' || r === '')) {
      throw new ConfigurationError(
        `${inputs.source.label('images')} is a JSON value but not a list of references or of build-multiarch's { "ref": … } entries`,
        { input: 'images' },
      );
    }
    return refs as string[];
  }
  return inputs.list('images');
}

export function readSignInputs(inputs: Inputs): SignInputs {
  const images = imageList(inputs);
  if (images.length === 0) {
    throw new ConfigurationError(
      `${inputs.source.label('images')} is required; give one or more image references`,
      {
        input: 'images',
      },
    );
  }
  return {
    images,
    key: inputs.optional('key'),
    // an empty password is legitimate for cosign keys, so keep '' when explicitly given
    password: inputs.source.get('password'),
    mode: oneOf(inputs, 'mode', ['key', 'keyless', 'auto'] as const, 'auto'),
    annotations: parseAnnotations(inputs.list('annotations'), inputs.source.label('annotations')),
    recursive: inputs.boolean('recursive', false),
    format: oneOf(inputs, 'format', ['legacy', 'bundle'] as const, 'legacy'),
    fulcioUrl: inputs.string('fulcio-url', 'https://fulcio.sigstore.dev'),
    rekorUrl: inputs.string('rekor-url', 'https://rekor.sigstore.dev'),
    registryUsername: inputs.optional('registry-username'),
    registryPassword: inputs.optional('registry-password'),
  };
}

export function readVerifyInputs(inputs: Inputs): VerifyInputs {
  const images = imageList(inputs);
  if (images.length === 0) {
    throw new ConfigurationError(
      `${inputs.source.label('images')} is required; give one or more image references`,
      {
        input: 'images',
      },
    );
  }
  const v: VerifyInputs = {
    images,
    keys: keyList(inputs),
    certificateIdentity: inputs.optional('certificate-identity'),
    certificateIdentityRegexp: inputs.optional('certificate-identity-regexp'),
    certificateOidcIssuer: inputs.optional('certificate-oidc-issuer'),
    certificateOidcIssuerRegexp: inputs.optional('certificate-oidc-issuer-regexp'),
    trustedRoot: inputs.optional('trusted-root'),
    annotations: parseAnnotations(inputs.list('annotations'), inputs.source.label('annotations')),
    checkReference: inputs.boolean('check-reference', true),
    format: oneOf(inputs, 'format', ['legacy', 'bundle', 'auto'] as const, 'auto'),
    registryUsername: inputs.optional('registry-username'),
    registryPassword: inputs.optional('registry-password'),
  };
  const keyless = v.certificateIdentity ?? v.certificateIdentityRegexp;
  if (v.keys.length === 0 && !keyless) {
    throw new ConfigurationError(
      `give ${inputs.source.label('key')} (a public key) or ${inputs.source.label('certificate-identity')} with ` +
        `${inputs.source.label('certificate-oidc-issuer')} (keyless)`,
      { input: 'key' },
    );
  }
  if (keyless && !(v.certificateOidcIssuer ?? v.certificateOidcIssuerRegexp)) {
    throw new ConfigurationError(
      `${inputs.source.label('certificate-oidc-issuer')} is required with a certificate identity`,
      {
        input: 'certificate-oidc-issuer',
      },
    );
  }
  if (Boolean(v.registryUsername) !== Boolean(v.registryPassword)) {
    throw new ConfigurationError('registry-username and registry-password must be given together', {
      input: v.registryUsername ? 'registry-password' : 'registry-username',
    });
  }
  return v;
}

/** Public keys: inline PEM blocks are kept whole (a list split would cut them at newlines). */
function keyList(inputs: Inputs): string[] {
  const raw = inputs.optional('key');
  if (raw === undefined) return [];
  if (!raw.includes('-----BEGIN')) return inputs.list('key');
  return [...raw.matchAll(/-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----/g)].map((m) => m[0]);
}

/** Whether an OIDC token can be had: the Actions token endpoint, or SIGSTORE_ID_TOKEN. */
export function oidcAvailable(env: NodeJS.ProcessEnv): boolean {
  return (
    Boolean(env.SIGSTORE_ID_TOKEN) ||
    Boolean(env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)
  );
}

/**
 * The signing mode to use. `auto`: a key when one is given, else keyless when an OIDC token is
 * available. Keyless without a token (every Gitea runner today) is a ConfigurationError that names
 * key-based signing as the way.
 */
export function chooseSigningMode(
  mode: SignInputs['mode'],
  key: string | undefined,
  env: NodeJS.ProcessEnv,
): SigningMode {
  const noOidc =
    'no OIDC token is available (no ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN — Gitea runners have none — and no SIGSTORE_ID_TOKEN)';
  const useKey =
    'sign with a key instead: set "key" (a cosign private key: path, inline PEM or env://VAR) and "password"';
  if (mode === 'key') {
    if (!key)
      throw new ConfigurationError('mode "key" needs a key; set "key" (path, inline PEM or env://VAR)', {
        input: 'key',
      });
    return 'key';
  }
  if (mode === 'keyless') {
    if (!oidcAvailable(env)) {
      throw new ConfigurationError(`keyless signing needs an OIDC token, but ${noOidc}`, {
        input: 'mode',
        hint: `${useKey}; on GitHub grant "permissions: id-token: write"`,
      });
    }
    return 'keyless';
  }
  if (key) return 'key';
  if (oidcAvailable(env)) return 'keyless';
  throw new ConfigurationError(`no signing key is set and ${noOidc}`, { input: 'key', hint: useKey });
}

/** Fetches the OIDC token for Sigstore: SIGSTORE_ID_TOKEN, else the Actions token endpoint. */
export async function fetchOidcToken(env: NodeJS.ProcessEnv, fetchFn: typeof fetch = fetch): Promise<string> {
  if (env.SIGSTORE_ID_TOKEN) return env.SIGSTORE_ID_TOKEN;
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const token = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !token) throw new ConfigurationError('no OIDC token is available for keyless signing');
  const u = new URL(url);
  u.searchParams.set('audience', 'sigstore');
  const res = await fetchFn(u, { headers: { authorization: `bearer ${token}`, accept: 'application/json' } });
  if (!res.ok) throw new ConfigurationError(`the Actions OIDC token endpoint answered ${res.status}`);
  const body = (await res.json()) as { value?: string };
  if (!body.value) throw new ConfigurationError('the Actions OIDC token endpoint returned no token');
  return body.value;
}
