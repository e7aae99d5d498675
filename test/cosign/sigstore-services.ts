/**
 * Test fixture: Fulcio and Rekor stand-ins from @sigstore/mock (the sigstore-js project's own
 * test CA, CT log and transparency log), served over real HTTP on a loopback port so keyless
 * signing runs end to end offline — sigstore-js talks to them exactly as to the public instances.
 * Also writes the matching Sigstore trusted_root.json and mints OIDC tokens (Fulcio-mock reads the
 * claims without checking the token's signature, as the public Fulcio would after OIDC discovery).
 */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import {
  fulcioHandler,
  initializeCA,
  initializeCTLog,
  initializeTLog,
  rekorHandler,
  type HandlerFn,
} from '@sigstore/mock';
import { afterAll } from 'vitest';

export interface SigstoreServices {
  /** Base URL for both Fulcio and Rekor (they use distinct API paths). */
  url: string;
  /** A Sigstore trusted_root.json for this CA, CT log and transparency log. */
  trustedRoot: object;
  /** Requests served, by path (e.g. to check that signing really went through them). */
  requests: string[];
  /** An OIDC token with these claims (unsigned JWT). */
  token(claims: { iss: string; sub: string }): string;
  close(): Promise<void>;
}

type Handler = { path: string; fn: HandlerFn };

/** The mock's byte fields are typed as ArrayBufferView. */
const bytes = (v: ArrayBufferView): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
const b64url = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');

/**
 * The mock logs the proposed entry as it came; the real Rekor stores a `dsse` entry in its
 * canonical form (rekor pkg/types/dsse/v0.0.1: envelope and payload hashes, signatures with their
 * verifiers), which is what verifiers check the bundle against. Other kinds pass unchanged.
 */
function canonicalRekorEntry(body: string): string {
  const proposed = JSON.parse(body) as {
    kind?: string;
    apiVersion?: string;
    spec?: { proposedContent?: { envelope?: string; verifiers?: string[] } };
  };
  const content = proposed.spec?.proposedContent;
  if (proposed.kind !== 'dsse' || !content?.envelope) return body;
  const envelope = JSON.parse(content.envelope) as { payload: string; signatures: { sig: string }[] };
  const hex = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex');
  return JSON.stringify({
    apiVersion: proposed.apiVersion,
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: hex(content.envelope) },
      payloadHash: { algorithm: 'sha256', value: hex(Buffer.from(envelope.payload, 'base64')) },
      signatures: envelope.signatures.map((s, i) => ({
        signature: s.sig,
        verifier: content.verifiers?.[i] ?? content.verifiers?.[0],
      })),
    },
  });
}

/** Starts Fulcio + Rekor mocks on 127.0.0.1; stopped after the test file. */
export async function startSigstoreServices(): Promise<SigstoreServices> {
  const keyPair = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;

  const ctKeys = keyPair();
  const caKeys = keyPair();
  const tlogKeys = keyPair();
  const ctlog = await initializeCTLog(ctKeys);
  const ca = await initializeCA(caKeys, ctlog);
  const tlog = await initializeTLog(url, tlogKeys);
  const rekor = rekorHandler(tlog, { strict: true });
  const handlers: Handler[] = [
    fulcioHandler(ca, { strict: true }),
    { path: rekor.path, fn: (body) => rekor.fn(canonicalRekorEntry(body)) },
  ];
  const requests: string[] = [];
  server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      requests.push(`${req.method ?? ''} ${path}`);
      const h = handlers.find((x) => x.path === path && req.method === 'POST');
      if (!h) {
        res.writeHead(404).end();
        return;
      }
      h.fn(Buffer.concat(chunks).toString('utf8')).then(
        (r) =>
          res
            .writeHead(r.statusCode, { 'content-type': r.contentType ?? 'text/plain' })
            .end(
              typeof r.response === 'string'
                ? r.response
                : Buffer.from(r.response.buffer, r.response.byteOffset, r.response.byteLength),
            ),
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
    });
  });

  const start = new Date(Date.now() - 3600_000).toISOString();
  const der = (k: { publicKey: KeyObject }): Buffer => k.publicKey.export({ format: 'der', type: 'spki' });
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: url,
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: der(tlogKeys).toString('base64'),
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFor: { start },
        },
        logId: { keyId: createHash('sha256').update(der(tlogKeys)).digest('base64') },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: url,
        certChain: { certificates: [{ rawBytes: bytes(ca.rootCertificate).toString('base64') }] },
        validFor: { start },
      },
    ],
    ctlogs: [
      {
        baseUrl: url,
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: bytes(ctlog.publicKey).toString('base64'),
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFor: { start },
        },
        logId: { keyId: bytes(ctlog.logID).toString('base64') },
      },
    ],
    timestampAuthorities: [],
  };
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  afterAll(close);
  return {
    url,
    trustedRoot,
    requests,
    token: (claims) =>
      `${b64url({ alg: 'ES256', typ: 'JWT' })}.${b64url({
        ...claims,
        aud: 'sigstore',
        iat: Math.floor(Date.now() / 1000),
        exp: Math.floor(Date.now() / 1000) + 600,
      })}.c2ln`,
    close,
  };
}
