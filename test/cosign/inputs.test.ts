import { describe, expect, it } from 'vitest';
import { ConfigurationError, isGantryError } from '../../src/core/errors.js';
import { Inputs, envInputSource } from '../../src/core/inputs.js';
import {
  chooseSigningMode,
  fetchOidcToken,
  parseAnnotations,
  readSignInputs,
  readVerifyInputs,
} from '../../src/cosign/inputs.js';

const OIDC = {
  ACTIONS_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1:1/token',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 't',
};

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isGantryError(e, 'configuration')) return e.message + (e.hint ? ` | ${e.hint}` : '');
    throw e;
  }
  throw new Error('expected a ConfigurationError');
}

describe('signing mode selection', () => {
  const table: [
    mode: 'key' | 'keyless' | 'auto',
    key: string | undefined,
    env: NodeJS.ProcessEnv,
    want: string,
  ][] = [
    ['auto', 'k.key', {}, 'key'],
    ['auto', 'k.key', OIDC, 'key'],
    ['auto', undefined, OIDC, 'keyless'],
    ['auto', undefined, { SIGSTORE_ID_TOKEN: 'jwt' }, 'keyless'],
    ['auto', undefined, { ACTIONS_ID_TOKEN_REQUEST_URL: 'http://x' }, 'error'],
    ['auto', undefined, {}, 'error'],
    ['key', 'k.key', OIDC, 'key'],
    ['key', undefined, OIDC, 'error'],
    ['keyless', 'k.key', OIDC, 'keyless'],
    ['keyless', 'k.key', {}, 'error'],
  ];
  for (const [mode, key, env, want] of table) {
    it(`${mode} key=${String(key)} env=${Object.keys(env).join('+') || 'none'} → ${want}`, () => {
      if (want === 'error') expect(() => chooseSigningMode(mode, key, env)).toThrow();
      else expect(chooseSigningMode(mode, key, env)).toBe(want);
    });
  }
  it('keyless without a token names key-based signing as the way (Gitea)', () => {
    expect(configError(() => chooseSigningMode('keyless', undefined, {}))).toMatch(
      /no OIDC token.*Gitea.*sign with a key/s,
    );
  });
});

