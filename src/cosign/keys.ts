/**
 * cosign's key formats, natively: the encrypted private key envelope (PEM labels
 * `ENCRYPTED SIGSTORE PRIVATE KEY` and the legacy `ENCRYPTED COSIGN PRIVATE KEY`), PKIX public
 * keys, key sources (file path, inline PEM, `env://VAR`) and key-pair generation.
 *
 * The envelope (sigstore/sigstore `pkg/cryptoutils` + `pkg/encrypted`) is the PEM of the JSON
 * `{"kdf":{"name":"scrypt","params":{"N","r","p"},"salt"},"cipher":{"name":"nacl/secretbox",
 * "nonce"},"ciphertext"}`; key = scrypt(password, salt, N, r, p, 32), plaintext =
 * secretbox_open(ciphertext, nonce, key) = a PKCS#8 DER private key. cosign parses the plaintext
 * with x509.ParsePKCS8PrivateKey only, so a SEC1 `EC PRIVATE KEY` inside is refused, as here.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  scrypt,
  type KeyObject,
} from 'node:crypto';
import { readFile } from 'node:fs/promises';
import nacl from 'tweetnacl';
import { ConfigurationError, errorMessage } from '../core/errors.js';

export const SIGSTORE_PRIVATE_KEY_LABEL = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const COSIGN_PRIVATE_KEY_LABEL = 'ENCRYPTED COSIGN PRIVATE KEY';
/** What `cosign generate-key-pair` uses (sigstore/sigstore encrypted.go: LowMem=false → N 2^16). */
export const DEFAULT_SCRYPT = { N: 65536, r: 8, p: 1 } as const;

/** The JSON inside an encrypted key PEM, as cosign writes it (field order matters for byte equality). */
export interface EncryptedKeyEnvelope {
  kdf: { name: string; params: { N: number; r: number; p: number }; salt: string };
  cipher: { name: string; nonce: string };
  ciphertext: string;
}

export type KeyAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521' | 'rsa' | 'ed25519';

/** A usable signing key: the private key, its public half and what cosign would sign with. */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  algorithm: KeyAlgorithm;
  /** Where it came from, for messages: a path, `env://VAR` or "the inline key". */
  source: string;
}

export interface PemBlock {
  label: string;
  der: Buffer;
}

/** Splits PEM text into its blocks (any label), ignoring text between them. */
export function parsePemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const body = (m[2] ?? '').split(/\r?\n/).filter((l) => l.trim() !== '' && !l.includes(':'));
    out.push({ label: m[1] ?? '', der: Buffer.from(body.join(''), 'base64') });
  }
  return out;
}

/** PEM with 64-column lines, as Go's encoding/pem writes it. */
export function encodePem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function scryptAsync(
  password: Buffer,
  salt: Buffer,
  params: { N: number; r: number; p: number },
): Promise<Buffer> {
  // Node refuses N·r·128 above 32 MiB by default; cosign's keys use up to 2^17 (~128 MiB).
  const maxmem = 256 * params.N * params.r + 64 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password, salt, 32, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/** Reads the envelope out of an encrypted key PEM; a ConfigurationError names what is wrong. */
export function parseEncryptedKey(pem: string, source: string): EncryptedKeyEnvelope {
  const blocks = parsePemBlocks(pem);
  const block = blocks.find(
    (b) => b.label === SIGSTORE_PRIVATE_KEY_LABEL || b.label === COSIGN_PRIVATE_KEY_LABEL,
  );
  if (!block) {
    const found = blocks.map((b) => b.label).join(', ') || 'no PEM block';
    throw new ConfigurationError(
      `${source} is not a cosign private key (found ${found}; expected "${SIGSTORE_PRIVATE_KEY_LABEL}" or ` +
        `"${COSIGN_PRIVATE_KEY_LABEL}")`,
      { hint: 'create one with "gantry generate-key-pair" or "cosign generate-key-pair"' },
    );
  }
  let env: unknown;
  try {
    env = JSON.parse(block.der.toString('utf8'));
  } catch (e) {
    throw new ConfigurationError(`${source}: the encrypted key is not valid JSON inside its PEM`, {
      cause: e,
    });
  }
  const e = env as Partial<EncryptedKeyEnvelope>;
  const p = e.kdf?.params;
  if (
    e.kdf?.name !== 'scrypt' ||
    !p ||
    !isInt(p.N) ||
    !isInt(p.r) ||
    !isInt(p.p) ||
    typeof e.kdf.salt !== 'string'
  ) {
    throw new ConfigurationError(
      `${source}: unsupported key derivation "${String(e.kdf?.name)}" (cosign uses scrypt)`,
    );
  }
  if (p.N > 2 ** 20 || (p.N & (p.N - 1)) !== 0 || p.r > 32 || p.p > 16) {
    throw new ConfigurationError(`${source}: scrypt parameters N=${p.N} r=${p.r} p=${p.p} are out of range`);
  }
  if (
    e.cipher?.name !== 'nacl/secretbox' ||
    typeof e.cipher.nonce !== 'string' ||
    typeof e.ciphertext !== 'string'
  ) {
    throw new ConfigurationError(
      `${source}: unsupported cipher "${String(e.cipher?.name)}" (cosign uses nacl/secretbox)`,
    );
  }
  return e as EncryptedKeyEnvelope;
}

/** Decrypts the envelope to the DER bytes inside; a wrong password is a ConfigurationError. */
export async function decryptKeyEnvelope(
  env: EncryptedKeyEnvelope,
  password: string,
  source: string,
): Promise<Buffer> {
  const salt = Buffer.from(env.kdf.salt, 'base64');
  const nonce = Buffer.from(env.cipher.nonce, 'base64');
  const box = Buffer.from(env.ciphertext, 'base64');
  if (nonce.length !== nacl.secretbox.nonceLength) {
    throw new ConfigurationError(`${source}: the secretbox nonce is ${nonce.length} bytes, not 24`);
  }
  const key = await scryptAsync(Buffer.from(password, 'utf8'), salt, env.kdf.params);
  const plain = nacl.secretbox.open(box, nonce, key);
  if (!plain) {
    throw new ConfigurationError(`wrong password for ${source}`, {
      hint: 'give the password the key was created with (input "password" or COSIGN_PASSWORD; it may be empty)',
    });
  }
  return Buffer.from(plain);
}

/** What kind of key a KeyObject is, in cosign's terms; unsupported kinds are a ConfigurationError. */
export function keyAlgorithm(key: KeyObject, source: string): KeyAlgorithm {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ecdsa-p256';
    if (curve === 'secp384r1') return 'ecdsa-p384';
    if (curve === 'secp521r1') return 'ecdsa-p521';
    throw new ConfigurationError(`${source}: ECDSA curve ${String(curve)} is not supported (use P-256)`);
  }
  if (type === 'rsa') return 'rsa';
  if (type === 'ed25519') return 'ed25519';
  throw new ConfigurationError(
    `${source}: ${String(type)} keys are not supported (cosign signs with ECDSA, RSA or Ed25519)`,
  );
}

