// The runner's policy with a fake probe and a manual clock: no sockets, no waiting.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { ConfigurationError, GantryError } from '../../src/core/errors.js';
import { MemoryLogger } from '../../src/core/logging.js';
import { parseSmokeChecks } from '../../src/smoke/checks.js';
import type { HttpProbe, ProbeRequest } from '../../src/smoke/probe.js';
import { runSmokeTest } from '../../src/smoke/run.js';
import type { FailureClass, ProbeResult } from '../../src/smoke/verdict.js';

type Answer = number | FailureClass | ((req: ProbeRequest) => ProbeResult);

/** A probe answering from a script per URL host (the last answer repeats), taking `latencyMs` of clock time. */
function scriptedProbe(clock: ManualClock, script: Record<string, Answer[]>, latencyMs = 10) {
  const calls: ProbeRequest[] = [];
  const counts: Record<string, number> = {};
  const probe: HttpProbe = async (req) => {
    calls.push(req);
    const host = new URL(req.url).host;
    const answers = script[host] ?? [];
    const n = counts[host] ?? 0;
    counts[host] = n + 1;
    const answer = answers[Math.min(n, answers.length - 1)] ?? 200;
    clock.advance(Math.min(latencyMs, req.timeoutMs));
    if (typeof answer === 'function') return answer(req);
    if (typeof answer === 'number') {
      return {
        kind: 'response',
        url: req.url,
        status: answer,
        headers: {},
        body: Buffer.from(answer === 200 ? 'ok' : 'down'),
        bodyTruncated: false,
        timings: { totalMs: latencyMs },
        redirects: [],
      };
    }
    return {
      kind: 'failure',
      failureClass: answer,
      detail: `${answer} failure`,
      timings: { totalMs: latencyMs },
    };
  };
  return { probe, calls };
}

async function run(
  raw: Record<string, unknown>[],
  script: Record<string, Answer[]>,
  options: { deadlineMs?: number; latencyMs?: number; signal?: AbortSignal } = {},
) {
  const clock = new ManualClock();
  const start = clock.now();
  const logger = new MemoryLogger();
  const { probe, calls } = scriptedProbe(clock, script, options.latencyMs);
  const checks = parseSmokeChecks(raw.map((r) => ({ interval: '1s', ...r })));
  const report = await runSmokeTest(
    { checks, deadlineMs: options.deadlineMs ?? 10_000 },
    { logger, clock, probe, ...(options.signal ? { signal: options.signal } : {}) },
  );
  return { report, calls, clock, logger, elapsed: clock.now() - start };
}

