/**
 * The smoke report: what each check did and why the step passed or failed, as one JSON-able
 * object (the `report` output, `gantry smoke --json`), plus its renderings — the job summary
 * table, the CLI's text, and the log lines for failing checks. Pure: built from the runner's
 * raw outcomes and a Masker, so nothing secret leaves through it.
 */
import { formatDuration } from '../core/durations.js';
import type { Logger } from '../core/logging.js';
import type { Masker } from '../core/mask.js';
import { SummaryBuilder } from '../core/summary.js';
import type { SmokeCheck } from './checks.js';
import {
  INFRASTRUCTURE_FAILURES,
  summarizeLatencies,
  type FailureClass,
  type LatencySummary,
  type ProbeResult,
  type RequestTimings,
  type Verdict,
} from './verdict.js';

/** How much of a failing response's body is shown. */
export const BODY_EXCERPT_BYTES = 500;

/** What the runner knows about one check when it stops (input to the report). */
export interface CheckOutcome {
  check: SmokeCheck;
  status: 'passed' | 'failed' | 'cancelled';
  attempts: number;
  requests: number;
  consecutiveSuccesses: number;
  /** Latencies (ms) of every request that got an HTTP response. */
  latencies: number[];
  lastStatus: number | null;
  /** Every failure class seen, for the infrastructure rule. */
  failureClasses: FailureClass[];
  lastFailure?: { verdict: Verdict; result: ProbeResult };
  durationMs: number;
}

export interface FailureEvidence {
  /** HTTP status of the failing answer; absent when no response arrived. */
  status?: number;
  /** Where the failing answer came from (after followed redirects). */
  url?: string;
  timings: RequestTimings;
  /** The first 500 bytes of the body, masked. */
  bodyExcerpt?: string;
  bodyBytes?: number;
  /** Present when `insecure` let an unverifiable certificate through. */
  tlsAuthorizationError?: string;
}

export interface CheckReport {
  name: string;
  /** Credentials in the URL are replaced by ***. */
  url: string;
  method: string;
  status: 'passed' | 'failed' | 'cancelled';
  /** Attempts made (an attempt is a burst of `samples` requests). */
  attempts: number;
  requests: number;
  consecutiveSuccesses: number;
  requiredSuccesses: number;
  lastStatus: number | null;
  /** Over every response the check received; null when none arrived. */
  latency: LatencySummary | null;
  /** Why the check failed; null when it passed or was cancelled. */
  failureClass: FailureClass | null;
  detail: string;
  durationMs: number;
  /** For failed checks: the answer (or failure) behind the verdict. */
  lastFailure?: FailureEvidence;
}

/**
 * `healthy` (exit 0); `unhealthy` (exit 1): some check failed; `infrastructure` (exit 3): no
 * check ever got an HTTP response and every failure seen was DNS or network-unreachable — the
 * runner could not reach anything, which says nothing about the release. Connection refused,
 * resets, TLS errors and timeouts are verdicts on what is deployed (exit 1).
 */
export type SmokeOutcome = 'healthy' | 'unhealthy' | 'infrastructure';

export interface SmokeReport {
  passed: boolean;
  outcome: SmokeOutcome;
  exitCode: 0 | 1 | 3;
  /** One line: "healthy: 2 checks passed in 4.1s". */
  summary: string;
  startedAt: string;
  durationMs: number;
  deadlineMs: number;
  checks: CheckReport[];
}