/** Opens an encrypted cosign private key with its password. */
export async function decryptPrivateKey(pem: string, password: string, source: string): Promise<SigningKey> {
  const der = await decryptKeyEnvelope(parseEncryptedKey(pem, source), password, source);
  let privateKey: KeyObject;
  try {
    privateKey = parsePkcs8(der);
  } catch (e) {
    // cosign: "parsing private key: x509: failed to parse private key (use ParseECPrivateKey instead
    // for this key format)" — the envelope must hold PKCS#8, a SEC1 key is refused.
    const top = readDer(der, 0);
    const first = top && readDer(der, top.start);
    const second = first && readDer(der, first.end);
    const sec1 = top?.tag === 0x30 && first?.tag === 0x02 && second?.tag === 0x04;
    throw new ConfigurationError(
      `${source}: parsing private key: ${sec1 ? 'the encrypted key holds a SEC1 "EC PRIVATE KEY", not PKCS#8 (cosign refuses it too)' : errorMessage(e)}`,
      {
        cause: e,
        hint: 'import the key with "cosign import-key-pair" or create a new one with "gantry generate-key-pair"',
      },
    );
  }
  const algorithm = keyAlgorithm(privateKey, source);
  return { privateKey, publicKey: createPublicKey(privateKey), algorithm, source };
}

interface DerElement {
  tag: number;
  /** Offset of the content. */
  start: number;
  /** Offset just past the element. */
  end: number;
}

/** Reads one DER TLV header at `offset` (definite lengths only). */
function readDer(buf: Buffer, offset: number): DerElement | undefined {
  const tag = buf[offset];
  let len = buf[offset + 1];
  if (tag === undefined || len === undefined) return undefined;
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[start + i] ?? 0);
    start += n;
  }
  return start + len <= buf.length ? { tag, start, end: start + len } : undefined;
}

/**
 * Parses PKCS#8. Go's x509.ParsePKCS8PrivateKey also accepts the v2 "OneAsymmetricKey" form
 * (RFC 5958: version 1 plus an optional [1] publicKey, as sigstore-rs writes Ed25519 keys) by
 * ignoring the trailing fields; OpenSSL refuses it, so re-encode it as v1 first.
 */
function parsePkcs8(der: Buffer): KeyObject {
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch (e) {
    const top = readDer(der, 0);
    const version = top && readDer(der, top.start);
    const algorithm = version && readDer(der, version.end);
    const key = algorithm && readDer(der, algorithm.end);
    if (
      !top ||
      top.tag !== 0x30 ||
      !version ||
      der[version.start] !== 1 ||
      !algorithm ||
      !key ||
      key.tag !== 0x04
    ) {
      throw e;
    }
    const body = Buffer.concat([Buffer.from([0x02, 0x01, 0x00]), der.subarray(version.end, key.end)]);
    const header =
      body.length < 128
        ? Buffer.from([0x30, body.length])
        : Buffer.from([0x30, 0x82, body.length >> 8, body.length & 0xff]);
    return createPrivateKey({ key: Buffer.concat([header, body]), format: 'der', type: 'pkcs8' });
  }
}

