import { describe, expect, it } from 'vitest';
import { parseSmokeChecks, type SmokeCheck } from '../../src/smoke/checks.js';
import {
  classifyTransportError,
  decideCheckState,
  evaluateAttempt,
  evaluateResponse,
  jsonValueMatches,
  percentile,
  recordAttempt,
  summarizeLatencies,
  type CheckProgress,
  type ProbeResponse,
  type Verdict,
} from '../../src/smoke/verdict.js';

function check(raw: Record<string, unknown> = {}): SmokeCheck {
  const [c] = parseSmokeChecks([{ url: 'http://api.test/health', ...raw }]);
  return c!;
}

function response(status: number, body = '', extra: Partial<ProbeResponse> = {}): ProbeResponse {
  return {
    kind: 'response',
    url: 'http://api.test/health',
    status,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(body),
    bodyTruncated: false,
    timings: { connectMs: 1, firstByteMs: 5, totalMs: 20 },
    redirects: [],
    ...extra,
  };
}

describe('evaluateResponse', () => {
  it.each<[string, Record<string, unknown>, ProbeResponse, Partial<Verdict>]>([
    ['a 200 passes the defaults', {}, response(200), { ok: true, detail: 'status 200 in 20ms' }],
    ['a 204 passes 200-299', {}, response(204), { ok: true }],
    [
      'a 503 fails',
      {},
      response(503),
      { ok: false, failureClass: 'status-mismatch', detail: 'status 503, expected 200-299' },
    ],
    ['a 503 passes when expected', { 'expect-status': '503' }, response(503), { ok: true }],
    [
      'a redirect not followed says how to follow it',
      {},
      response(301, '', { headers: { location: '/new' } }),
      {
        failureClass: 'status-mismatch',
        detail: 'status 301, expected 200-299 (redirect to /new; set follow-redirects: true to follow it)',
      },
    ],
    ['body substring', { 'expect-body': 'ok' }, response(200, 'all ok'), { ok: true }],
    [
      'body substring missing',
      { 'expect-body': 'ok' },
      response(200, 'down'),
      { failureClass: 'body-mismatch', detail: 'the body does not contain "ok"' },
    ],
    ['body regex', { 'expect-body': '/^UP$/i' }, response(200, 'up'), { ok: true }],
    ['json value', { 'expect-json': { status: 'ok' } }, response(200, '{"status":"ok"}'), { ok: true }],
    [
      'json nested',
      { 'expect-json': { 'checks.db': 'up' } },
      response(200, '{"checks":{"db":"down"}}'),
      { failureClass: 'json-mismatch', detail: 'checks.db is "down", expected "up"' },
    ],
    [
      'json missing path',
      { 'expect-json': { 'checks.db': 'up' } },
      response(200, '{"checks":{}}'),
      { detail: 'checks.db is missing (expected "up")' },
    ],
    [
      'json not JSON',
      { 'expect-json': { status: 'ok' } },
      response(200, '<html>'),
      { failureClass: 'json-mismatch', detail: 'the body is not JSON' },
    ],
    [
      'json array index',
      { 'expect-json': { 'nodes[1].ready': 'true' } },
      response(200, '{"nodes":[{"ready":true},{"ready":false}]}'),
      { detail: 'nodes[1].ready is false, expected "true"' },
    ],
    ['header contains', { 'expect-header': { 'Content-Type': 'json' } }, response(200), { ok: true }],
    [
      'header value differs',
      { 'expect-header': { 'Content-Type': 'text/html' } },
      response(200),
      {
        failureClass: 'header-mismatch',
        detail: 'header content-type is "application/json", expected "text/html"',
      },
    ],
    [
      'header missing',
      { 'expect-header': { 'X-Version': 'v2' } },
      response(200),
      { failureClass: 'header-mismatch', detail: 'header x-version is missing' },
    ],
    [
      'max-latency over',
      { 'max-latency': '10ms' },
      response(200),
      { failureClass: 'latency', detail: 'answered in 20ms, over max-latency 10ms' },
    ],
    ['max-latency under', { 'max-latency': '50ms' }, response(200), { ok: true }],
    [
      'status wins over latency',
      { 'max-latency': '10ms' },
      response(500),
      { failureClass: 'status-mismatch' },
    ],
  ])('%s', (_name, raw, res, expected) => {
    expect(evaluateResponse(check(raw), res)).toMatchObject(expected);
  });

  it('passes a transport failure through', () => {
    expect(
      evaluateResponse(check(), {
        kind: 'failure',
        failureClass: 'dns',
        detail: 'getaddrinfo ENOTFOUND api.test',
        timings: { totalMs: 3 },
      }),
    ).toEqual({ ok: false, failureClass: 'dns', detail: 'getaddrinfo ENOTFOUND api.test' });
  });
});

