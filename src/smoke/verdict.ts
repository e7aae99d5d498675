/**
 * Smoke verdicts as pure functions of data: whether one response satisfies a check, how a
 * transport error is classified, whether a burst of samples meets the latency percentiles, and
 * whether a check has passed, must go on, or can no longer pass before the deadline. No sockets,
 * no clocks: the runner (run.ts) feeds these with what the probe saw.
 */
import type { JsonExpectation, SmokeCheck, StatusRange, TextMatcher } from './checks.js';

/**
 * Why an attempt failed. Transport classes come from the connection (no HTTP response);
 * the rest judge a response.
 */
export type FailureClass =
  | 'dns' // the name did not resolve (ENOTFOUND, EAI_AGAIN)
  | 'network-unreachable' // no route (ENETUNREACH, EHOSTUNREACH)
  | 'connect-refused' // nothing listening (ECONNREFUSED)
  | 'connection-reset' // the peer dropped the connection (ECONNRESET, socket hang up)
  | 'tls' // handshake or certificate verification failed
  | 'timeout' // no complete answer within `timeout` (or before the deadline)
  | 'protocol' // not a valid HTTP response
  | 'connection-error' // any other socket error
  | 'too-many-redirects'
  | 'status-mismatch'
  | 'header-mismatch'
  | 'body-mismatch'
  | 'json-mismatch'
  | 'latency'; // slower than max-latency, or a burst's percentile over its threshold

export const TRANSPORT_FAILURES: readonly FailureClass[] = [
  'dns',
  'network-unreachable',
  'connect-refused',
  'connection-reset',
  'tls',
  'timeout',
  'protocol',
  'connection-error',
  'too-many-redirects',
];

/** Failures that say "we could not reach anything", not "what is deployed is broken" (exit 3). */
export const INFRASTRUCTURE_FAILURES: readonly FailureClass[] = ['dns', 'network-unreachable'];

/** Phase timings of one request, ms from its start; absent phases did not happen. */
export interface RequestTimings {
  dnsMs?: number;
  connectMs?: number;
  tlsMs?: number;
  firstByteMs?: number;
  totalMs: number;
}

/** What the probe saw for one request: an HTTP response (after redirects when followed). */
export interface ProbeResponse {
  kind: 'response';
  /** The URL that answered (differs from the check's after followed redirects). */
  url: string;
  status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Up to the probe's body cap. */
  body: Buffer;
  bodyTruncated: boolean;
  timings: RequestTimings;
  redirects: string[];
  /** Set when `insecure` let an unverifiable certificate through. */
  tlsAuthorizationError?: string;
}

/** What the probe saw when no HTTP response arrived. */
export interface ProbeFailure {
  kind: 'failure';
  failureClass: FailureClass;
  /** The error code (ECONNREFUSED, ERR_TLS_CERT_ALTNAME_INVALID …) when there was one. */
  code?: string;
  detail: string;
  timings: RequestTimings;
}

export type ProbeResult = ProbeResponse | ProbeFailure;

export interface Verdict {
  ok: boolean;
  failureClass?: FailureClass;
  /** One line an operator can act on. */
  detail: string;
}

// ---------------------------------------------------------------------------------------------
// One response

export function statusMatches(status: number, ranges: readonly StatusRange[]): boolean {
  return ranges.some((r) => status >= r.min && status <= r.max);
}

export function formatStatusRanges(ranges: readonly StatusRange[]): string {
  return ranges.map((r) => (r.min === r.max ? String(r.min) : `${r.min}-${r.max}`)).join(', ');
}

export function textMatches(text: string, matcher: TextMatcher): boolean {
  return matcher.kind === 'substring'
    ? text.includes(matcher.text)
    : new RegExp(matcher.source, matcher.flags).test(text);
}

export function describeMatcher(matcher: TextMatcher): string {
  return matcher.kind === 'substring' ? JSON.stringify(matcher.text) : `/${matcher.source}/${matcher.flags}`;
}