/** Encrypts a private key the way cosign does (random 32-byte salt, random 24-byte nonce). */
export async function encryptPrivateKey(
  privateKey: KeyObject,
  password: string,
  params: { N: number; r: number; p: number } = DEFAULT_SCRYPT,
): Promise<string> {
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const salt = randomBytes(32);
  const nonce = randomBytes(nacl.secretbox.nonceLength);
  const key = await scryptAsync(Buffer.from(password, 'utf8'), salt, params);
  const ciphertext = nacl.secretbox(der, nonce, key);
  const env: EncryptedKeyEnvelope = {
    kdf: { name: 'scrypt', params: { N: params.N, r: params.r, p: params.p }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(ciphertext).toString('base64'),
  };
  return encodePem(SIGSTORE_PRIVATE_KEY_LABEL, Buffer.from(JSON.stringify(env)));
}

/** The PKIX `PUBLIC KEY` PEM cosign writes next to the private key (cosign.pub). */
export function publicKeyPem(key: KeyObject): string {
  return encodePem('PUBLIC KEY', key.export({ format: 'der', type: 'spki' }));
}

export interface GeneratedKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

/** A new ECDSA P-256 key pair, encrypted like `cosign generate-key-pair` (scrypt N=65536). */
export async function generateCosignKeyPair(password: string): Promise<GeneratedKeyPair> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKeyPem: await encryptPrivateKey(privateKey, password),
    publicKeyPem: publicKeyPem(publicKey),
  };
}

/**
 * Where a key comes from. `key` is a file path, inline PEM text, or `env://VAR` (the PEM is in the
 * environment variable VAR, like cosign's env:// provider).
 */
export interface KeySourceOptions {
  key: string;
  env?: NodeJS.ProcessEnv;
  /** How the user supplied `key`, for messages ("input \"key\"", "--key"). */
  label?: string;
}

export interface LoadedKeyText {
  pem: string;
  /** A description safe to print (never the PEM itself). */
  source: string;
}

/** Resolves a key source to its PEM text. Missing files/variables are ConfigurationErrors. */
export async function readKeySource(opts: KeySourceOptions): Promise<LoadedKeyText> {
  const { key } = opts;
  const env = opts.env ?? process.env;
  const label = opts.label ?? 'the key';
  if (key.includes('-----BEGIN ')) return { pem: key, source: `the inline key (${label})` };
  if (key.startsWith('env://')) {
    const name = key.slice('env://'.length);
    const value = env[name];
    if (value === undefined || value.trim() === '') {
      throw new ConfigurationError(`${label} is ${key} but the environment variable ${name} is not set`, {
        input: label,
      });
    }
    return { pem: value, source: key };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(key)) {
    throw new ConfigurationError(
      `${label}: key provider "${key.split('://')[0]}://" is not supported (use a file path, inline PEM or env://VAR)`,
      { input: label },
    );
  }
  try {
    return { pem: await readFile(key, 'utf8'), source: key };
  } catch (e) {
    throw new ConfigurationError(`${label}: cannot read key file ${key}: ${errorMessage(e)}`, {
      cause: e,
      input: label,
    });
  }
}

/**
 * Loads a signing key from a source; the password is the given one, else COSIGN_PASSWORD, else
 * empty (cosign allows empty passwords).
 */
export async function loadSigningKey(opts: KeySourceOptions & { password?: string }): Promise<SigningKey> {
  const { pem, source } = await readKeySource(opts);
  const env = opts.env ?? process.env;
  const password = opts.password ?? env.COSIGN_PASSWORD ?? '';
  return decryptPrivateKey(pem, password, source);
}

/** A verification key: PKIX public key PEM (cosign.pub), or a certificate's key. */
export interface VerificationKey {
  publicKey: KeyObject;
  algorithm: KeyAlgorithm;
  source: string;
}

/** Parses a public key (PUBLIC KEY PEM or CERTIFICATE PEM). */
export function parsePublicKey(pem: string, source: string): VerificationKey {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(pem);
  } catch (e) {
    throw new ConfigurationError(`${source} is not a PEM public key: ${errorMessage(e)}`, { cause: e });
  }
  return { publicKey, algorithm: keyAlgorithm(publicKey, source), source };
}

/** Loads a verification key from a path, inline PEM or env://VAR. */
export async function loadVerificationKey(opts: KeySourceOptions): Promise<VerificationKey> {
  const { pem, source } = await readKeySource(opts);
  return parsePublicKey(pem, source);
}
