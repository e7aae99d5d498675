/**
 * The smoke-test step as the action and `gantry smoke` run it: read the inputs (the same names
 * for INPUT_* and flags) into SmokeOptions in one place, run the checks, log why failing checks
 * failed, write the job summary, set the `passed` and `report` outputs, and return the exit code.
 */
import { readFile, stat } from 'node:fs/promises';
import { ConfigurationError, errorMessage } from '../core/errors.js';
import type { Inputs } from '../core/inputs.js';
import type { Logger } from '../core/logging.js';
import { writeJobSummary } from '../core/summary.js';
import {
  DEFAULT_DEADLINE_MS,
  parseCheckUrl,
  parseChecksDocument,
  parseHeaderExpectations,
  parseHeaderLines,
  parseJsonExpectations,
  parseResolveRule,
  parseStatusRanges,
  parseTextMatcher,
  resolveCheck,
  uniqueNames,
  type CheckSettings,
  type Origin,
  type SmokeCheck,
} from './checks.js';
import { logFailingChecks, renderSummaryMarkdown, type SmokeReport } from './report.js';
import { runSmokeTest, type SmokeDeps, type SmokeOptions } from './run.js';

/** The action's inputs (= `gantry smoke` option names), as action.yml declares them. */
export const SMOKE_INPUT_NAMES = [
  'url',
  'checks',
  'method',
  'headers',
  'body',
  'expect-status',
  'expect-body',
  'expect-json',
  'expect-header',
  'max-latency',
  'resolve',
  'ca-cert',
  'insecure',
  'timeout',
  'interval',
  'deadline',
  'consecutive-successes',
  'samples',
  'latency-p50',
  'latency-p95',
  'latency-p99',
  'follow-redirects',
] as const;

/**
 * Reads the step-wide settings and the checks. `url` makes one check from the step-wide settings;
 * `checks` (inline YAML/JSON, or the path of a file holding it) adds one per entry, each
 * inheriting the step-wide settings. Throws ConfigurationError (exit 2) on anything invalid.
 */
export async function readSmokeOptions(inputs: Inputs, env: NodeJS.ProcessEnv): Promise<SmokeOptions> {
  const origin = (name: string): Origin => ({ input: name, label: inputs.source.label(name) });
  const defaults: CheckSettings = {};
  const method = inputs.optional('method');
  if (method !== undefined) {
    if (!/^[A-Za-z]+$/.test(method))
      throw new ConfigurationError(`${origin('method').label} is "${method}"; use GET, HEAD, POST …`, {
        input: 'method',
      });
    defaults.method = method.toUpperCase();
  }
  const headers = inputs.optional('headers');
  if (headers !== undefined) defaults.headers = parseHeaderLines(headers, origin('headers'));
  const body = inputs.optional('body');
  if (body !== undefined) defaults.body = body;
  const expectStatus = inputs.optional('expect-status');
  if (expectStatus !== undefined)
    defaults.expectStatus = parseStatusRanges(expectStatus, origin('expect-status'));
  const expectBody = inputs.optional('expect-body');
  if (expectBody !== undefined) defaults.expectBody = parseTextMatcher(expectBody, origin('expect-body'));
  const expectJson = inputs.map('expect-json');
  if (Object.keys(expectJson).length > 0)
    defaults.expectJson = parseJsonExpectations(expectJson, origin('expect-json'));
  const expectHeader = inputs.optional('expect-header');
  if (expectHeader !== undefined) {
    defaults.expectHeader = parseHeaderExpectations(
      parseHeaderLines(expectHeader, origin('expect-header')),
      origin('expect-header'),
    );
  }
  const maxLatency = inputs.optionalDuration('max-latency');
  if (maxLatency !== undefined) defaults.maxLatencyMs = maxLatency;
  const resolve = inputs.list('resolve');
  if (resolve.length > 0) defaults.resolve = resolve.map((r) => parseResolveRule(r, origin('resolve')));
  const insecure = inputs.optionalBoolean('insecure');
  if (insecure !== undefined) defaults.insecure = insecure;
  const timeout = inputs.optionalDuration('timeout');
  if (timeout !== undefined) defaults.timeoutMs = timeout;
  const interval = inputs.optionalDuration('interval');
  if (interval !== undefined) defaults.intervalMs = interval;
  if (inputs.optional('consecutive-successes') !== undefined) {
    defaults.consecutiveSuccesses = inputs.int('consecutive-successes', 2, { min: 1, max: 100 });
  }
  if (inputs.optional('samples') !== undefined)
    defaults.samples = inputs.int('samples', 1, { min: 1, max: 1000 });
  for (const p of ['p50', 'p95', 'p99'] as const) {
    const v = inputs.optionalDuration(`latency-${p}`);
    if (v !== undefined) defaults.latency = { ...defaults.latency, [p]: v };
  }
  const follow = inputs.optionalBoolean('follow-redirects');
  if (follow !== undefined) defaults.followRedirects = follow;
  const deadlineMs = inputs.duration('deadline', DEFAULT_DEADLINE_MS);
  if (deadlineMs <= 0)
    throw new ConfigurationError(`${origin('deadline').label} must be more than 0`, { input: 'deadline' });

  const checks: SmokeCheck[] = [];
  const url = inputs.optional('url');
  if (url !== undefined) {
    checks.push(resolveCheck({ url: parseCheckUrl(url, origin('url')) }, origin('url'), { defaults, env }));
  }
  const checksText = await readChecksInput(inputs.optional('checks'), origin('checks'));
  if (checksText !== undefined)
    checks.push(...parseChecksDocument(checksText, { defaults, env, input: 'checks' }));
  if (checks.length === 0) {
    throw new ConfigurationError(
      `nothing to check: set ${origin('url').label} or ${origin('checks').label}`,
      { input: 'url' },
    );
  }
  uniqueNames(checks, origin('checks'));

  const caCert = await readCaCert(inputs.optional('ca-cert'), origin('ca-cert'));
  return { checks, deadlineMs, ...(caCert ? { caCert } : {}) };
}

