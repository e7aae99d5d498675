/**
 * The HTTP edge of the smoke test: one request (plus the redirects it is allowed to follow) on a
 * fresh connection, observed phase by phase, never throwing — every outcome is a ProbeResult.
 * Built on node:http/node:https directly because each request needs its own connection target
 * (`resolve` keeps Host and SNI while dialing another address), CA, verification switch, timeout
 * and redirect policy, and failures must be classified by their error code.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import { checkServerIdentity, rootCertificates, type TLSSocket } from 'node:tls';
import type { ResolveRule } from './checks.js';
import { classifyTransportError, type ProbeResult, type RequestTimings } from './verdict.js';

export interface ProbeRequest {
  url: string;
  method: string;
  /** Sent as given; dropped when a followed redirect leaves the origin (they may be credentials). */
  headers: Readonly<Record<string, string>>;
  body?: string;
  /** For the whole request including followed redirects and the body. */
  timeoutMs: number;
  followRedirects: boolean;
  /** Default 10. */
  maxRedirects?: number;
  resolve: readonly ResolveRule[];
  /** Extra trusted CA certificates (PEM), added to Node's roots. */
  ca?: string;
  /** Skip certificate verification (the caller warns). */
  insecure: boolean;
  /** How much of the body is kept for the verdict; the rest is not read. Default 1 MiB. */
  maxBodyBytes?: number;
}

/** The probe as an injected dependency: the runner is tested with a plain function instead. */
export type HttpProbe = (request: ProbeRequest, signal?: AbortSignal) => Promise<ProbeResult>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const DEFAULT_MAX_BODY = 1024 * 1024;
const USER_AGENT = 'gantry-smoke';

/** The connection target for a URL after `resolve` overrides. */
export function connectionTarget(
  url: URL,
  rules: readonly ResolveRule[],
): { host: string; port: number; overridden: boolean } {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const rule = rules.find((r) => r.host === hostname && r.port === port);
  if (!rule) return { host: hostname, port, overridden: false };
  return { host: rule.address, port: rule.targetPort ?? port, overridden: true };
}

/** Method and body for the next hop of a redirect (the Fetch standard's rules, as curl -L does). */
export function redirectMethod(status: number, method: string): { method: string; keepBody: boolean } {
  if (status === 303 && method !== 'HEAD') return { method: 'GET', keepBody: false };
  if ((status === 301 || status === 302) && method === 'POST') return { method: 'GET', keepBody: false };
  return { method, keepBody: true };
}