describe('inputs', () => {
  const inputs = (env: Record<string, string>) => new Inputs(envInputSource(env));

  it("takes build-multiarch's images output unchanged as the images input (sign and verify)", () => {
    const built = JSON.stringify([
      {
        target: 'api',
        image: 'r.test/app-api',
        digest: 'sha256:aa',
        ref: 'r.test/app-api@sha256:aa',
        tags: ['x'],
      },
      {
        target: 'worker',
        image: 'r.test/app-worker',
        digest: 'sha256:bb',
        ref: 'r.test/app-worker@sha256:bb',
      },
    ]);
    expect(readSignInputs(inputs({ INPUT_IMAGES: built, INPUT_KEY: 'env://K' })).images).toEqual([
      'r.test/app-api@sha256:aa',
      'r.test/app-worker@sha256:bb',
    ]);
    expect(
      readVerifyInputs(inputs({ INPUT_IMAGES: '["r.test/a:1","r.test/b:2"]', INPUT_KEY: 'env://K' })).images,
    ).toEqual(['r.test/a:1', 'r.test/b:2']);
    // a plain list still splits on commas and newlines
    expect(
      readSignInputs(inputs({ INPUT_IMAGES: 'r.test/a:1,r.test/b:2', INPUT_KEY: 'env://K' })).images,
    ).toHaveLength(2);
    const bad = (images: string) => () =>
      readSignInputs(inputs({ INPUT_IMAGES: images, INPUT_KEY: 'env://K' }));
    expect(bad('[{"target":"api"')).toThrow(/input "images" starts with "\[" but is not valid JSON/);
    expect(bad('[{"target":"api"}]')).toThrow(/not a list of references or of build-multiarch's/);
    expect(bad('[]')).toThrow(ConfigurationError);
  });

  it('reads the sign-image inputs, keeping an explicitly empty password', () => {
    const s = readSignInputs(
      inputs({
        INPUT_IMAGES: 'a/b:1\na/c:2',
        INPUT_KEY: 'env://K',
        INPUT_PASSWORD: '',
        INPUT_ANNOTATIONS: 'x=1,y=a=b',
        INPUT_RECURSIVE: 'true',
      }),
    );
    expect(s).toMatchObject({
      images: ['a/b:1', 'a/c:2'],
      key: 'env://K',
      password: '',
      mode: 'auto',
      format: 'legacy',
      recursive: true,
    });
    expect(s.annotations).toEqual({ x: '1', y: 'a=b' });
    expect(readSignInputs(inputs({ INPUT_IMAGES: 'a' })).password).toBeUndefined();
  });

  it('rejects bad values naming the input', () => {
    expect(configError(() => readSignInputs(inputs({})))).toMatch(/input "images" is required/);
    expect(configError(() => readSignInputs(inputs({ INPUT_IMAGES: 'a', INPUT_MODE: 'magic' })))).toMatch(
      /input "mode" is "magic"/,
    );
    expect(configError(() => readSignInputs(inputs({ INPUT_IMAGES: 'a', INPUT_FORMAT: 'v3' })))).toMatch(
      /input "format"/,
    );
    expect(configError(() => parseAnnotations(['novalue'], 'input "annotations"'))).toMatch(/not key=value/);
    expect(configError(() => readVerifyInputs(inputs({ INPUT_IMAGES: 'a' })))).toMatch(/input "key"/);
    expect(
      configError(() =>
        readVerifyInputs(inputs({ INPUT_IMAGES: 'a', 'INPUT_CERTIFICATE-IDENTITY': 'me@x' })),
      ),
    ).toMatch(/certificate-oidc-issuer/);
  });

  it('verify format: auto by default; legacy, bundle or auto; anything else names the input', () => {
    expect(readVerifyInputs(inputs({ INPUT_IMAGES: 'a', INPUT_KEY: 'k.pub' })).format).toBe('auto');
    for (const f of ['legacy', 'bundle', 'auto'])
      expect(
        readVerifyInputs(inputs({ INPUT_IMAGES: 'a', INPUT_KEY: 'k.pub', INPUT_FORMAT: f })).format,
      ).toBe(f);
    expect(
      configError(() =>
        readVerifyInputs(inputs({ INPUT_IMAGES: 'a', INPUT_KEY: 'k.pub', INPUT_FORMAT: 'both' })),
      ),
    ).toMatch(/input "format" is "both"/);
    expect(readSignInputs(inputs({ INPUT_IMAGES: 'a', INPUT_FORMAT: 'bundle' })).format).toBe('bundle');
  });

  it('keeps inline PEM public keys whole (a list split would cut them)', () => {
    const pem = '-----BEGIN PUBLIC KEY-----\nAAA,BBB\nCCC\n-----END PUBLIC KEY-----';
    const v = readVerifyInputs(inputs({ INPUT_IMAGES: 'a', INPUT_KEY: `${pem}\n${pem}` }));
    expect(v.keys).toEqual([pem, pem]);
  });
});

describe('OIDC token', () => {
  it('prefers SIGSTORE_ID_TOKEN, else asks the Actions endpoint with audience sigstore', async () => {
    expect(await fetchOidcToken({ SIGSTORE_ID_TOKEN: 'jwt' })).toBe('jwt');
    let asked = '';
    const fake = ((url: URL, init: RequestInit) => {
      asked = `${url.toString()} ${String((init.headers as Record<string, string>).authorization)}`;
      return Promise.resolve(new Response(JSON.stringify({ value: 'from-actions' })));
    }) as unknown as typeof fetch;
    expect(await fetchOidcToken(OIDC, fake)).toBe('from-actions');
    expect(asked).toBe('http://127.0.0.1:1/token?audience=sigstore bearer t');
  });
});