/** The `checks` input is the document itself, or (one line, no YAML brackets) a file holding it. */
async function readChecksInput(value: string | undefined, origin: Origin): Promise<string | undefined> {
  if (value === undefined) return undefined;
  const looksLikePath = !value.includes('\n') && !/^\s*[[{-]/.test(value) && !/:\s/.test(value);
  if (!looksLikePath) return value;
  try {
    if ((await stat(value)).isFile()) return await readFile(value, 'utf8');
  } catch (e) {
    if (/\.(ya?ml|json)$/i.test(value)) {
      throw new ConfigurationError(`${origin.label}: cannot read ${value} (${errorMessage(e)})`, {
        input: origin.input,
      });
    }
  }
  return value;
}

/** `ca-cert`: PEM text, or the path of a PEM file. */
async function readCaCert(value: string | undefined, origin: Origin): Promise<string | undefined> {
  if (value === undefined) return undefined;
  let pem = value;
  if (!value.includes('-----BEGIN')) {
    try {
      pem = await readFile(value, 'utf8');
    } catch (e) {
      throw new ConfigurationError(
        `${origin.label}: cannot read ${value} (${errorMessage(e)}); give PEM text or a PEM file path`,
        {
          input: origin.input,
        },
      );
    }
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigurationError(`${origin.label} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, {
      input: origin.input,
    });
  }
  return pem;
}

/** Structurally the action context of src/actions/run-action.ts (domain code never imports actions/). */
export interface SmokeStepContext {
  inputs: Inputs;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  setOutput(name: string, value: string | number | boolean | object): void;
}

/** After the checks: failure details in the log, the job summary (best-effort). */
export async function reportSmokeResult(
  report: SmokeReport,
  logger: Logger,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  await logFailingChecks(report, logger);
  await writeJobSummary(renderSummaryMarkdown(report), logger, env);
}

/** The smoke-test action body: exit 0 healthy, 1 unhealthy, 3 infrastructure; 2 is thrown. */
export async function smokeTestStep(ctx: SmokeStepContext, deps: Partial<SmokeDeps> = {}): Promise<number> {
  const options = await readSmokeOptions(ctx.inputs, ctx.env);
  const report = await ctx.logger.group('smoke test', () =>
    runSmokeTest(options, { logger: ctx.logger, ...(ctx.signal ? { signal: ctx.signal } : {}), ...deps }),
  );
  await reportSmokeResult(report, ctx.logger, ctx.env);
  ctx.setOutput('passed', report.passed);
  ctx.setOutput('report', report);
  if (!report.passed) ctx.logger.error(report.summary);
  return report.exitCode;
}