/** The value at a path, or `{found: false}`. */
export function jsonValueAt(
  doc: unknown,
  segments: readonly (string | number)[],
): { found: boolean; value?: unknown } {
  let cur: unknown = doc;
  for (const seg of segments) {
    if (Array.isArray(cur) && typeof seg === 'number' && seg < cur.length) cur = cur[seg];
    else if (
      cur !== null &&
      typeof cur === 'object' &&
      !Array.isArray(cur) &&
      Object.hasOwn(cur, String(seg))
    ) {
      cur = (cur as Record<string, unknown>)[String(seg)];
    } else return { found: false };
  }
  return { found: true, value: cur };
}

/**
 * Whether an actual JSON value meets an expectation. A string expectation matches a scalar by its
 * JSON spelling (so `ready=true` from the command line matches the boolean true), or is a regex
 * when written `/…/`; other expectations compare structurally.
 */
export function jsonValueMatches(actual: unknown, expected: unknown): boolean {
  if (typeof expected === 'string') {
    if (actual !== null && typeof actual === 'object') return false;
    const text = actual === null ? 'null' : String(actual);
    const re = /^\/(.+)\/([dimsuv]*)$/s.exec(expected);
    return re ? new RegExp(re[1] ?? '', re[2]).test(text) : text === expected;
  }
  return canonicalJson(actual) === canonicalJson(expected);
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? s.slice(0, 80) + '…' : s;
}

/** The first unmet JSON expectation, as a sentence; undefined when all are met. */
export function findJsonMismatch(
  bodyText: string,
  expectations: readonly JsonExpectation[],
): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(bodyText);
  } catch {
    return 'the body is not JSON';
  }
  for (const e of expectations) {
    const at = jsonValueAt(doc, e.segments);
    if (!at.found) return `${e.path} is missing (expected ${short(e.expected)})`;
    if (!jsonValueMatches(at.value, e.expected))
      return `${e.path} is ${short(at.value)}, expected ${short(e.expected)}`;
  }
  return undefined;
}

/**
 * The verdict on one probe result. Order of rules: transport failure, status, headers, body,
 * JSON, latency — so a 503 is reported as a status mismatch even when it was also slow.
 */
export function evaluateResponse(check: SmokeCheck, result: ProbeResult): Verdict {
  if (result.kind === 'failure')
    return { ok: false, failureClass: result.failureClass, detail: result.detail };
  const r = result;
  if (!statusMatches(r.status, check.expectStatus)) {
    const location = r.headers.location;
    const hint =
      location !== undefined && r.status >= 300 && r.status < 400
        ? ` (redirect to ${location}${check.followRedirects ? '' : '; set follow-redirects: true to follow it'})`
        : '';
    return {
      ok: false,
      failureClass: 'status-mismatch',
      detail: `status ${r.status}, expected ${formatStatusRanges(check.expectStatus)}${hint}`,
    };
  }
  for (const h of check.expectHeader) {
    const actual = r.headers[h.name];
    if (actual === undefined)
      return { ok: false, failureClass: 'header-mismatch', detail: `header ${h.name} is missing` };
    if (!textMatches(actual, h.matcher)) {
      return {
        ok: false,
        failureClass: 'header-mismatch',
        detail: `header ${h.name} is ${JSON.stringify(actual)}, expected ${describeMatcher(h.matcher)}`,
      };
    }
  }
  const bodyText = r.body.toString('utf8');
  if (check.expectBody && !textMatches(bodyText, check.expectBody)) {
    return {
      ok: false,
      failureClass: 'body-mismatch',
      detail: `the body does not contain ${describeMatcher(check.expectBody)}${r.bodyTruncated ? ` (only the first ${r.body.length} bytes were read)` : ''}`,
    };
  }
  if (check.expectJson.length > 0) {
    const mismatch = findJsonMismatch(bodyText, check.expectJson);
    if (mismatch) return { ok: false, failureClass: 'json-mismatch', detail: mismatch };
  }
  if (check.maxLatencyMs !== undefined && r.timings.totalMs > check.maxLatencyMs) {
    return {
      ok: false,
      failureClass: 'latency',
      detail: `answered in ${Math.round(r.timings.totalMs)}ms, over max-latency ${check.maxLatencyMs}ms`,
    };
  }
  return { ok: true, detail: `status ${r.status} in ${Math.round(r.timings.totalMs)}ms` };
}