/** `https://user:***@host/…` for a URL with a password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password && !u.username) return url;
    if (u.password) u.password = '***';
    return u.href;
  } catch {
    return url;
  }
}

/** The first 500 bytes of a body; masked before cutting, so a secret straddling the cut is hidden too. */
export function bodyExcerpt(body: Buffer, masker: Masker): string {
  const masked = masker.mask(body.toString('utf8'));
  return Buffer.from(masked, 'utf8')
    .subarray(0, BODY_EXCERPT_BYTES)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

function evidence(result: ProbeResult, masker: Masker): FailureEvidence {
  if (result.kind === 'failure') return { timings: roundTimings(result.timings) };
  return {
    status: result.status,
    url: masker.mask(redactUrl(result.url)),
    timings: roundTimings(result.timings),
    bodyExcerpt: bodyExcerpt(result.body, masker),
    bodyBytes: result.body.length,
    ...(result.tlsAuthorizationError ? { tlsAuthorizationError: result.tlsAuthorizationError } : {}),
  };
}

function roundTimings(t: RequestTimings): RequestTimings {
  const out: RequestTimings = { totalMs: Math.round(t.totalMs * 10) / 10 };
  for (const k of ['dnsMs', 'connectMs', 'tlsMs', 'firstByteMs'] as const) {
    const v = t[k];
    if (v !== undefined) out[k] = Math.round(v * 10) / 10;
  }
  return out;
}

function checkReport(o: CheckOutcome, masker: Masker): CheckReport {
  const c = o.check;
  let failureClass: FailureClass | null = null;
  let detail: string;
  if (o.status === 'passed') {
    detail = `${o.consecutiveSuccesses} consecutive successes`;
  } else if (o.status === 'cancelled') {
    detail = 'stopped early: another check could no longer pass';
  } else if (o.lastFailure && o.consecutiveSuccesses === 0) {
    failureClass = o.lastFailure.verdict.failureClass ?? null;
    detail = o.lastFailure.verdict.detail;
  } else {
    // the last attempts succeeded, but not enough of them in a row before the deadline
    failureClass = o.lastFailure?.verdict.failureClass ?? 'timeout';
    detail =
      `only ${o.consecutiveSuccesses} of ${c.consecutiveSuccesses} consecutive successes before the deadline` +
      (o.lastFailure ? `; last failure: ${o.lastFailure.verdict.detail}` : '');
  }
  return {
    name: c.name,
    url: masker.mask(redactUrl(c.url)),
    method: c.method,
    status: o.status,
    attempts: o.attempts,
    requests: o.requests,
    consecutiveSuccesses: o.consecutiveSuccesses,
    requiredSuccesses: c.consecutiveSuccesses,
    lastStatus: o.lastStatus,
    latency: summarizeLatencies(o.latencies),
    failureClass,
    detail: masker.mask(detail),
    durationMs: Math.round(o.durationMs),
    ...(o.status === 'failed' && o.lastFailure
      ? { lastFailure: evidence(o.lastFailure.result, masker) }
      : {}),
  };
}

/** Decides the step's outcome from the checks' outcomes (see SmokeOutcome for the rule). */
export function decideOutcome(outcomes: readonly CheckOutcome[]): SmokeOutcome {
  if (outcomes.every((o) => o.status === 'passed')) return 'healthy';
  const noResponse = outcomes.every((o) => o.latencies.length === 0 && o.lastStatus === null);
  const classes = outcomes.flatMap((o) => o.failureClasses);
  if (noResponse && classes.length > 0 && classes.every((c) => INFRASTRUCTURE_FAILURES.includes(c))) {
    return 'infrastructure';
  }
  return 'unhealthy';
}

export function buildReport(input: {
  outcomes: readonly CheckOutcome[];
  startedAt: number;
  durationMs: number;
  deadlineMs: number;
  masker: Masker;
}): SmokeReport {
  const outcome = decideOutcome(input.outcomes);
  const checks = input.outcomes.map((o) => checkReport(o, input.masker));
  const failed = checks.filter((c) => c.status === 'failed');
  const took = formatDuration(input.durationMs);
  const summary =
    outcome === 'healthy'
      ? `healthy: ${checks.length} check${checks.length === 1 ? '' : 's'} passed in ${took}`
      : outcome === 'infrastructure'
        ? `infrastructure: no check could reach its server (${[...new Set(failed.map((c) => c.failureClass))].join(', ')}) in ${took}`
        : `unhealthy: ${failed.map((c) => `${c.name} (${c.failureClass})`).join(', ')} failed after ${took}`;
  return {
    passed: outcome === 'healthy',
    outcome,
    exitCode: outcome === 'healthy' ? 0 : outcome === 'unhealthy' ? 1 : 3,
    summary,
    startedAt: new Date(input.startedAt).toISOString(),
    durationMs: Math.round(input.durationMs),
    deadlineMs: input.deadlineMs,
    checks,
  };
}

// ---------------------------------------------------------------------------------------------
// Renderings

function ms(n: number | undefined): string {
  return n === undefined ? '–' : `${Math.round(n)}ms`;
}

export function formatTimings(t: RequestTimings): string {
  const parts: string[] = [];
  if (t.dnsMs !== undefined) parts.push(`dns ${ms(t.dnsMs)}`);
  if (t.connectMs !== undefined) parts.push(`connect ${ms(t.connectMs)}`);
  if (t.tlsMs !== undefined) parts.push(`tls ${ms(t.tlsMs)}`);
  if (t.firstByteMs !== undefined) parts.push(`first byte ${ms(t.firstByteMs)}`);
  parts.push(`total ${ms(t.totalMs)}`);
  return parts.join(', ');
}

const MARK: Record<CheckReport['status'], string> = {
  passed: '✅ passed',
  failed: '❌ failed',
  cancelled: '⏹ stopped',
};

/** The job summary: a heading with the verdict, one row per check, then the failures' details. */
export function renderSummaryMarkdown(report: SmokeReport): string {
  const b = new SummaryBuilder().heading(`Smoke test: ${report.passed ? '✅' : '❌'} ${report.outcome}`);
  b.paragraph(report.summary);
  b.table(
    ['Check', 'Result', 'Attempts', 'Last status', 'p50', 'p95', 'p99', 'Failure'],
    report.checks.map((c) => [
      c.name,
      MARK[c.status],
      c.attempts,
      c.lastStatus ?? '–',
      ms(c.latency?.p50),
      ms(c.latency?.p95),
      ms(c.latency?.p99),
      c.failureClass ? `${c.failureClass}: ${c.detail}` : '',
    ]),
  );
  for (const c of report.checks.filter((x) => x.status === 'failed' && x.lastFailure?.bodyExcerpt)) {
    b.paragraph(
      `**${c.name}** — last failing response (status ${c.lastFailure?.status}), first ${BODY_EXCERPT_BYTES} bytes:`,
    );
    b.code(c.lastFailure?.bodyExcerpt ?? '');
  }
  return b.toMarkdown();
}

/** The CLI's human output: one line per check and the verdict. */
export function renderReportText(report: SmokeReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length), 5);
  const lines = report.checks.map((c) => {
    const head = `${c.status === 'passed' ? '✔' : c.status === 'failed' ? '✖' : '–'} ${c.name.padEnd(width)}  ${c.status.padEnd(9)}`;
    const stats = `${c.attempts} attempt${c.attempts === 1 ? '' : 's'}, last status ${c.lastStatus ?? '–'}, p50 ${ms(c.latency?.p50)} p95 ${ms(c.latency?.p95)} p99 ${ms(c.latency?.p99)}`;
    return c.failureClass ? `${head}${c.failureClass}: ${c.detail} (${stats})` : `${head}${stats}`;
  });
  return [...lines, report.summary].join('\n');
}