describe('runSmokeTest', () => {
  it('passes a check after consecutive-successes good attempts, an interval apart', async () => {
    const { report, calls, clock } = await run([{ url: 'http://a.test/' }], { 'a.test': [200] });
    expect(report).toMatchObject({ passed: true, outcome: 'healthy', exitCode: 0 });
    expect(report.checks[0]).toMatchObject({
      status: 'passed',
      attempts: 2,
      requests: 2,
      consecutiveSuccesses: 2,
    });
    expect(calls).toHaveLength(2);
    expect(clock.sleeps).toEqual([1000]);
  });

  it('needs the successes in a row: a failure resets the count', async () => {
    const { report } = await run([{ url: 'http://a.test/', 'consecutive-successes': 3 }], {
      'a.test': [200, 200, 503, 200, 200, 200],
    });
    expect(report.checks[0]).toMatchObject({ status: 'passed', attempts: 6 });
  });

  it('fails a flapping check at the point it can no longer pass, before the deadline', async () => {
    const { report, elapsed } = await run([{ url: 'http://a.test/' }], {
      'a.test': [200, 503, 200, 503, 200, 503, 200, 503, 200, 503, 200],
    });
    const c = report.checks[0]!;
    expect(c.status).toBe('failed');
    expect(c.failureClass).toBe('status-mismatch');
    expect(c.detail).toMatch(/status 503, expected 200-299$/);
    expect(elapsed).toBeLessThanOrEqual(10_000);
    expect(report.exitCode).toBe(1);
  });

  it('ends at once when the remaining intervals cannot fit before the deadline', async () => {
    const { report, clock } = await run(
      [{ url: 'http://a.test/', interval: '5s' }],
      { 'a.test': [500] },
      { deadlineMs: 3000 },
    );
    expect(report.checks[0]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(clock.sleeps).toEqual([]);
  });

  it('caps each request timeout at the time left before the deadline', async () => {
    const { calls } = await run(
      [{ url: 'http://a.test/', timeout: '10s', interval: '100ms' }],
      { 'a.test': ['timeout'] },
      {
        deadlineMs: 1500,
        latencyMs: 600,
      },
    );
    expect(calls.map((c) => c.timeoutMs)).toEqual([1500, 800]);
  });

  it('keeps the informative failure when the deadline cuts the last attempt short', async () => {
    const { report } = await run(
      [{ url: 'http://a.test/', 'max-latency': '100ms', interval: '100ms' }],
      { 'a.test': [200] },
      { deadlineMs: 1000, latencyMs: 400 },
    );
    expect(report.checks[0]).toMatchObject({ failureClass: 'latency' });
  });

  it('stops the other checks as soon as one can no longer pass', async () => {
    const { report } = await run(
      [
        { name: 'good', url: 'http://good.test/' },
        { name: 'bad', url: 'http://bad.test/', interval: '20s' },
      ],
      { 'good.test': [200], 'bad.test': [500] },
    );
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ['good', 'cancelled'],
      ['bad', 'failed'],
    ]);
    expect(report.checks[0]).toMatchObject({
      failureClass: null,
      detail: 'stopped early: another check could no longer pass',
    });
    expect(report.summary).toMatch(/^unhealthy: bad \(status-mismatch\) failed after/);
  });

  it('sends a burst of `samples` requests per attempt and stops a burst at its first failure', async () => {
    const { report, calls } = await run([{ url: 'http://a.test/', samples: 5, 'consecutive-successes': 1 }], {
      'a.test': [200, 200, 503, 200, 200, 200, 200, 200],
    });
    expect(report.checks[0]).toMatchObject({ status: 'passed', attempts: 2, requests: 8 });
    expect(calls).toHaveLength(8);
  });

  describe('outcome: infrastructure (exit 3) only when nothing could be reached', () => {
    it.each<[string, Record<string, Answer[]>, string, number]>([
      ['every check failed DNS', { 'a.test': ['dns'], 'b.test': ['dns'] }, 'infrastructure', 3],
      [
        'DNS and network unreachable',
        { 'a.test': ['dns'], 'b.test': ['network-unreachable'] },
        'infrastructure',
        3,
      ],
      [
        'connection refused is the release being down',
        { 'a.test': ['dns'], 'b.test': ['connect-refused'] },
        'unhealthy',
        1,
      ],
      ['one check got an answer', { 'a.test': ['dns'], 'b.test': [200] }, 'unhealthy', 1],
      ['a timeout is a verdict too', { 'a.test': ['timeout'], 'b.test': ['timeout'] }, 'unhealthy', 1],
    ])('%s → %s', async (_name, script, outcome, exitCode) => {
      const { report } = await run(
        [
          { name: 'a', url: 'http://a.test/', interval: '100ms' },
          { name: 'b', url: 'http://b.test/', interval: '100ms' },
        ],
        script,
        { deadlineMs: 1000 },
      );
      expect(report).toMatchObject({ outcome, exitCode, passed: false });
    });
  });

  it('masks header values, bare credentials and env-expanded values in the log and the report', async () => {
    const clock = new ManualClock();
    const logger = new MemoryLogger();
    const checks = parseSmokeChecks(
      [{ url: 'http://a.test/', headers: { Authorization: 'Bearer tok-1234567890', 'X-Key': '${KEY}' } }],
      { env: { KEY: 'env-secret-value' } },
    );
    const echo: HttpProbe = async (req) => ({
      kind: 'response',
      url: req.url,
      status: 500,
      headers: {},
      body: Buffer.from(`got ${req.headers.Authorization} / tok-1234567890 / ${req.headers['X-Key']}`),
      bodyTruncated: false,
      timings: { totalMs: 1 },
      redirects: [],
    });
    const report = await runSmokeTest({ checks, deadlineMs: 1500 }, { logger, clock, probe: echo });
    expect(report.checks[0]?.lastFailure?.bodyExcerpt).toBe('got *** / *** / ***');
    const all = JSON.stringify(report) + logger.text();
    expect(all).not.toContain('tok-1234567890');
    expect(all).not.toContain('env-secret-value');
  });

  it('masks a password written in the check URL wherever it is echoed', async () => {
    const clock = new ManualClock();
    const logger = new MemoryLogger();
    const checks = parseSmokeChecks([{ url: 'http://ops:pw%2Fsecret-42@a.test/' }]);
    const echo: HttpProbe = async (req) => ({
      kind: 'response',
      url: req.url,
      status: 401,
      headers: {},
      body: Buffer.from('rejected password pw/secret-42'),
      bodyTruncated: false,
      timings: { totalMs: 1 },
      redirects: [],
    });
    const report = await runSmokeTest({ checks, deadlineMs: 1500 }, { logger, clock, probe: echo });
    expect(report.checks[0]?.lastFailure?.bodyExcerpt).toBe('rejected password ***');
    expect(report.checks[0]?.url).toBe('http://ops:***@a.test/');
    expect(JSON.stringify(report) + logger.text()).not.toContain('secret-42');
  });

  it('throws a cancelled error when the signal aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('received SIGTERM'));
    await expect(
      run([{ url: 'http://a.test/' }], { 'a.test': [200] }, { signal: controller.signal }),
    ).rejects.toSatisfy(
      (e: unknown) => e instanceof GantryError && e.code === 'cancelled' && e.message.includes('SIGTERM'),
    );
  });

  it('rejects no checks and a non-positive deadline as configuration errors', async () => {
    const logger = new MemoryLogger();
    await expect(runSmokeTest({ checks: [], deadlineMs: 1000 }, { logger })).rejects.toBeInstanceOf(
      ConfigurationError,
    );
    const checks = parseSmokeChecks(['http://a.test/']);
    await expect(runSmokeTest({ checks, deadlineMs: 0 }, { logger })).rejects.toBeInstanceOf(
      ConfigurationError,
    );
  });

  it('logs one line per attempt, like an operator would note it', async () => {
    const { logger } = await run([{ name: 'api', url: 'http://a.test/' }], { 'a.test': [503, 200] });
    const lines = logger.records.filter((r) => r.level === 'info').map((r) => r.message);
    expect(lines).toContain(
      'api: attempt 1 failed (status-mismatch): status 503, expected 200-299 [0/2 in a row]',
    );
    expect(lines).toContain('api: attempt 2 ok: status 200 in 10ms [1/2 in a row]');
    expect(lines).toContain('api: passed (http://a.test/)');
  });
});