// ---------------------------------------------------------------------------------------------
// Transport errors

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'HOSTNAME_MISMATCH',
  'EPROTO',
]);

/** Maps a Node socket/TLS/parser error to a failure class, by its code (never by message text). */
export function classifyTransportError(error: { code?: string | undefined }): FailureClass {
  const code = error.code ?? '';
  if (['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME'].includes(code)) return 'dns';
  if (code === 'ECONNREFUSED') return 'connect-refused';
  if (['ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN', 'EHOSTDOWN', 'EADDRNOTAVAIL'].includes(code))
    return 'network-unreachable';
  if (['ECONNRESET', 'EPIPE', 'ECONNABORTED'].includes(code)) return 'connection-reset';
  if (code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT') return 'timeout';
  if (
    TLS_CODES.has(code) ||
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    code.startsWith('CERT_')
  )
    return 'tls';
  if (code.startsWith('HPE_')) return 'protocol';
  return 'connection-error';
}

// ---------------------------------------------------------------------------------------------
// Latency percentiles

/** Nearest-rank percentile (p in 0..100) of unsorted samples; undefined for no samples. */
export function percentile(samples: readonly number[], p: number): number | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export interface LatencySummary {
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarizeLatencies(samples: readonly number[]): LatencySummary | null {
  if (samples.length === 0) return null;
  const round = (n: number | undefined): number => Math.round((n ?? 0) * 10) / 10;
  return {
    samples: samples.length,
    p50: round(percentile(samples, 50)),
    p95: round(percentile(samples, 95)),
    p99: round(percentile(samples, 99)),
    max: round(Math.max(...samples)),
  };
}

/**
 * The verdict on one attempt (a burst of `samples` requests): the first failed request's verdict,
 * else the percentile thresholds over the burst's latencies.
 */
export function evaluateAttempt(
  check: SmokeCheck,
  verdicts: readonly Verdict[],
  latencies: readonly number[],
): Verdict {
  const failed = verdicts.find((v) => !v.ok);
  if (failed) {
    return verdicts.length > 1
      ? { ...failed, detail: `request ${verdicts.indexOf(failed) + 1}/${check.samples}: ${failed.detail}` }
      : failed;
  }
  for (const p of ['p50', 'p95', 'p99'] as const) {
    const limit = check.latency[p];
    if (limit === undefined) continue;
    const value = percentile(latencies, Number(p.slice(1))) ?? 0;
    if (value > limit) {
      return {
        ok: false,
        failureClass: 'latency',
        detail: `latency ${p} ${Math.round(value)}ms over ${latencies.length} requests, above latency-${p} ${limit}ms`,
      };
    }
  }
  return verdicts[verdicts.length - 1] ?? { ok: true, detail: 'no requests' };
}

// ---------------------------------------------------------------------------------------------
// Stability policy

export interface CheckProgress {
  attempts: number;
  /** Successful attempts in a row, reset by any failure. */
  consecutiveSuccesses: number;
}

export type CheckState = 'passed' | 'pending' | 'failed';

/**
 * Whether a check has passed, can still pass, or cannot any more. After an attempt ending at
 * `now`, a check needing k more successes in a row must start k more attempts, each after an
 * `interval` pause; if even the optimistic schedule (attempts taking no time) would start the
 * last one after the deadline, it can no longer pass and the step may end now.
 */
export function decideCheckState(
  check: Pick<SmokeCheck, 'consecutiveSuccesses' | 'intervalMs'>,
  progress: CheckProgress,
  now: number,
  deadline: number,
): CheckState {
  if (progress.consecutiveSuccesses >= check.consecutiveSuccesses) return 'passed';
  const needed = check.consecutiveSuccesses - progress.consecutiveSuccesses;
  return now + needed * check.intervalMs < deadline ? 'pending' : 'failed';
}

/** Progress after one attempt's verdict. */
export function recordAttempt(progress: CheckProgress, verdict: Verdict): CheckProgress {
  return {
    attempts: progress.attempts + 1,
    consecutiveSuccesses: verdict.ok ? progress.consecutiveSuccesses + 1 : 0,
  };
}
