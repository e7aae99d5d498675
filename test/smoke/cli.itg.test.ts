// `gantry smoke` in-process against real loopback servers: exit codes, --json, logs, secrets.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import type { SmokeReport } from '../../src/smoke/index.js';
import { respond, startServer, type TestServer } from './fixtures/servers.js';

async function gantry(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env });
  return { code, stdout, stderr };
}

const FAST = ['--interval', '50ms', '--timeout', '2s'];

describe('gantry smoke', () => {
  let healthy: TestServer;
  let broken: TestServer;
  let dir: string;
  beforeAll(async () => {
    healthy = await startServer(respond.json({ status: 'ok', checks: { db: 'up' } }));
    broken = await startServer((req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'degraded', token: req.headers.authorization ?? null }));
    });
    dir = await mkdtemp(join(tmpdir(), 'gantry-smoke-cli-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('exits 0 for a healthy URL given as the argument, with repeatable --expect-json', async () => {
    const r = await gantry([
      'smoke',
      `${healthy.origin}/api/health/`,
      '--expect-json',
      'status=ok',
      '--expect-json',
      'checks.db=up',
      ...FAST,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✔ 127\.0\.0\.1:\d+\/api\/health\/\s+passed\s+2 attempts, last status 200/);
    expect(r.stdout).toMatch(/^healthy: 1 check passed in /m);
  });

  it('exits 1 for an unhealthy URL and logs the failing check: status, body, timings', async () => {
    const r = await gantry(['smoke', '--url', `${broken.origin}/health`, '--deadline', '500ms', ...FAST]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: check "127.0.0.1:');
    expect(r.stderr).toContain('failed: status-mismatch: status 503, expected 200-299');
    expect(r.stderr).toContain('last status: 503');
    expect(r.stderr).toMatch(/timings: connect \d+ms, first byte \d+ms, total \d+ms/);
    expect(r.stderr).toContain('{"status":"degraded","token":null}');
  });

  it('--json prints the report', async () => {
    const r = await gantry(['smoke', `${broken.origin}/health`, '--json', '--deadline', '300ms', ...FAST]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as SmokeReport;
    expect(report).toMatchObject({ passed: false, outcome: 'unhealthy', exitCode: 1 });
    expect(report.checks[0]).toMatchObject({ lastStatus: 503, failureClass: 'status-mismatch' });
    expect(report.checks[0]?.latency?.p50).toBeGreaterThan(0);
  });

  it('reads --checks from a file, with step-wide flags as defaults', async () => {
    const file = join(dir, 'smoke.yml');
    await writeFile(
      file,
      [
        'checks:',
        `  - name: api`,
        `    url: ${healthy.origin}/api/health/`,
        `    expect-json: {status: ok}`,
        `  - name: db`,
        `    url: ${healthy.origin}/api/health/`,
        `    expect-json: {checks.db: down}`,
      ].join('\n'),
    );
    const r = await gantry(['smoke', '--checks', file, '--json', '--deadline', '500ms', ...FAST]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as SmokeReport;
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ['api', expect.stringMatching(/passed|cancelled/)],
      ['db', 'failed'],
    ]);
    expect(report.checks[1]?.detail).toBe('checks.db is "up", expected "down"');
  });

  it('takes secrets as ${ENV} in --headers and never prints them', async () => {
    const r = await gantry(
      [
        'smoke',
        `${broken.origin}/private`,
        '--headers',
        'Authorization: Bearer ${SMOKE_TOKEN}',
        '--json',
        '--deadline',
        '300ms',
        ...FAST,
      ],
      { SMOKE_TOKEN: 'tok-abcdef-123456' },
    );
    expect(r.code).toBe(1);
    expect(broken.requests.at(-1)?.headers.authorization).toBe('Bearer tok-abcdef-123456');
    expect(r.stdout + r.stderr).not.toContain('tok-abcdef-123456');
    expect(r.stderr).toContain('\\"token\\":\\"***\\"'); // the log is JSON lines with --json
    const report = JSON.parse(r.stdout) as SmokeReport;
    expect(report.checks[0]?.lastFailure?.bodyExcerpt).toBe('{"status":"degraded","token":"***"}');
  });

  it('writes the job summary when the runner offers one', async () => {
    const summary = join(dir, 'summary.md');
    await writeFile(summary, '');
    const r = await gantry(['smoke', `${healthy.origin}/api/health/`, ...FAST], {
      GITHUB_STEP_SUMMARY: summary,
    });
    expect(r.code).toBe(0);
    const md = await readFile(summary, 'utf8');
    expect(md).toContain('## Smoke test: ✅ healthy');
    expect(md).toMatch(/\| 127\.0\.0\.1:\d+\/api\/health\/ \| ✅ passed \| 2 \| 200 \|/);
  });
});