interface Hop {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

type HopOutcome =
  | { kind: 'response'; res: http.IncomingMessage; timings: RequestTimings; tlsError?: string }
  | { kind: 'error'; error: NodeJS.ErrnoException; timings: RequestTimings };

/** Sends one request (following redirects if asked) and reports what happened. */
export const httpProbe: HttpProbe = async (request, signal) => {
  const started = performance.now();
  const elapsed = (): number => performance.now() - started;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('timeout'));
  }, request.timeoutMs);
  const onAbort = (): void => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const ca = request.ca ? [...rootCertificates, request.ca] : undefined;
  const redirects: string[] = [];
  let hop: Hop = {
    url: new URL(request.url),
    method: request.method,
    headers: { ...request.headers },
    body: request.body,
  };
  try {
    for (;;) {
      const outcome = await sendHop(hop, { request, ca, signal: controller.signal, started });
      if (outcome.kind === 'error') {
        const timings = { ...outcome.timings, totalMs: elapsed() };
        if (timedOut) {
          return {
            kind: 'failure',
            failureClass: 'timeout',
            detail: `no complete answer within ${request.timeoutMs}ms (${phaseOf(timings)})`,
            timings,
          };
        }
        if (signal?.aborted)
          return { kind: 'failure', failureClass: 'timeout', detail: 'cancelled', timings };
        const failureClass = classifyTransportError(outcome.error);
        const code = outcome.error.code;
        return {
          kind: 'failure',
          failureClass,
          ...(code ? { code } : {}),
          detail: `${outcome.error.message || code || 'connection failed'} (${phaseOf(timings)})`,
          timings,
        };
      }
      const { res } = outcome;
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (request.followRedirects && REDIRECTS.has(status) && location) {
        res.destroy();
        const next = new URL(location, hop.url);
        redirects.push(next.href);
        if (redirects.length > (request.maxRedirects ?? 10)) {
          return {
            kind: 'failure',
            failureClass: 'too-many-redirects',
            detail: `more than ${request.maxRedirects ?? 10} redirects (last to ${next.href})`,
            timings: { ...outcome.timings, totalMs: elapsed() },
          };
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          return {
            kind: 'failure',
            failureClass: 'protocol',
            detail: `redirect to an unsupported URL ${next.href}`,
            timings: { ...outcome.timings, totalMs: elapsed() },
          };
        }
        const { method, keepBody } = redirectMethod(status, hop.method);
        hop = {
          url: next,
          method,
          // credentials stay with the origin they were written for (curl does the same)
          headers: next.origin === hop.url.origin ? hop.headers : {},
          body: keepBody ? hop.body : undefined,
        };
        continue;
      }
      const body = await readBody(res, request.maxBodyBytes ?? DEFAULT_MAX_BODY);
      const timings = { ...outcome.timings, totalMs: elapsed() };
      if (body.error && !body.truncated) {
        if (timedOut) {
          return {
            kind: 'failure',
            failureClass: 'timeout',
            detail: `no complete answer within ${request.timeoutMs}ms (status ${status}, reading the body)`,
            timings,
          };
        }
        return {
          kind: 'failure',
          failureClass: 'connection-reset',
          detail: `the connection broke while reading the body after status ${status} (${body.error.message})`,
          timings,
        };
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) {
        if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      }
      return {
        kind: 'response',
        url: hop.url.href,
        status,
        headers,
        body: body.data,
        bodyTruncated: body.truncated,
        timings,
        redirects,
        ...(outcome.tlsError ? { tlsAuthorizationError: outcome.tlsError } : {}),
      };
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
};

function phaseOf(t: RequestTimings): string {
  if (t.connectMs === undefined)
    return t.dnsMs === undefined ? 'while connecting' : 'while connecting, after DNS';
  if (t.firstByteMs === undefined) return 'after connecting, before the response';
  return 'while reading the response';
}

function sendHop(
  hop: Hop,
  ctx: { request: ProbeRequest; ca: string[] | undefined; signal: AbortSignal; started: number },
): Promise<HopOutcome> {
  const { request } = ctx;
  const since = (): number => performance.now() - ctx.started;
  const timings: RequestTimings = { totalMs: 0 };
  const target = connectionTarget(hop.url, request.resolve);
  const secure = hop.url.protocol === 'https:';
  const hostname = hop.url.hostname.replace(/^\[(.*)\]$/, '$1');
  const headers: Record<string, string> = { host: hop.url.host, 'user-agent': USER_AGENT, accept: '*/*' };
  for (const [k, v] of Object.entries(hop.headers)) headers[k.toLowerCase()] = v;
  if (hop.body !== undefined) headers['content-length'] = String(Buffer.byteLength(hop.body));
  const options: https.RequestOptions = {
    method: hop.method,
    host: target.host,
    port: target.port,
    path: `${hop.url.pathname}${hop.url.search}`,
    headers,
    // a fresh connection per request: a pooled one would hide a broken origin behind a good one
    agent: false,
    signal: ctx.signal,
  };
  if (secure) {
    // SNI and certificate checks use the URL's host even when `resolve` dials another address
    if (!isIP(hostname)) options.servername = hostname;
    options.rejectUnauthorized = !request.insecure;
    if (ctx.ca) options.ca = ctx.ca;
    options.checkServerIdentity = (_host, cert) => checkServerIdentity(hostname, cert);
  }
  return new Promise((resolve) => {
    let tlsError: string | undefined;
    let settled = false;
    const settle = (o: HopOutcome): void => {
      if (!settled) {
        settled = true;
        resolve(o);
      }
    };
    const req = (secure ? https : http).request(options);
    req.on('socket', (socket) => {
      socket.once('lookup', () => (timings.dnsMs ??= since()));
      socket.once('connect', () => (timings.connectMs ??= since()));
      socket.once('secureConnect', () => {
        timings.tlsMs ??= since();
        const tlsSocket = socket as TLSSocket;
        if (!tlsSocket.authorized && tlsSocket.authorizationError)
          tlsError = String(tlsSocket.authorizationError);
      });
    });
    req.on('response', (res) => {
      timings.firstByteMs = since();
      settle({ kind: 'response', res, timings, ...(tlsError ? { tlsError } : {}) });
    });
    req.on('error', (error: NodeJS.ErrnoException) => settle({ kind: 'error', error, timings }));
    req.end(hop.body);
  });
}

async function readBody(
  res: http.IncomingMessage,
  max: number,
): Promise<{ data: Buffer; truncated: boolean; error?: Error }> {
  const chunks: Buffer[] = [];
  let size = 0;
  return new Promise((resolve) => {
    let done = false;
    const finish = (truncated: boolean, error?: Error): void => {
      if (done) return;
      done = true;
      resolve({ data: Buffer.concat(chunks).subarray(0, max), truncated, ...(error ? { error } : {}) });
    };
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= max) {
        finish(size > max);
        res.destroy();
      }
    });
    res.on('end', () => finish(false));
    res.on('aborted', () => finish(false, new Error('the server closed the connection mid-body')));
    res.on('error', (e) => finish(false, e));
    res.on('close', () => {
      if (!res.complete) finish(false, new Error('the connection closed before the body was complete'));
    });
  });
}
