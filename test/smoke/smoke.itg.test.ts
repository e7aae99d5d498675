// The smoke test against real HTTP/HTTPS/TCP servers on loopback: one test per rule of issue 7.
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/core/logging.js';
import { parseSmokeChecks, runSmokeTest, type SmokeReport } from '../../src/smoke/index.js';
import { closedPort, respond, startResettingServer, startServer } from './fixtures/servers.js';
import { TLS_HOST, makeTestPki, type TestPki } from './fixtures/tls.js';

const FAST = { interval: '50ms', timeout: '2s' };

async function smoke(
  raw: Record<string, unknown>[],
  options: { deadlineMs?: number; caCert?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ report: SmokeReport; logger: MemoryLogger; elapsedMs: number }> {
  const logger = new MemoryLogger();
  const checks = parseSmokeChecks(
    raw.map((r) => ({ ...FAST, ...r })),
    { env: options.env ?? {} },
  );
  const started = performance.now();
  const report = await runSmokeTest(
    { checks, deadlineMs: options.deadlineMs ?? 3000, ...(options.caCert ? { caCert: options.caCert } : {}) },
    { logger },
  );
  return { report, logger, elapsedMs: performance.now() - started };
}

function only(report: SmokeReport): SmokeReport['checks'][number] {
  expect(report.checks).toHaveLength(1);
  return report.checks[0]!;
}

describe('smoke test over plain HTTP', () => {
  it('passes a healthy JSON health endpoint after consecutive-successes good answers', async () => {
    const server = await startServer(respond.json({ status: 'ok', checks: { db: 'up' } }));
    const { report } = await smoke([
      {
        name: 'api',
        url: `${server.origin}/api/health/`,
        'expect-json': { status: 'ok', 'checks.db': 'up' },
      },
    ]);
    const c = only(report);
    expect(report).toMatchObject({ passed: true, outcome: 'healthy', exitCode: 0 });
    expect(c).toMatchObject({
      status: 'passed',
      attempts: 2,
      requests: 2,
      lastStatus: 200,
      failureClass: null,
    });
    expect(c.latency?.samples).toBe(2);
    expect(c.latency?.p95).toBeGreaterThan(0);
    expect(server.requests.map((r) => r.path)).toEqual(['/api/health/', '/api/health/']);
    expect(server.requests[0]?.headers['user-agent']).toBe('gantry-smoke');
  });

  it('does not pass a flapping release (200/503 alternating) with consecutive-successes 2', async () => {
    const server = await startServer(respond.flapping());
    const { report } = await smoke([{ url: `${server.origin}/health` }], { deadlineMs: 1000 });
    const c = only(report);
    expect(report).toMatchObject({ passed: false, outcome: 'unhealthy', exitCode: 1 });
    expect(c.status).toBe('failed');
    expect(c.failureClass).toBe('status-mismatch');
    expect(c.detail).toContain('503');
    expect(c.attempts).toBeGreaterThanOrEqual(4);
    expect(c.lastFailure?.bodyExcerpt).toBe('upstream unavailable');
  });

  it('passes the same flapping release with consecutive-successes 1 (the rule above is what catches it)', async () => {
    const server = await startServer(respond.flapping());
    const { report } = await smoke([{ url: `${server.origin}/health`, 'consecutive-successes': 1 }]);
    expect(report.passed).toBe(true);
    expect(only(report).attempts).toBe(1);
  });

  it('fails a response slower than max-latency with the latency class', async () => {
    const server = await startServer(respond.slow(300));
    const { report } = await smoke([{ url: `${server.origin}/`, 'max-latency': '100ms' }], {
      deadlineMs: 1000,
    });
    const c = only(report);
    expect(c.failureClass).toBe('latency');
    expect(c.detail).toMatch(/over max-latency 100ms/);
    expect(c.lastStatus).toBe(200);
  });

  it('judges latency percentiles over a burst of samples', async () => {
    // every 4th request is slow: p50 over a burst of 4 is fast, p95 is the slow one
    const handler = (n: number): number => (n % 4 === 0 ? 250 : 0);
    const server = await startServer((req, res, n) => respond.slow(handler(n))(req, res, n));
    const p50 = await smoke([{ url: `${server.origin}/`, samples: 4, 'latency-p50': '150ms' }]);
    expect(p50.report.passed).toBe(true);
    expect(only(p50.report).requests).toBe(8);
    const p95 = await smoke([{ url: `${server.origin}/`, samples: 4, 'latency-p95': '150ms' }], {
      deadlineMs: 1500,
    });
    const c = only(p95.report);
    expect(c.failureClass).toBe('latency');
    expect(c.detail).toMatch(/latency p95 \d+ms over 4 requests, above latency-p95 150ms/);
  });

  it('fails a wrong body (substring and /regex/)', async () => {
    const server = await startServer(respond.text('under maintenance'));
    const substring = await smoke([{ url: `${server.origin}/`, 'expect-body': 'healthy' }], {
      deadlineMs: 500,
    });
    expect(only(substring.report)).toMatchObject({ failureClass: 'body-mismatch', lastStatus: 200 });
    const regex = await smoke([{ url: `${server.origin}/`, 'expect-body': '/^under \\w+$/' }]);
    expect(regex.report.passed).toBe(true);
  });

  it('fails a wrong JSON value and names the path', async () => {
    const server = await startServer(respond.json({ status: 'ok', checks: { db: 'down' } }));
    const { report } = await smoke(
      [{ url: `${server.origin}/`, 'expect-json': { status: 'ok', 'checks.db': 'up' } }],
      { deadlineMs: 500 },
    );
    const c = only(report);
    expect(c.failureClass).toBe('json-mismatch');
    expect(c.detail).toBe('checks.db is "down", expected "up"');
  });

  it('treats a redirect as a status mismatch unless follow-redirects is set', async () => {
    const target = await startServer(respond.text('ok'));
    const redirecting = await startServer(respond.redirect(`${target.origin}/health`));
    const strict = await smoke([{ url: `${redirecting.origin}/` }], { deadlineMs: 500 });
    const c = only(strict.report);
    expect(c.failureClass).toBe('status-mismatch');
    expect(c.detail).toContain(
      `status 302, expected 200-299 (redirect to ${target.origin}/health; set follow-redirects`,
    );
    expect(target.requests).toHaveLength(0);

    const following = await smoke([{ url: `${redirecting.origin}/`, 'follow-redirects': true }]);
    expect(following.report.passed).toBe(true);
    expect(target.requests.map((r) => r.path)).toEqual(['/health', '/health']);
  });

  it('keeps headers on a same-origin redirect and drops them when the redirect leaves the origin', async () => {
    const other = await startServer(respond.text('ok'));
    const server = await startServer((req, res, n) => {
      if (req.url === '/old') respond.redirect('/new', 301)(req, res, n);
      else if (req.url === '/away') respond.redirect(`${other.origin}/x`, 307)(req, res, n);
      else respond.text('ok')(req, res, n);
    });
    const headers = { Authorization: 'Bearer same-origin-token' };
    const { report } = await smoke([
      {
        name: 'same',
        url: `${server.origin}/old`,
        'follow-redirects': true,
        headers,
        'consecutive-successes': 1,
      },
    ]);
    expect(report.passed).toBe(true);
    expect(server.requests.find((r) => r.path === '/new')?.headers.authorization).toBe(
      'Bearer same-origin-token',
    );
    const away = await smoke([
      {
        name: 'away',
        url: `${server.origin}/away`,
        'follow-redirects': true,
        headers,
        'consecutive-successes': 1,
      },
    ]);
    expect(away.report.passed).toBe(true);
    expect(other.requests).toHaveLength(1);
    expect(other.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('opens a fresh connection for every request (a pooled one would hide a broken origin)', async () => {
    const server = await startServer(respond.text('ok'));
    const { report } = await smoke([{ url: `${server.origin}/`, 'consecutive-successes': 3 }]);
    expect(report.passed).toBe(true);
    expect(server.requests).toHaveLength(3);
    expect(new Set(server.requests.map((r) => r.remotePort)).size).toBe(3);
  });

  it('classifies a reset connection as connection-reset', async () => {
    const server = await startResettingServer();
    const { report } = await smoke([{ url: `${server.origin}/` }], { deadlineMs: 500 });
    const c = only(report);
    expect(c).toMatchObject({ failureClass: 'connection-reset', lastStatus: null });
    expect(report.exitCode).toBe(1);
  });

  it('classifies connection refused as connect-refused: an unhealthy release (exit 1), not infrastructure', async () => {
    const port = await closedPort();
    const { report } = await smoke([{ url: `http://127.0.0.1:${port}/` }], { deadlineMs: 500 });
    expect(only(report).failureClass).toBe('connect-refused');
    expect(report).toMatchObject({ outcome: 'unhealthy', exitCode: 1 });
  });
});

describe('the deadline and early ending', () => {
  it('cuts a hanging request short at the deadline instead of waiting for the timeout', async () => {
    const server = await startServer(respond.hang());
    const { report, elapsedMs } = await smoke(
      [{ url: `${server.origin}/`, timeout: '10s', interval: '5s' }],
      { deadlineMs: 800 },
    );
    const c = only(report);
    expect(c.failureClass).toBe('timeout');
    expect(c.detail).toContain('cut short by the step deadline');
    expect(elapsedMs).toBeGreaterThanOrEqual(750);
    expect(elapsedMs).toBeLessThan(800 + 1000); // deadline + interval would be 5.8 s
  });

  it('ends the step as soon as a check can no longer pass, stopping the others', async () => {
    const healthy = await startServer(respond.text('ok'));
    const broken = await startServer(respond.text('boom', 500));
    const { report, elapsedMs } = await smoke(
      [
        { name: 'healthy', url: `${healthy.origin}/`, interval: '1s' },
        // after one failure it needs 2 more attempts 5 s apart: impossible before the 3 s deadline
        { name: 'broken', url: `${broken.origin}/`, interval: '5s' },
      ],
      { deadlineMs: 3000 },
    );
    expect(elapsedMs).toBeLessThan(700);
    expect(report.passed).toBe(false);
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(byName.broken).toMatchObject({ status: 'failed', failureClass: 'status-mismatch', attempts: 1 });
    expect(byName.healthy?.status).toBe('cancelled');
    expect(report.summary).toBe(
      `unhealthy: broken (status-mismatch) failed after ${report.summary.split('after ')[1]}`,
    );
  });

  it('runs checks concurrently', async () => {
    const a = await startServer(respond.slow(400));
    const b = await startServer(respond.slow(400));
    const { report, elapsedMs } = await smoke([
      { name: 'a', url: `${a.origin}/`, 'consecutive-successes': 1 },
      { name: 'b', url: `${b.origin}/`, 'consecutive-successes': 1 },
    ]);
    expect(report.passed).toBe(true);
    expect(elapsedMs).toBeLessThan(750); // one after the other would take 800 ms
  });
});

describe('secrets', () => {
  it('never prints header values: not in the log, not in the report, not in the echoed body', async () => {
    const secret = 'Bearer sk-live-0123456789abcdef';
    const server = await startServer((req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      const auth = req.headers.authorization ?? '';
      res.end(
        `debug dump: authorization=${auth}; token=${auth.slice(7)}; x-api-key=${req.headers['x-api-key']}`,
      );
    });
    const { report, logger } = await smoke(
      [
        {
          name: 'private',
          url: `${server.origin}/`,
          headers: { Authorization: secret, 'X-Api-Key': '${SMOKE_API_KEY}' },
        },
      ],
      { deadlineMs: 500, env: { SMOKE_API_KEY: 'key-from-env-9876' } },
    );
    expect(server.requests[0]?.headers.authorization).toBe(secret);
    expect(server.requests[0]?.headers['x-api-key']).toBe('key-from-env-9876');
    const c = only(report);
    expect(c.lastFailure?.bodyExcerpt).toBe('debug dump: authorization=***; token=***; x-api-key=***');
    const everything = JSON.stringify(report) + logger.text();
    expect(everything).not.toContain('sk-live-0123456789abcdef');
    expect(everything).not.toContain('key-from-env-9876');
  });

  it('shows at most 500 bytes of a failing body', async () => {
    const server = await startServer(respond.text('x'.repeat(2000), 503));
    const { report } = await smoke([{ url: `${server.origin}/` }], { deadlineMs: 300 });
    expect(only(report).lastFailure).toMatchObject({ status: 503, bodyBytes: 2000 });
    expect(only(report).lastFailure?.bodyExcerpt).toBe('x'.repeat(500));
  });
});

describe('TLS', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await makeTestPki();
  });

  it('fails a certificate from an unknown CA, passes with ca-cert', async () => {
    const server = await startServer(respond.text('ok'), {
      tls: { key: pki.serverKey, cert: pki.serverCert },
    });
    const untrusted = await smoke([{ url: `${server.origin}/` }], { deadlineMs: 500 });
    expect(only(untrusted.report).failureClass).toBe('tls');
    expect(only(untrusted.report).detail).toMatch(/certificate/i);
    const trusted = await smoke([{ url: `${server.origin}/` }], { caCert: pki.caCert });
    expect(trusted.report.passed).toBe(true);
  });

  it('fails a certificate for another name even from a trusted CA', async () => {
    const server = await startServer(respond.text('ok'), {
      tls: { key: pki.serverKey, cert: pki.serverCert },
    });
    const { report } = await smoke([{ url: `https://localhost:${server.port}/` }], {
      deadlineMs: 500,
      caCert: pki.caCert,
    });
    expect(only(report).failureClass).toBe('tls');
    expect(only(report).detail).toContain('localhost');
  });

  it('checks the certificate against the URL host, not the address resolve dials', async () => {
    // the certificate names 127.0.0.1 (the address dialed), not 127.0.0.3 (the URL's host)
    const server = await startServer(respond.text('ok'), {
      tls: { key: pki.serverKey, cert: pki.serverCert },
    });
    const direct = await smoke([{ url: `${server.origin}/`, 'consecutive-successes': 1 }], {
      caCert: pki.caCert,
    });
    expect(direct.report.passed).toBe(true);
    const { report } = await smoke(
      [{ url: `https://127.0.0.3:${server.port}/`, resolve: [`127.0.0.3:${server.port}:127.0.0.1`] }],
      { deadlineMs: 500, caCert: pki.caCert },
    );
    expect(only(report).failureClass).toBe('tls');
    expect(only(report).detail).toContain('127.0.0.3');
  });

  it('passes with insecure, warning that verification is off and what it let through', async () => {
    const server = await startServer(respond.text('ok'), {
      tls: { key: pki.serverKey, cert: pki.serverCert },
    });
    const { report, logger } = await smoke([{ name: 'lax', url: `${server.origin}/`, insecure: true }]);
    expect(report.passed).toBe(true);
    const warnings = logger.records.filter((r) => r.level === 'warning').map((r) => r.message);
    expect(warnings).toContain('TLS certificate verification is OFF for check "lax" (insecure: true)');
    expect(
      warnings.some((w) => /accepted an unverified certificate \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/.test(w)),
    ).toBe(true);
  });

  it('resolve dials another address but keeps the Host header and SNI', async () => {
    const server = await startServer(respond.text('ok'), {
      host: '127.0.0.2',
      tls: { key: pki.serverKey, cert: pki.serverCert },
    });
    const { report } = await smoke(
      [
        {
          url: `https://${TLS_HOST}:${server.port}/api/health/`,
          resolve: [`${TLS_HOST}:${server.port}:127.0.0.2`],
        },
      ],
      { caCert: pki.caCert },
    );
    expect(report.passed).toBe(true);
    expect(server.requests).toHaveLength(2);
    for (const r of server.requests) {
      expect(r.headers.host).toBe(`${TLS_HOST}:${server.port}`);
      expect(r.servername).toBe(TLS_HOST);
      expect(r.localAddress).toBe('127.0.0.2');
    }
  });

  it('keeps the SNI on the URL host when a check overrides the Host header (as curl does)', async () => {
    const server = await startServer(respond.text('ok'), {
      host: '127.0.0.2',
      tls: { key: pki.serverKey, cert: pki.serverCert },
    });
    const { report } = await smoke(
      [
        {
          url: `https://${TLS_HOST}:${server.port}/`,
          headers: { Host: 'vhost.internal' },
          resolve: [`${TLS_HOST}:${server.port}:127.0.0.2`],
          'consecutive-successes': 1,
        },
      ],
      { caCert: pki.caCert },
    );
    expect(report.passed).toBe(true);
    expect(server.requests[0]?.headers.host).toBe('vhost.internal');
    expect(server.requests[0]?.servername).toBe(TLS_HOST);
  });

  it('resolve with a target port reaches a node on another port for the default https port', async () => {
    const server = await startServer(respond.text('ok'), {
      host: '127.0.0.2',
      tls: { key: pki.serverKey, cert: pki.serverCert },
    });
    const { report } = await smoke(
      [{ url: `https://${TLS_HOST}/health`, resolve: [`${TLS_HOST}:443:127.0.0.2:${server.port}`] }],
      { caCert: pki.caCert },
    );
    expect(report.passed).toBe(true);
    expect(server.requests[0]?.headers.host).toBe(TLS_HOST);
    expect(server.requests[0]?.servername).toBe(TLS_HOST);
  });
});
