// The smoke-test step: inputs → options (one table), the action body's outputs and summary, the
// action.yml / CLI option names staying in step, and `gantry smoke` exiting 2 on bad input.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { smokeCommand } from '../../src/cli/commands/smoke.js';
import { runCli } from '../../src/cli/main.js';
import { ManualClock } from '../../src/core/clock.js';
import { ConfigurationError } from '../../src/core/errors.js';
import { Inputs, envInputSource } from '../../src/core/inputs.js';
import { MemoryLogger } from '../../src/core/logging.js';
import type { HttpProbe } from '../../src/smoke/probe.js';
import type { SmokeReport } from '../../src/smoke/report.js';
import { SMOKE_INPUT_NAMES, readSmokeOptions, smokeTestStep } from '../../src/smoke/step.js';

function actionInputs(values: Record<string, string>): Inputs {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(values)) env[`INPUT_${k.toUpperCase()}`] = v;
  return new Inputs(envInputSource(env));
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gantry-smoke-step-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('readSmokeOptions', () => {
  it('makes one check from url and the step-wide inputs', async () => {
    const options = await readSmokeOptions(
      actionInputs({
        url: 'https://api.example.com/api/health/',
        method: 'get',
        headers: 'Authorization: Bearer ${TOKEN}\nAccept: application/json, text/plain',
        'expect-status': '200,204',
        'expect-body': '/ok/',
        'expect-json': 'status=ok\nchecks.db=up',
        'expect-header': 'Content-Type: application/json',
        'max-latency': '800ms',
        resolve: 'api.example.com:443:10.0.0.11\napi.example.com:443:10.0.0.12',
        insecure: 'false',
        timeout: '5s',
        interval: '500ms',
        deadline: '1m',
        'consecutive-successes': '3',
        samples: '10',
        'latency-p95': '300ms',
        'follow-redirects': 'true',
      }),
      { TOKEN: 'xyz' },
    );
    expect(options.deadlineMs).toBe(60_000);
    expect(options.checks).toHaveLength(1);
    expect(options.checks[0]).toMatchObject({
      name: 'api.example.com/api/health/',
      url: 'https://api.example.com/api/health/',
      method: 'GET',
      headers: { Authorization: 'Bearer xyz', Accept: 'application/json, text/plain' },
      expectStatus: [
        { min: 200, max: 200 },
        { min: 204, max: 204 },
      ],
      expectBody: { kind: 'regex', source: 'ok' },
      expectJson: [
        { path: 'status', expected: 'ok' },
        { path: 'checks.db', expected: 'up' },
      ],
      expectHeader: [{ name: 'content-type' }],
      maxLatencyMs: 800,
      timeoutMs: 5000,
      intervalMs: 500,
      consecutiveSuccesses: 3,
      samples: 10,
      latency: { p95: 300 },
      followRedirects: true,
      insecure: false,
      resolve: [
        { host: 'api.example.com', port: 443, address: '10.0.0.11' },
        { host: 'api.example.com', port: 443, address: '10.0.0.12' },
      ],
      secrets: ['xyz'],
    });
  });

  it('reads checks from a file and a PEM ca-cert from a path', async () => {
    const file = join(dir, 'checks.yaml');
    await writeFile(
      file,
      '- {name: a, url: "http://a.test/"}\n- {name: b, url: "http://b.test/", timeout: 1s}\n',
    );
    const pemPath = join(dir, 'ca.pem');
    await writeFile(pemPath, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const options = await readSmokeOptions(
      actionInputs({ checks: file, timeout: '3s', 'ca-cert': pemPath }),
      {},
    );
    expect(options.checks.map((c) => [c.name, c.timeoutMs])).toEqual([
      ['a', 3000],
      ['b', 1000],
    ]);
    expect(options.caCert).toContain('BEGIN CERTIFICATE');
    expect(options.deadlineMs).toBe(120_000);
  });

  it.each<[Record<string, string>, RegExp]>([
    [{}, /nothing to check: set input "url" or input "checks"/],
    [{ url: 'not a url' }, /input "url" is "not a url", not a valid URL/],
    [{ url: 'http://a/', timeout: 'soon' }, /input "timeout" is "soon", not a duration/],
    [{ url: 'http://a/', insecure: 'yes' }, /input "insecure" is "yes", not a boolean/],
    [{ url: 'http://a/', 'consecutive-successes': '0' }, /input "consecutive-successes" is 0/],
    [{ url: 'http://a/', resolve: 'a:80' }, /input "resolve" has "a:80"/],
    [{ url: 'http://a/', headers: 'NoColon' }, /input "headers" has "NoColon", not Name: value/],
    [{ url: 'http://a/', 'expect-json': 'status' }, /input "expect-json" has "status", not key=value/],
    [
      { url: 'http://a/', 'ca-cert': '/nonexistent/ca.pem' },
      /input "ca-cert": cannot read \/nonexistent\/ca.pem/,
    ],
    [{ url: 'http://a/', deadline: '0s' }, /input "deadline" must be more than 0/],
    [{ checks: '/nonexistent/smoke.yml' }, /input "checks": cannot read \/nonexistent\/smoke.yml/],
    [{ checks: '[{url: ' }, /input "checks" is not valid YAML or JSON/],
  ])('rejects %j', async (values, message) => {
    const error = await readSmokeOptions(actionInputs(values), {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(message);
  });
});

describe('smokeTestStep (the action body)', () => {
  const healthyProbe: HttpProbe = async (req) => ({
    kind: 'response',
    url: req.url,
    status: 200,
    headers: {},
    body: Buffer.from('ok'),
    bodyTruncated: false,
    timings: { totalMs: 12 },
    redirects: [],
  });

  it('sets passed and report, writes the summary table, returns 0', async () => {
    const summary = join(dir, 'summary-ok.md');
    await writeFile(summary, '');
    const outputs: Record<string, unknown> = {};
    const code = await smokeTestStep(
      {
        inputs: actionInputs({ url: 'http://api.test/health', interval: '1s' }),
        logger: new MemoryLogger(),
        env: { GITHUB_STEP_SUMMARY: summary },
        setOutput: (k, v) => (outputs[k] = v),
      },
      { probe: healthyProbe, clock: new ManualClock() },
    );
    expect(code).toBe(0);
    expect(outputs.passed).toBe(true);
    expect((outputs.report as SmokeReport).checks[0]).toMatchObject({
      name: 'api.test/health',
      attempts: 2,
      lastStatus: 200,
    });
    expect(await readFile(summary, 'utf8')).toContain(
      '| api.test/health | ✅ passed | 2 | 200 | 12ms | 12ms | 12ms |  |',
    );
  });

  it('returns 1 with passed false, logging the failing check', async () => {
    const logger = new MemoryLogger();
    const outputs: Record<string, unknown> = {};
    const failing: HttpProbe = async (req) =>
      ({ ...(await healthyProbe(req)), status: 502, body: Buffer.from('bad gateway') }) as never;
    const code = await smokeTestStep(
      {
        inputs: actionInputs({ url: 'http://api.test/health', deadline: '3s' }),
        logger,
        env: {},
        setOutput: (k, v) => (outputs[k] = v),
      },
      { probe: failing, clock: new ManualClock() },
    );
    expect(code).toBe(1);
    expect(outputs.passed).toBe(false);
    const text = logger.text();
    expect(text).toContain(
      'error: check "api.test/health" failed: status-mismatch: status 502, expected 200-299',
    );
    expect(text).toContain('info: last status: 502');
    expect(text).toContain('info: body:\nbad gateway');
    expect(text).toContain('info: timings: total 12ms');
  });
});

describe('action.yml and gantry smoke stay in step', () => {
  it('declares the same inputs as the step reads and the CLI offers', async () => {
    const yml = parseYaml(
      await readFile(new URL('../../actions/smoke-test/action.yml', import.meta.url), 'utf8'),
    ) as {
      inputs: Record<string, { description?: string }>;
      outputs: Record<string, unknown>;
      runs: { using: string; main: string };
    };
    expect(Object.keys(yml.inputs).sort()).toEqual([...SMOKE_INPUT_NAMES].sort());
    expect(smokeCommand.options.map((o) => o.name).sort()).toEqual([...SMOKE_INPUT_NAMES].sort());
    for (const [name, spec] of Object.entries(yml.inputs)) expect(spec.description, name).toBeTruthy();
    expect(Object.keys(yml.outputs).sort()).toEqual(['passed', 'report']);
    expect(yml.runs).toEqual({ using: 'node24', main: '../../dist/smoke-test.js' });
  });
});

describe('gantry smoke: bad input is exit 2 before any request', () => {
  async function gantry(argv: string[]): Promise<{ code: number; stderr: string }> {
    let stderr = '';
    const code = await runCli(argv, { stdout: () => undefined, stderr: (t) => (stderr += t), env: {} });
    return { code, stderr };
  }
  it.each<[string[], RegExp]>([
    [['smoke'], /nothing to check: set --url or --checks/],
    [['smoke', 'ftp://example.test/'], /--url uses ftp:/],
    [['smoke', 'http://a b/'], /--url is "http:\/\/a b\/", not a valid URL/],
    [['smoke', '--checks', '[{url: '], /input "checks" is not valid YAML or JSON/],
    [['smoke', 'http://a.test/', '--timeout', 'abc'], /--timeout is "abc", not a duration/],
    [['smoke', 'http://a.test/', 'http://b.test/'], /at most one URL argument/],
    [['smoke', 'http://a.test/', '--expect-json', 'status'], /--expect-json has "status", not key=value/],
  ])('%j', async (argv, message) => {
    const r = await gantry(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('run "gantry smoke --help" for usage');
  });
});
