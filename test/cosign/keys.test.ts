import { createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isGantryError } from '../../src/core/errors.js';
import {
  decryptPrivateKey,
  encryptPrivateKey,
  generateCosignKeyPair,
  loadSigningKey,
  parseEncryptedKey,
  parsePemBlocks,
  publicKeyPem,
} from '../../src/cosign/keys.js';
import { readConformance, readConformanceJson, conformancePath } from './conformance.js';

interface KeyCase {
  file: string;
  pem_label: string;
  envelope?: {
    kdf: { params: { N: number; r: number; p: number }; salt: string };
    cipher: { nonce: string };
  };
  password: string | null;
  decrypted_format?: string;
  public_key_file?: string;
}
const cosignKeys = readConformanceJson<{ keys: KeyCase[] }>('cosign-keys', 'keys.json').keys;
const rsKeys = readConformanceJson<{ keys: KeyCase[] }>('cosign-keys', 'sigstore-rs', 'keys.json').keys;

async function rejected(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('encrypted cosign keys (conformance: sigstore/cosign keys_test.go)', () => {
  for (const k of cosignKeys) {
    it(`${k.file}: envelope parameters are read as documented`, () => {
      const env = parseEncryptedKey(readConformance('cosign-keys', k.file), k.file);
      expect(env.kdf.params).toEqual(k.envelope?.kdf.params);
      expect(env.kdf.salt).toBe(k.envelope?.kdf.salt);
      expect(env.cipher.nonce).toBe(k.envelope?.cipher.nonce);
      expect(parsePemBlocks(readConformance('cosign-keys', k.file))[0]?.label).toBe(k.pem_label);
    });

    it(`${k.file}: a wrong password is a configuration error naming the key source`, async () => {
      for (const pw of ['wrong', '']) {
        const e = await rejected(decryptPrivateKey(readConformance('cosign-keys', k.file), pw, k.file));
        expect(isGantryError(e, 'configuration')).toBe(true);
        expect((e as Error).message).toBe(`wrong password for ${k.file}`);
      }
    });

    if (k.password === null) continue;
    const password = k.password;
    if (k.decrypted_format?.startsWith('SEC1')) {
      it(`${k.file}: SEC1 inside the envelope is refused, as cosign refuses it`, async () => {
        const e = await rejected(decryptPrivateKey(readConformance('cosign-keys', k.file), password, k.file));
        expect(isGantryError(e, 'configuration')).toBe(true);
        expect((e as Error).message).toMatch(/parsing private key: .*SEC1/);
      });
    } else {
      it(`${k.file}: opens with its password and matches the derived public key`, async () => {
        const key = await decryptPrivateKey(readConformance('cosign-keys', k.file), password, k.file);
        expect(key.algorithm).toBe('ecdsa-p256');
        const pub = readConformance('cosign-keys', k.file.replace(/\.key$/, '.derived.pub'));
        expect(publicKeyPem(key.publicKey)).toBe(publicKeyPem(createPublicKey(pub)));
      });
    }
  }
});

describe('encrypted keys from sigstore-rs', () => {
  const expected: Record<string, string> = {
    'ecdsa_encrypted_private.key': 'ecdsa-p256',
    'cosign_generated_encrypted_empty_private.key': 'ecdsa-p256',
    'rsa_encrypted_private.key': 'rsa',
    'ed25519_encrypted_private.key': 'ed25519',
  };
  for (const k of rsKeys) {
    it(`${k.file} opens with password ${JSON.stringify(k.password)} and signs verifiably`, async () => {
      const pem = readConformance('cosign-keys', 'sigstore-rs', k.file);
      const key = await decryptPrivateKey(pem, k.password ?? '', k.file);
      expect(key.algorithm).toBe(expected[k.file]);
      const data = Buffer.from('payload');
      const hash = key.algorithm === 'ed25519' ? null : 'sha256';
      expect(nodeVerify(hash, data, key.publicKey, nodeSign(hash, data, key.privateKey))).toBe(true);
      const derived = conformancePath('cosign-keys', 'sigstore-rs', k.file.replace(/\.key$/, '.derived.pub'));
      if (k.file !== 'ed25519_encrypted_private.key') {
        expect(publicKeyPem(key.publicKey)).toBe(publicKeyPem(createPublicKey(readConformanceFile(derived))));
      }
      const e = await rejected(decryptPrivateKey(pem, 'wrong', k.file));
      expect((e as Error).message).toBe(`wrong password for ${k.file}`);
    });
  }
});

function readConformanceFile(path: string): string {
  return readConformance(path.slice(path.indexOf('cosign-keys')));
}

describe('key generation and sources', () => {
  it('generates an ENCRYPTED SIGSTORE PRIVATE KEY with N=65536 that opens with its password', async () => {
    const pair = await generateCosignKeyPair('s3cret');
    const env = parseEncryptedKey(pair.privateKeyPem, 'generated');
    expect(env.kdf.params).toEqual({ N: 65536, r: 8, p: 1 });
    expect(Buffer.from(env.kdf.salt, 'base64')).toHaveLength(32);
    expect(pair.privateKeyPem.startsWith('-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n')).toBe(true);
    const key = await decryptPrivateKey(pair.privateKeyPem, 's3cret', 'generated');
    expect(publicKeyPem(key.publicKey)).toBe(pair.publicKeyPem);
    // the JSON inside is in cosign's field order
    const json = parsePemBlocks(pair.privateKeyPem)[0]?.der.toString('utf8') ?? '';
    expect(json).toMatch(
      /^\{"kdf":\{"name":"scrypt","params":\{"N":65536,"r":8,"p":1\},"salt":"[^"]+"\},"cipher":\{"name":"nacl\/secretbox","nonce":"[^"]+"\},"ciphertext":"[^"]+"\}$/,
    );
  });

  it('an empty password round-trips', async () => {
    const key = await decryptPrivateKey(readConformance('cosign-keys', 'pemsigstorekey.key'), 'hello', 'k');
    const pem = await encryptPrivateKey(key.privateKey, '', { N: 1024, r: 8, p: 1 });
    const back = await decryptPrivateKey(pem, '', 'k2');
    expect(publicKeyPem(back.publicKey)).toBe(publicKeyPem(key.publicKey));
  });

  it('reads env://VAR, inline PEM and a path; password from COSIGN_PASSWORD when not given', async () => {
    const pem = readConformance('cosign-keys', 'pemsigstorekey.key');
    const env = { MY_KEY: pem, COSIGN_PASSWORD: 'hello' };
    const fromEnv = await loadSigningKey({ key: 'env://MY_KEY', env });
    expect(fromEnv.source).toBe('env://MY_KEY');
    const inline = await loadSigningKey({ key: pem, env, label: 'input "key"' });
    expect(inline.source).toBe('the inline key (input "key")');
    const path = conformancePath('cosign-keys', 'pemsigstorekey.key');
    const fromPath = await loadSigningKey({ key: path, env: {}, password: 'hello' });
    expect(fromPath.source).toBe(path);
    const e = await rejected(
      loadSigningKey({ key: 'env://MY_KEY', env: { MY_KEY: pem, COSIGN_PASSWORD: 'nope' } }),
    );
    expect((e as Error).message).toBe('wrong password for env://MY_KEY');
    const missing = await rejected(loadSigningKey({ key: 'env://NOPE', env: {} }));
    expect(isGantryError(missing, 'configuration')).toBe(true);
    const notKey = await rejected(
      loadSigningKey({ key: conformancePath('cosign-keys', 'ci-cosign-test.pub'), env: {} }),
    );
    expect((notKey as Error).message).toMatch(/is not a cosign private key/);
  });
});
