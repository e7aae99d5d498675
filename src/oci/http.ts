/**
 * The registry client's only network edge: one buffered HTTP exchange per call, over node:http or
 * node:https (custom CA, optional skipping of certificate checks, keep-alive). Kept this small so
 * tests can replace it with a plain object, and so resets, truncated bodies and stalls surface as
 * `TransportError`s with a code the retry predicate understands.
 */
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Abort when no byte moves for this long (connect, headers or body). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", " (set-cookie excepted, unused here). */
  headers: Record<string, string | undefined>;
  body: Buffer;
}

/** Sends one request and buffers the whole answer. */
export interface HttpTransport {
  request(req: HttpRequest): Promise<HttpResponse>;
  /** Releases pooled connections. */
  close?(): void;
}

/** A network-level failure: reset, refused, timed out, truncated body. Always worth a retry. */
export class TransportError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransportError';
    this.code = code;
  }

  /** Failures no retry can fix: an unknown host name, a TLS certificate we do not trust. */
  get permanent(): boolean {
    return this.code === 'ENOTFOUND' || TLS_CERT_ERRORS.has(this.code);
  }
}

const TLS_CERT_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
]);

export interface NodeTransportOptions {
  /** Extra trusted CA certificates (PEM), added to Node's defaults. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Accept any TLS certificate (for registries with self-signed certs, when asked). */
  insecureSkipVerify?: boolean;
  /** Default per-request inactivity timeout. */
  timeoutMs?: number;
}

export class NodeHttpTransport implements HttpTransport {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly timeoutMs: number;

  constructor(options: NodeTransportOptions = {}) {
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const ca = options.ca === undefined ? undefined : [...tlsRootCertificates(), ...[options.ca].flat()];
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets: 16,
      ...(ca ? { ca } : {}),
      rejectUnauthorized: !options.insecureSkipVerify,
    });
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  request(req: HttpRequest): Promise<HttpResponse> {
    const url = new URL(req.url);
    const isHttps = url.protocol === 'https:';
    const lib = isHttps ? https : http;
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined) headers['content-length'] = String(req.body.byteLength);
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const fail = (e: Error): void => {
        if (settled) return;
        settled = true;
        reject(e);
      };
      const r = lib.request(
        url,
        {
          method: req.method,
          headers,
          agent: isHttps ? this.httpsAgent : this.httpAgent,
          signal: req.signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let received = 0;
          res.on('data', (c: Buffer) => {
            chunks.push(c);
            received += c.length;
          });
          res.on('aborted', () =>
            fail(
              new TransportError(
                'ECONNRESET',
                `connection reset while reading the body of ${req.method} ${url.host}${url.pathname}`,
              ),
            ),
          );
          res.on('error', (e) => fail(toTransportError(e, req, url)));
          res.on('end', () => {
            if (settled) return;
            const expected = res.headers['content-length'];
            if (
              req.method !== 'HEAD' &&
              expected !== undefined &&
              Number(expected) !== received &&
              res.statusCode !== 304
            ) {
              fail(
                new TransportError(
                  'ETRUNCATED',
                  `${req.method} ${url.host}${url.pathname}: body ended after ${received} of ${expected} bytes`,
                ),
              );
              return;
            }
            settled = true;
            const out: Record<string, string | undefined> = {};
            for (const [k, v] of Object.entries(res.headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
            resolve({ status: res.statusCode ?? 0, headers: out, body: Buffer.concat(chunks) });
          });
        },
      );
      r.setTimeout(timeoutMs, () => {
        r.destroy(
          new TransportError(
            'ETIMEDOUT',
            `${req.method} ${url.host}${url.pathname}: no data for ${timeoutMs} ms`,
          ),
        );
      });
      r.on('error', (e) => fail(toTransportError(e, req, url)));
      r.end(
        req.body === undefined
          ? undefined
          : Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength),
      );
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function toTransportError(e: Error, req: HttpRequest, url: URL): Error {
  if (e instanceof TransportError) return e;
  if (e.name === 'AbortError') return e;
  const code = (e as NodeJS.ErrnoException).code ?? 'ENETWORK';
  return new TransportError(code, `${req.method} ${url.host}${url.pathname}: ${e.message}`, { cause: e });
}

/** Passing `ca` replaces Node's trusted roots, so a custom CA is added to them, not swapped in. */
function tlsRootCertificates(): readonly string[] {
  return rootCertificates;
}