describe('jsonValueMatches', () => {
  it.each<[unknown, unknown, boolean]>([
    ['ok', 'ok', true],
    ['OK', 'ok', false],
    [true, 'true', true],
    [3, '3', true],
    [3, 3, true],
    [null, 'null', true],
    [{ a: 1 }, 'x', false],
    ['v1.2.3', '/^v1\\./', true],
    [{ b: 2, a: 1 }, { a: 1, b: 2 }, true],
    [[1, 2], [2, 1], false],
  ])('%j vs %j → %s', (actual, expected, result) => {
    expect(jsonValueMatches(actual, expected)).toBe(result);
  });
});

describe('classifyTransportError', () => {
  it.each([
    ['ENOTFOUND', 'dns'],
    ['EAI_AGAIN', 'dns'],
    ['ECONNREFUSED', 'connect-refused'],
    ['ENETUNREACH', 'network-unreachable'],
    ['EHOSTUNREACH', 'network-unreachable'],
    ['ECONNRESET', 'connection-reset'],
    ['EPIPE', 'connection-reset'],
    ['ETIMEDOUT', 'timeout'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls'],
    ['CERT_HAS_EXPIRED', 'tls'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'tls'],
    ['HPE_INVALID_CONSTANT', 'protocol'],
    ['EWHATEVER', 'connection-error'],
    [undefined, 'connection-error'],
  ])('%s → %s', (code, failureClass) => {
    expect(classifyTransportError({ code })).toBe(failureClass);
  });
});

describe('percentiles', () => {
  it('uses the nearest-rank method', () => {
    const samples = [5, 1, 4, 2, 3, 6, 7, 8, 9, 10];
    expect(percentile(samples, 50)).toBe(5);
    expect(percentile(samples, 95)).toBe(10);
    expect(percentile(samples, 99)).toBe(10);
    expect(percentile([42], 50)).toBe(42);
    expect(percentile([], 50)).toBeUndefined();
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(hundred, 50), percentile(hundred, 95), percentile(hundred, 99)]).toEqual([50, 95, 99]);
  });
  it('summarizes latencies, null for none', () => {
    expect(summarizeLatencies([10, 20, 30, 40])).toEqual({ samples: 4, p50: 20, p95: 40, p99: 40, max: 40 });
    expect(summarizeLatencies([])).toBeNull();
  });
});

describe('evaluateAttempt (a burst of samples)', () => {
  const ok: Verdict = { ok: true, detail: 'status 200' };
  it('fails on the first failed request', () => {
    const c = check({ samples: 3 });
    const v = evaluateAttempt(
      c,
      [ok, { ok: false, failureClass: 'status-mismatch', detail: 'status 503' }],
      [10, 10],
    );
    expect(v).toEqual({ ok: false, failureClass: 'status-mismatch', detail: 'request 2/3: status 503' });
  });
  it('applies the percentile thresholds over the burst', () => {
    const c = check({ samples: 4, 'latency-p50': '100ms', 'latency-p95': '200ms' });
    const verdicts = [ok, ok, ok, ok];
    expect(evaluateAttempt(c, verdicts, [10, 20, 30, 150]).ok).toBe(true);
    expect(evaluateAttempt(c, verdicts, [10, 20, 30, 250])).toMatchObject({
      ok: false,
      failureClass: 'latency',
      detail: 'latency p95 250ms over 4 requests, above latency-p95 200ms',
    });
    expect(evaluateAttempt(c, verdicts, [10, 120, 130, 150])).toMatchObject({
      failureClass: 'latency',
      detail: expect.stringMatching(/^latency p50 120ms/),
    });
  });
});

describe('the stability policy', () => {
  const policy = { consecutiveSuccesses: 2, intervalMs: 1000 };
  it.each<[string, CheckProgress, number, string]>([
    ['passed after 2 in a row', { attempts: 5, consecutiveSuccesses: 2 }, 0, 'passed'],
    ['1 more needed, 1 interval left', { attempts: 1, consecutiveSuccesses: 1 }, 8_500, 'pending'],
    ['2 needed, 2 intervals left', { attempts: 1, consecutiveSuccesses: 0 }, 7_500, 'pending'],
    ['2 needed, less than 2 intervals left', { attempts: 1, consecutiveSuccesses: 0 }, 8_500, 'failed'],
    ['1 needed, at the deadline', { attempts: 3, consecutiveSuccesses: 1 }, 9_000, 'failed'],
  ])('%s', (_name, progress, now, state) => {
    expect(decideCheckState(policy, progress, now, 10_000)).toBe(state);
  });

  it('a flapping series (ok, fail, ok, fail …) never reaches 2 in a row', () => {
    let p: CheckProgress = { attempts: 0, consecutiveSuccesses: 0 };
    const states: string[] = [];
    for (let i = 0; i < 20; i++) {
      p = recordAttempt(p, { ok: i % 2 === 0, detail: '' });
      states.push(decideCheckState(policy, p, 0, 1e9));
    }
    expect(states.every((s) => s === 'pending')).toBe(true);
    expect(p.attempts).toBe(20);
    // two good answers in a row do pass
    p = recordAttempt(recordAttempt(p, { ok: true, detail: '' }), { ok: true, detail: '' });
    expect(decideCheckState(policy, p, 0, 1e9)).toBe('passed');
  });
});