/**
 * Logs, per failing check, what an operator needs to see why: the failure, the last response's
 * status, the first 500 bytes of its body (masked) and its timings.
 */
export async function logFailingChecks(report: SmokeReport, logger: Logger): Promise<void> {
  for (const c of report.checks.filter((x) => x.status === 'failed')) {
    logger.error(`check "${c.name}" failed: ${c.failureClass}: ${c.detail}`);
    await logger.group(`why "${c.name}" failed`, async () => {
      const f = c.lastFailure;
      logger.info(
        `${c.method} ${c.url}: ${c.attempts} attempts (${c.requests} requests) over ${formatDuration(c.durationMs)}, ${c.consecutiveSuccesses}/${c.requiredSuccesses} consecutive successes at the end`,
      );
      logger.info(
        `last status: ${f?.status ?? 'no response'}${f?.url && f.url !== c.url ? ` from ${f.url}` : ''}`,
      );
      if (f) logger.info(`timings: ${formatTimings(f.timings)}`);
      if (c.latency)
        logger.info(
          `latency over ${c.latency.samples} responses: p50 ${ms(c.latency.p50)}, p95 ${ms(c.latency.p95)}, p99 ${ms(c.latency.p99)}, max ${ms(c.latency.max)}`,
        );
      if (f?.bodyExcerpt !== undefined) {
        const more = (f.bodyBytes ?? 0) > BODY_EXCERPT_BYTES ? ` (first ${BODY_EXCERPT_BYTES} bytes)` : '';
        logger.info(`body${more}:\n${f.bodyExcerpt === '' ? '(empty)' : f.bodyExcerpt}`);
      }
    });
  }
}
