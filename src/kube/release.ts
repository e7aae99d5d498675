/**
 * The automatic path as one library call: deploy → smoke test → on a failed smoke test, roll back
 * `to: previous` using the deploy's own `previous` (its exact "before", and its run id, so exactly
 * that release is reverted and marked rolled-back) → smoke test again. `gantry release` and the
 * deploy workflow's chain run this.
 *
 *   released      deploy succeeded, smoke passed                                   exit 0
 *   rolled-back   the release FAILED its smoke test; the previous version is back
 *                 and passes the same checks (recovery succeeded)                  exit 1
 *   failed        the deploy failed (k3s-deploy restored it atomically), or the
 *                 rollback / the smoke test after it did not succeed               exit 1
 *   cancelled     SIGTERM: what this run changed is rolled back before exiting     exit 3
 *   planned       dry run                                                          exit 0
 *
 * Any smoke verdict other than "passed" (including "nothing could be reached") rolls back: a
 * release is kept only when it is seen healthy. The report says what happened to the release AND
 * to the recovery, so "exit 1" is never ambiguous.
 */
import { systemClock, type Clock } from '../core/clock.js';
import { formatDuration } from '../core/durations.js';
import { GantryError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import { runSmokeTest, type HttpProbe, type SmokeOptions, type SmokeReport } from '../smoke/index.js';
import type { KubeClient } from './client.js';
import { deploy, type DeployOptions, type DeployReport } from './deploy.js';
import type { ImageResolver, ImageVerifier } from './images.js';
import { renderRollbackText, rollback, type RollbackReport } from './rollback.js';
import type { PreviousImages } from './rollback-target.js';

export interface ReleaseOptions {
  deploy: DeployOptions;
  smoke: SmokeOptions;
  /** Roll back when the smoke test fails (default true). */
  rollbackOnFailure?: boolean;
  /** Budget for the rollback, reading to healthy (default 5 min; 30 s after a cancellation). */
  rollbackTimeoutMs?: number;
  /** Smoke-test again after the rollback (default true). */
  smokeAfterRollback?: boolean;
}

export interface ReleaseDeps {
  client: KubeClient;
  resolver: ImageResolver;
  verifier?: ImageVerifier;
  logger: Logger;
  clock?: Clock;
  signal?: AbortSignal;
  /** The smoke test's HTTP probe (tests). */
  probe?: HttpProbe;
}

export type ReleaseResult = 'released' | 'rolled-back' | 'failed' | 'cancelled' | 'planned';

export interface ReleaseReport {
  result: ReleaseResult;
  /** Two short sentences: what happened to the release, and to the recovery. */
  summary: string;
  deploy: DeployReport;
  smoke?: SmokeReport;
  rollback?: RollbackReport;
  smokeAfterRollback?: SmokeReport;
  timings: {
    deployMs: number;
    smokeMs?: number;
    rollbackMs?: number;
    smokeAfterRollbackMs?: number;
    /** Smoke failure detected → the previous version's rollout complete (healthy). */
    recoveryMs?: number;
    totalMs: number;
  };
}

/** Exit status: 0 released (or planned), 1 the release failed (rolled back or not), 3 cancelled. */
export function releaseExitCode(report: ReleaseReport): number {
  if (report.result === 'released' || report.result === 'planned') return 0;
  return report.result === 'cancelled' ? 3 : 1;
}

/** k3s-deploy's `previous` output, from its report. */
export function previousOf(report: DeployReport): PreviousImages {
  const out: PreviousImages = {};
  for (const d of report.deployments) {
    if (!d.changed) continue;
    out[d.name] = {
      ...(d.revisionBefore !== undefined ? { revision: d.revisionBefore } : {}),
      images: Object.fromEntries(d.images.map((i) => [i.container, i.before])),
    };
  }
  return out;
}

const isCancelled = (e: unknown): boolean => e instanceof GantryError && e.code === 'cancelled';

/** Runs deploy → smoke → (rollback → smoke); see the module comment. */
export async function release(options: ReleaseOptions, deps: ReleaseDeps): Promise<ReleaseReport> {
  const clock = deps.clock ?? systemClock;
  const { logger } = deps;
  const started = clock.now();
  const deployReport = await deploy(options.deploy, {
    client: deps.client,
    resolver: deps.resolver,
    logger,
    clock,
    ...(deps.verifier ? { verifier: deps.verifier } : {}),
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  const report: ReleaseReport = {
    result: 'released',
    summary: '',
    deploy: deployReport,
    timings: { deployMs: clock.now() - started, totalMs: 0 },
  };
  const done = (result: ReleaseResult, summary: string): ReleaseReport => {
    report.result = result;
    report.summary = summary;
    report.timings.totalMs = clock.now() - started;
    return report;
  };
  if (deployReport.result === 'planned')
    return done('planned', 'dry run: the deploy was planned; nothing was changed or smoke-tested.');
  if (deployReport.result !== 'succeeded') {
    const cancelled = deployReport.cancelled;
    return done(
      cancelled ? 'cancelled' : 'failed',
      `The release FAILED during the deploy (${deployReport.failure?.reason ?? deployReport.result}); ` +
        (deployReport.result === 'rolled-back'
          ? 'k3s-deploy restored every changed deployment to its previous template, healthy.'
          : 'the deployments were NOT all restored: see the deploy report.'),
    );
  }

  // --- smoke ---------------------------------------------------------------------------------------
  const smokeStart = clock.now();
  let smoke: SmokeReport | undefined;
  let cancelledDuringSmoke = false;
  try {
    smoke = await logger.group('smoke test', () =>
      runSmokeTest(options.smoke, {
        logger,
        clock,
        ...(deps.probe ? { probe: deps.probe } : {}),
        ...(deps.signal ? { signal: deps.signal } : {}),
      }),
    );
  } catch (e) {
    if (!isCancelled(e) && !deps.signal?.aborted) throw e;
    cancelledDuringSmoke = true;
  }
  const failedAt = clock.now();
  report.timings.smokeMs = failedAt - smokeStart;
  if (smoke) report.smoke = smoke;
  if (smoke?.passed) {
    logger.info(`release healthy: ${smoke.summary}`);
    return done('released', `The release passed its smoke test (${smoke.summary}).`);
  }
  const why = cancelledDuringSmoke
    ? 'cancelled (SIGTERM) during the smoke test'
    : `smoke test failed: ${smoke?.summary ?? ''}`;
  logger.error(`the release ${why}`);
  const changed = deployReport.deployments.filter((d) => d.changed).map((d) => d.name);
  if (options.rollbackOnFailure === false) {
    return done(
      'failed',
      `The release FAILED its smoke test (${smoke?.summary ?? why}); rollback-on-failure is off, so it was left running.`,
    );
  }
  if (changed.length === 0) {
    return done(
      cancelledDuringSmoke ? 'cancelled' : 'failed',
      `The release FAILED its smoke test (${smoke?.summary ?? why}), but the deploy changed nothing, so there is nothing to roll back to.`,
    );
  }

  // --- rollback to exactly what the deploy replaced ------------------------------------------------
  const rollbackStart = clock.now();
  let rb: RollbackReport;
  try {
    rb = await logger.group('rollback', () =>
      rollback(
        {
          namespace: options.deploy.namespace,
          deployments: changed,
          to: { kind: 'previous' },
          previous: previousOf(deployReport),
          previousOf: deployReport.runId,
          reason: why,
          timeoutMs: cancelledDuringSmoke
            ? Math.min(options.rollbackTimeoutMs ?? 30_000, 30_000)
            : (options.rollbackTimeoutMs ?? 300_000),
          dryRun: false,
          lock: options.deploy.lock,
          ...(options.deploy.lockTimeoutMs !== undefined
            ? { lockTimeoutMs: options.deploy.lockTimeoutMs }
            : {}),
          ...(options.deploy.runUrl ? { runUrl: options.deploy.runUrl } : {}),
          ...(options.deploy.actor ? { actor: options.deploy.actor } : {}),
          ...(options.deploy.classify ? { classify: options.deploy.classify } : {}),
          ...(options.deploy.history !== undefined ? { history: options.deploy.history } : {}),
        },
        // the run's signal may be aborted already: rolling back what it started must not be cut short
        { client: deps.client, resolver: deps.resolver, logger, clock },
      ),
    );
  } catch (e) {
    report.timings.rollbackMs = clock.now() - rollbackStart;
    logger.error(`rollback could not start: ${errorMessage(e)}`);
    return done(
      cancelledDuringSmoke ? 'cancelled' : 'failed',
      `The release FAILED (${why}). The automatic rollback FAILED too before changing anything: ${errorMessage(e)}`,
    );
  }
  report.rollback = rb;
  report.timings.rollbackMs = clock.now() - rollbackStart;
  logger.info(renderRollbackText(rb));
  if (rb.result !== 'succeeded' && rb.result !== 'unchanged') {
    return done(
      cancelledDuringSmoke ? 'cancelled' : 'failed',
      `The release FAILED (${why}). The automatic rollback to the previous version did NOT become healthy: ${rb.failure?.message ?? rb.result}.`,
    );
  }
  report.timings.recoveryMs = clock.now() - failedAt;
  if (cancelledDuringSmoke) {
    return done(
      'cancelled',
      `The run was cancelled during the smoke test; the release was rolled back to the previous version, healthy (${formatDuration(report.timings.recoveryMs)}).`,
    );
  }

  // --- smoke again -----------------------------------------------------------------------------------
  if (options.smokeAfterRollback === false) {
    return done(
      'rolled-back',
      `The release FAILED its smoke test (${smoke?.summary ?? ''}). Recovery succeeded: rolled back to the previous version in ${formatDuration(report.timings.recoveryMs)}.`,
    );
  }
  const againStart = clock.now();
  const again = await logger.group('smoke test after the rollback', () =>
    runSmokeTest(options.smoke, {
      logger,
      clock,
      ...(deps.probe ? { probe: deps.probe } : {}),
      ...(deps.signal ? { signal: deps.signal } : {}),
    }),
  );
  report.smokeAfterRollback = again;
  report.timings.smokeAfterRollbackMs = clock.now() - againStart;
  if (!again.passed) {
    logger.error(`the previous version fails the smoke test too: ${again.summary}`);
    return done(
      'failed',
      `The release FAILED its smoke test (${smoke?.summary ?? ''}). It was rolled back, but the previous version FAILS the smoke test too (${again.summary}): the service is still unhealthy.`,
    );
  }
  return done(
    'rolled-back',
    `The release FAILED its smoke test (${smoke?.summary ?? ''}). Recovery succeeded: rolled back to the previous version in ${formatDuration(report.timings.recoveryMs)}, which passes the smoke test again (${again.summary}).`,
  );
}

/** The report as the operator reads it at the end of the log. */
export function renderReleaseText(report: ReleaseReport): string {
  const t = report.timings;
  const lines = [`release: ${report.result} — ${report.summary}`];
  for (const d of report.deploy.deployments) {
    for (const i of d.images)
      lines.push(`  ${d.name}/${i.container}: ${i.before} → ${i.after} (${d.result})`);
  }
  if (report.rollback) {
    for (const d of report.rollback.deployments) {
      for (const i of d.images)
        lines.push(`  rolled back ${d.name}/${i.container}: → ${i.after} (${d.result})`);
    }
  }
  lines.push(
    `  timings: deploy ${formatDuration(t.deployMs)}` +
      (t.smokeMs !== undefined ? `, smoke ${formatDuration(t.smokeMs)}` : '') +
      (t.rollbackMs !== undefined ? `, rollback ${formatDuration(t.rollbackMs)}` : '') +
      (t.recoveryMs !== undefined ? ` (recovery ${formatDuration(t.recoveryMs)})` : '') +
      (t.smokeAfterRollbackMs !== undefined
        ? `, smoke again ${formatDuration(t.smokeAfterRollbackMs)}`
        : '') +
      `, total ${formatDuration(t.totalMs)}`,
  );
  return lines.join('\n');
}
