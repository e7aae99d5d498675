/**
 * The smoke-test runner: all checks concurrently, each attempting until it has
 * `consecutive-successes` good attempts in a row or can no longer get them before the deadline;
 * the step ends as soon as every check has passed or any one has failed (the others are then
 * stopped). Time comes from an injected Clock and requests from an injected HttpProbe, so the
 * whole policy is tested without sockets; decisions live in verdict.ts.
 */
import { systemClock, type Clock } from '../core/clock.js';
import { formatDuration } from '../core/durations.js';
import { ConfigurationError, GantryError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import type { SmokeCheck } from './checks.js';
import { httpProbe, type HttpProbe } from './probe.js';
import { buildReport, redactUrl, type CheckOutcome, type SmokeReport } from './report.js';
import {
  decideCheckState,
  evaluateAttempt,
  evaluateResponse,
  recordAttempt,
  type CheckProgress,
  type FailureClass,
  type ProbeResult,
  type Verdict,
} from './verdict.js';

export interface SmokeOptions {
  checks: readonly SmokeCheck[];
  /** For the whole step, from its start; requests are cut short at it. */
  deadlineMs: number;
  /** Extra trusted CA certificates (PEM) for https checks. */
  caCert?: string;
}

export interface SmokeDeps {
  logger: Logger;
  clock?: Clock;
  probe?: HttpProbe;
  /** Cancels the step (SIGTERM): it then throws a `cancelled` GantryError. */
  signal?: AbortSignal;
}

/**
 * Runs the checks and returns the report. Never throws for an unhealthy release — the report's
 * `passed`/`exitCode` say so; throws ConfigurationError for invalid options and GantryError
 * `cancelled` when `signal` aborts.
 */
export async function runSmokeTest(options: SmokeOptions, deps: SmokeDeps): Promise<SmokeReport> {
  const clock = deps.clock ?? systemClock;
  const probe = deps.probe ?? httpProbe;
  const { logger } = deps;
  if (options.checks.length === 0)
    throw new ConfigurationError('no smoke checks given; set url or checks', { input: 'url' });
  if (!(options.deadlineMs > 0)) {
    throw new ConfigurationError(`deadline must be positive, not ${options.deadlineMs}ms`, {
      input: 'deadline',
    });
  }
  for (const check of options.checks) {
    for (const [name, value] of Object.entries(check.headers)) {
      logger.mask(value);
      // the credential alone may be echoed back too (`Bearer <token>` → <token>)
      const credential = /^(?:proxy-)?authorization$/i.test(name)
        ? /^\S+\s+(\S.*)$/.exec(value)?.[1]
        : undefined;
      logger.mask(credential);
    }
    for (const secret of check.secrets ?? []) logger.mask(secret);
    const password = safeUrl(check.url)?.password;
    if (password) logger.mask(decodeURIComponent(password));
    if (check.insecure && check.url.startsWith('https:')) {
      logger.warning(`TLS certificate verification is OFF for check "${check.name}" (insecure: true)`);
    }
  }

  const stop = new AbortController();
  const onCancel = (): void => stop.abort(deps.signal?.reason);
  if (deps.signal?.aborted) onCancel();
  deps.signal?.addEventListener('abort', onCancel, { once: true });
  const startedAt = clock.now();
  const deadline = startedAt + options.deadlineMs;
  logger.info(
    `smoke-testing ${options.checks.length} check${options.checks.length === 1 ? '' : 's'} ` +
      `(deadline ${formatDuration(options.deadlineMs)}): ${options.checks.map((c) => c.name).join(', ')}`,
  );
  try {
    const outcomes = await Promise.all(
      options.checks.map(async (check) => {
        const outcome = await runCheck(check, {
          clock,
          probe,
          logger,
          deadline,
          stop: stop.signal,
          caCert: options.caCert,
        });
        if (outcome.status === 'failed') stop.abort(new Error(`check "${check.name}" can no longer pass`));
        return outcome;
      }),
    );
    if (deps.signal?.aborted) {
      throw new GantryError('cancelled', `smoke test cancelled: ${errorMessage(deps.signal.reason)}`);
    }
    const report = buildReport({
      outcomes,
      startedAt,
      durationMs: clock.now() - startedAt,
      deadlineMs: options.deadlineMs,
      masker: logger.masker,
    });
    logger.info(report.summary);
    return report;
  } finally {
    deps.signal?.removeEventListener('abort', onCancel);
  }
}

function safeUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

interface RunContext {
  clock: Clock;
  probe: HttpProbe;
  logger: Logger;
  deadline: number;
  stop: AbortSignal;
  caCert: string | undefined;
}

async function runCheck(check: SmokeCheck, ctx: RunContext): Promise<CheckOutcome> {
  const { clock, logger } = ctx;
  const started = clock.now();
  const outcome: CheckOutcome = {
    check,
    status: 'cancelled',
    attempts: 0,
    requests: 0,
    consecutiveSuccesses: 0,
    latencies: [],
    lastStatus: null,
    failureClasses: [],
    durationMs: 0,
  };
  let progress: CheckProgress = { attempts: 0, consecutiveSuccesses: 0 };
  const finish = (status: CheckOutcome['status']): CheckOutcome => {
    outcome.status = status;
    outcome.durationMs = clock.now() - started;
    return outcome;
  };
  let insecureNoted = false;
  for (;;) {
    const verdicts: Verdict[] = [];
    const burst: number[] = [];
    let deadlineCut = false;
    let last: { verdict: Verdict; result: ProbeResult } | undefined;
    for (let i = 0; i < check.samples; i++) {
      const remaining = ctx.deadline - clock.now();
      const cutByDeadline = remaining < check.timeoutMs;
      const result: ProbeResult =
        remaining <= 0
          ? {
              kind: 'failure',
              failureClass: 'timeout',
              detail: 'the deadline passed before the request',
              timings: { totalMs: 0 },
            }
          : await ctx.probe(
              {
                url: check.url,
                method: check.method,
                headers: check.headers,
                ...(check.body === undefined ? {} : { body: check.body }),
                timeoutMs: Math.min(check.timeoutMs, remaining),
                followRedirects: check.followRedirects,
                resolve: check.resolve,
                ...(ctx.caCert ? { ca: ctx.caCert } : {}),
                insecure: check.insecure,
              },
              ctx.stop,
            );
      if (ctx.stop.aborted) return finish('cancelled');
      outcome.requests++;
      if (result.kind === 'response') {
        outcome.latencies.push(result.timings.totalMs);
        burst.push(result.timings.totalMs);
        outcome.lastStatus = result.status;
        if (result.tlsAuthorizationError && !insecureNoted) {
          insecureNoted = true;
          logger.warning(
            `check "${check.name}": accepted an unverified certificate (${result.tlsAuthorizationError}) because insecure is true`,
          );
        }
      }
      let verdict = evaluateResponse(check, result);
      if (verdict.failureClass === 'timeout' && cutByDeadline && result.kind === 'failure') {
        verdict = { ...verdict, detail: `${verdict.detail}; cut short by the step deadline` };
        deadlineCut = true;
      }
      verdicts.push(verdict);
      last = { verdict, result };
      if (!verdict.ok) break;
    }
    const attempt = evaluateAttempt(check, verdicts, burst);
    progress = recordAttempt(progress, attempt);
    outcome.attempts = progress.attempts;
    outcome.consecutiveSuccesses = progress.consecutiveSuccesses;
    // an attempt the deadline cut short says less than the failure before it: keep that one
    if (!attempt.ok && last && !(deadlineCut && outcome.lastFailure)) {
      const failureClass: FailureClass = attempt.failureClass ?? 'status-mismatch';
      outcome.failureClasses.push(failureClass);
      outcome.lastFailure = { verdict: attempt, result: last.result };
    }
    logger.info(
      `${check.name}: attempt ${progress.attempts} ${attempt.ok ? 'ok' : `failed (${attempt.failureClass})`}: ` +
        `${logger.masker.mask(attempt.detail)} [${progress.consecutiveSuccesses}/${check.consecutiveSuccesses} in a row]`,
    );
    const state = decideCheckState(check, progress, clock.now(), ctx.deadline);
    if (state === 'passed') {
      logger.info(`${check.name}: passed (${redactUrl(check.url)})`);
      return finish('passed');
    }
    if (state === 'failed') return finish('failed');
    try {
      await clock.sleep(check.intervalMs, ctx.stop);
    } catch {
      return finish('cancelled');
    }
    if (ctx.stop.aborted) return finish('cancelled');
  }
}
