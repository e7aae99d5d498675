/**
 * The rollback as one library call, shared by the action, `gantry rollback` and the release chain.
 *
 *   read      history ConfigMap · the Deployments and the ReplicaSets they own
 *   choose    chooseRollbackTarget (pure): one exact target per Deployment, or why not
 *   validate  every image that would be (re)deployed exists in its registry — any problem throws
 *             before anything is changed
 *   dry run   server-side dry-run writes + the plan, then stop
 *   lock      the namespace's deploy Lease (the same one k3s-deploy takes)
 *   apply     one resourceVersion-guarded PUT per Deployment (restoreDeployment): the full pod
 *             template of the target's ReplicaSet where there is one, `kubernetes.io/change-cause`
 *             saying what was rolled back and why. The PUTs run together and are not cut short by
 *             SIGTERM: after a cancellation every Deployment is either untouched or at its target.
 *   wait      the same watch-based, fail-fast wait as k3s-deploy (waitForRollouts)
 *   record    a `rollback` history record, and the reverted deploy records marked `rolled-back`
 *             in the same guarded write — also after a cancellation or a failure
 *
 * Verdicts come back in the RollbackReport (succeeded / unchanged / failed / planned); bad input
 * and pre-flight problems are thrown as coded errors.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { systemClock, type Clock } from '../core/clock.js';
import { formatDuration } from '../core/durations.js';
import { ConfigurationError, GantryError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import { parseReference } from '../oci/reference.js';
import { resourcePath, retryKube, type KubeClient } from './client.js';
import { failureText, readDeployments } from './deploy.js';
import {
  fetchHistory,
  historyDeployment,
  historyFailure,
  recordHistory,
  type HistoryRecord,
  type RolledBackMark,
  type RunResult,
} from './history.js';
import type { ImageResolver } from './images.js';
import { acquireDeployLock, type DeployLock } from './lock.js';
import { ANNOTATIONS, containerImages } from './plan.js';
import type { ClassifyOptions } from './pod-failure.js';
import { restoreDeployment, type RestoreOutcome } from './restore.js';
import {
  chooseRollbackTarget,
  formatRollbackTo,
  resolveDeploymentNames,
  targetTemplate,
  type PreviousImages,
  type RollbackProblem,
  type RollbackTarget,
  type RollbackTo,
  type RunningDeployment,
} from './rollback-target.js';
import { waitForRollouts, type FailureCause, type RolloutTarget } from './rollout-wait.js';
import { selectorString } from './selectors.js';
import { pinnedImage } from './targets.js';
import {
  CHANGE_CAUSE_ANNOTATION,
  REVISION_ANNOTATION,
  type Deployment,
  type KList,
  type ReplicaSet,
} from './types.js';

export interface RollbackOptions {
  namespace: string;
  /** Deployment names (`name/container` for image:), or ['all'] = those of the latest deploy record. */
  deployments: readonly string[];
  to: RollbackTo;
  reason?: string;
  /** Budget for the whole run, reading to healthy. */
  timeoutMs: number;
  dryRun: boolean;
  lock: boolean;
  lockTimeoutMs?: number;
  /** The deploy step's `previous` output: the target of `to: previous` instead of the history. */
  previous?: PreviousImages;
  /** For `to: previous`: the deploy run to revert (its id) instead of the latest. */
  previousOf?: string;
  runId?: string;
  runUrl?: string;
  actor?: string;
  classify?: ClassifyOptions;
  /** Append the rollback record and mark the reverted deploy (default true). */
  history?: boolean;
}

export interface RollbackDeps {
  client: KubeClient;
  resolver: ImageResolver;
  logger: Logger;
  clock?: Clock;
  signal?: AbortSignal;
}

/** Why a rollback failed: a rollout cause (as k3s-deploy reports it), or one of the rollback's own. */
export interface RollbackFailure extends Omit<FailureCause, 'reason'> {
  reason: FailureCause['reason'] | 'Cancelled' | 'NotApplied' | 'Interrupted';
}

/** The failure as the on-call engineer reads it (k3s-deploy's layout). */
export function rollbackFailureText(f: RollbackFailure): string {
  return failureText(f as unknown as FailureCause);
}

export type RollbackResult = 'succeeded' | 'unchanged' | 'failed' | 'planned';

export interface RollbackDeploymentReport {
  name: string;
  /** restored: written and healthy; unchanged: already at the target; failed: written, not healthy (or not written). */
  result: 'succeeded' | 'unchanged' | 'failed' | 'not-started' | 'planned';
  /** What the target is ("the state before run …", "revision 3", …). */
  target: string;
  /** 'replicaset': the full pod template of that ReplicaSet; 'images': the current template with images replaced. */
  restoredFrom: 'replicaset' | 'images';
  replicaSet?: string;
  revisionBefore?: string;
  revisionAfter?: string;
  images: { container: string; init: boolean; before: string; after: string }[];
  record?: string;
  reverts?: string;
  readyMs?: number;
  message?: string;
}

export interface RollbackReport {
  result: RollbackResult;
  namespace: string;
  runId: string;
  to: string;
  reason?: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  dryRun: boolean;
  cancelled: boolean;
  deployments: RollbackDeploymentReport[];
  /** Deploy records marked rolled-back by this run. */
  reverted: string[];
  failure?: RollbackFailure;
  timings: { preflightMs: number; lockWaitMs?: number; applyMs?: number; waitMs?: number };
}

function newRunId(): string {
  return `rb-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`;
}

/** `restored` output: deployment → images and revision (targets that were written or already there). */
export function restoredOutput(
  report: RollbackReport,
): Record<string, { images: Record<string, string>; revision?: string }> {
  const out: Record<string, { images: Record<string, string>; revision?: string }> = {};
  for (const d of report.deployments) {
    if (d.result !== 'succeeded' && d.result !== 'unchanged' && d.result !== 'planned') continue;
    const revision = d.revisionAfter ?? d.revisionBefore;
    out[d.name] = {
      images: Object.fromEntries(d.images.map((i) => [i.container, i.after])),
      ...(revision !== undefined ? { revision } : {}),
    };
  }
  return out;
}

/** The exit status of a finished rollback: 0 done (or nothing to do), 1 not healthy, 3 cancelled. */
export function rollbackExitCode(report: RollbackReport): number {
  if (report.result !== 'failed') return 0;
  return report.cancelled ? 3 : 1;
}

/** Runs a rollback; see the module comment. */
export async function rollback(options: RollbackOptions, deps: RollbackDeps): Promise<RollbackReport> {
  const clock = deps.clock ?? systemClock;
  const { client, logger, signal } = deps;
  const ns = options.namespace;
  const started = clock.now();
  const deadline = started + options.timeoutMs;
  const runId = options.runId ?? newRunId();
  const report: RollbackReport = {
    result: 'succeeded',
    namespace: ns,
    runId,
    to: formatRollbackTo(options.to),
    ...(options.reason ? { reason: options.reason } : {}),
    startedAt: new Date(started).toISOString(),
    finishedAt: '',
    durationMs: 0,
    dryRun: options.dryRun,
    cancelled: false,
    deployments: [],
    reverted: [],
    timings: { preflightMs: 0 },
  };
  const finish = (): RollbackReport => {
    report.finishedAt = new Date(clock.now()).toISOString();
    report.durationMs = clock.now() - started;
    return report;
  };

  // --- read, choose, validate ------------------------------------------------------------------------
  const plan = await logger.group('pre-flight', () => preflight(options, deps, report));
  report.timings.preflightMs = clock.now() - started;
  const changing = plan.targets.filter((t) => !t.noop);
  if (changing.length === 0) {
    report.result = options.dryRun ? 'planned' : 'unchanged';
    logger.info(
      `nothing to roll back: ${plan.targets.map((t) => `${t.deployment} is already at ${t.description}`).join('; ')}`,
    );
    return finish();
  }
  if (options.dryRun) {
    await logger.group('dry run', () => dryRunWrites(client, ns, plan, logger, signal));
    report.result = 'planned';
    return finish();
  }

  // --- lock, apply, wait, record ---------------------------------------------------------------------
  let lock: DeployLock | undefined;
  let applied = false;
  try {
    if (options.lock) {
      const lockStart = clock.now();
      lock = await logger.group('deploy lock', () =>
        acquireDeployLock({
          client,
          namespace: ns,
          identity: `gantry/${hostname()}/${process.pid}/${runId}`,
          description:
            `${options.actor ? `${options.actor}: ` : ''}rollback to ${report.to}${options.reason ? ` (${options.reason})` : ''}`.slice(
              0,
              250,
            ),
          ...(options.runUrl ? { runUrl: options.runUrl } : {}),
          waitMs: Math.min(options.lockTimeoutMs ?? 600_000, Math.max(0, deadline - clock.now())),
          logger,
          clock,
          ...(signal ? { signal } : {}),
        }),
      );
      report.timings.lockWaitMs = clock.now() - lockStart;
    }
    if (signal?.aborted) {
      report.cancelled = true;
      report.result = 'failed';
      report.failure = cancelledFailure('cancelled before any deployment was changed');
      logger.warning('rollback cancelled before any deployment was changed');
      return finish();
    }

    const applyStart = clock.now();
    const outcomes = await logger.group(
      `apply ${changing.length} rollback${changing.length === 1 ? '' : 's'}`,
      () => applyTargets(client, ns, plan, report, options, logger),
    );
    applied = true;
    report.timings.applyMs = clock.now() - applyStart;
    const targets: RolloutTarget[] = [];
    for (const o of outcomes) {
      const r = report.deployments.find((d) => d.name === o.name)!;
      if (o.status === 'restored' || o.status === 'unchanged') {
        logger.info(`${o.name}: ${o.status === 'restored' ? 'written' : 'already there'} — ${r.target}`);
        targets.push({
          name: o.name,
          generation: o.deployment?.metadata.generation ?? 0,
          images: containerImages(o.deployment?.spec?.template),
          startedAt: clock.now(),
        });
      } else {
        r.result = 'failed';
        r.message = `not rolled back: ${o.message}`;
        logger.error(`${o.name}: NOT rolled back: ${o.message}`);
      }
    }

    const waitStart = clock.now();
    const results = await logger.group(
      `wait for ${targets.length} rollout${targets.length === 1 ? '' : 's'}`,
      () =>
        waitForRollouts({
          client,
          namespace: ns,
          targets,
          timeoutMs: Math.max(0, deadline - clock.now()),
          logger,
          clock,
          phase: 'rollback',
          ...(signal ? { signal } : {}),
          ...(options.classify ? { classify: options.classify } : {}),
        }),
    );
    report.timings.waitMs = clock.now() - waitStart;
    for (const res of results) {
      const r = report.deployments.find((d) => d.name === res.name)!;
      if (res.state === 'succeeded') {
        r.result = 'succeeded';
        if (res.readyMs !== undefined) r.readyMs = res.readyMs;
      } else {
        r.result = 'failed';
        r.message =
          res.state === 'cancelled'
            ? 'cancelled (SIGTERM) after its template was restored, before it was confirmed healthy'
            : (res.failure?.message ?? res.message.trim());
      }
    }
    report.cancelled = results.some((r) => r.state === 'cancelled') || signal?.aborted === true;
    const bad = results.find((r) => r.state === 'failed') ?? results.find((r) => r.state === 'timeout');
    if (bad?.failure) report.failure = bad.failure;
    else if (report.cancelled) {
      report.failure = cancelledFailure(
        `rollback cancelled after every template was restored, before ${results
          .filter((r) => r.state === 'cancelled')
          .map((r) => r.name)
          .join(
            ', ',
          )} ${results.filter((r) => r.state === 'cancelled').length === 1 ? 'was' : 'were'} confirmed healthy; the rollout goes on in the cluster`,
      );
    } else if (outcomes.some((o) => o.status !== 'restored' && o.status !== 'unchanged')) {
      const o = outcomes.find((x) => x.status !== 'restored' && x.status !== 'unchanged')!;
      report.failure = { deployment: o.name, reason: 'NotApplied', message: o.message, logs: [], events: [] };
    }
    const allGood = report.deployments.every((d) => d.result === 'succeeded' || d.result === 'unchanged');
    report.result = allGood ? 'succeeded' : 'failed';
    await readRevisions(client, ns, report);
    if (report.result === 'succeeded') {
      logger.info(`rolled back ${changing.map((t) => t.deployment).join(', ')} to ${report.to}; healthy`);
    } else if (report.failure && !report.cancelled) {
      logger.error(`the rollback did NOT become healthy:\n${rollbackFailureText(report.failure)}`);
    } else if (report.cancelled) logger.warning(report.failure?.message ?? 'rollback cancelled');
    return finish();
  } catch (e) {
    if (applied || signal?.aborted) {
      report.result = 'failed';
      report.cancelled = signal?.aborted === true;
      report.failure ??= report.cancelled
        ? cancelledFailure(`rollback cancelled: ${errorMessage(e)}`)
        : { deployment: '', reason: 'Interrupted', message: errorMessage(e), logs: [], events: [] };
      logger.error(`rollback interrupted: ${errorMessage(e)}`);
      for (const d of report.deployments) if (d.result === 'planned') d.result = 'not-started';
      return finish();
    }
    throw e;
  } finally {
    for (const d of report.deployments) if (d.result === 'planned') d.result = 'not-started';
    if (options.history !== false && report.finishedAt)
      await writeRecord(client, ns, report, plan.targets, options, logger);
    await lock?.release();
  }
}

function cancelledFailure(message: string): RollbackFailure {
  return { deployment: '', reason: 'Cancelled', message, logs: [], events: [] };
}

// --- pre-flight --------------------------------------------------------------------------------------

interface Plan {
  targets: RollbackTarget[];
  live: Map<string, Deployment>;
}

async function preflight(
  options: RollbackOptions,
  deps: RollbackDeps,
  report: RollbackReport,
): Promise<Plan> {
  const { client, logger, signal } = deps;
  const ns = options.namespace;
  const history = await retryKube(() => fetchHistory(client, ns), {
    what: `read deploy history of namespace ${ns}`,
    ...(signal ? { signal } : {}),
  });
  logger.info(
    `history: ${history.length} record${history.length === 1 ? '' : 's'} in configmap ${ns}/gantry-deploy-history`,
  );
  const names = resolveDeploymentNames(history, options.deployments);
  if (names.problem)
    throw new GantryError('not-found', names.problem, { hint: 'name the deployments instead of "all"' });
  if (names.deployments.length === 0) {
    throw new ConfigurationError(
      'input "deployments" is required: name the deployments to roll back (or "all")',
      { input: 'deployments' },
    );
  }
  const live = await readDeployments(client, ns, [...new Set(names.deployments.map((d) => d.name))], signal);
  const missing = names.deployments.filter((d) => !live.has(d.name)).map((d) => d.name);
  if (missing.length > 0) {
    throw new ConfigurationError(
      `deployment${missing.length === 1 ? '' : 's'} not found in namespace "${ns}": ${missing.join(', ')}`,
      { input: 'deployments' },
    );
  }
  const running = await Promise.all([...live.values()].map((d) => runningDeployment(client, ns, d, signal)));

  let to = options.to;
  if (to.kind === 'image') {
    const ref = parseImage(to.image);
    const digest = await resolveOrExplain(deps.resolver, to.image, ref);
    to = { kind: 'image', image: pinnedImage(ref, digest) };
    logger.info(`image ${to.image.split('@')[0] ?? ''} → ${digest}`);
  }
  const choice = chooseRollbackTarget(history, running, to, {
    ...(options.previous ? { previous: options.previous } : {}),
    ...(options.previousOf ? { previousOf: options.previousOf } : {}),
    requested: names.deployments,
  });
  failOnProblems(choice.problems);

  report.deployments = choice.targets.map((t) => {
    const d = live.get(t.deployment)!;
    const before = containerImages(d.spec?.template);
    const inits = new Set((d.spec?.template?.spec?.initContainers ?? []).map((c) => c.name));
    const revisionBefore = d.metadata.annotations?.[REVISION_ANNOTATION];
    return {
      name: t.deployment,
      result: t.noop ? 'unchanged' : 'planned',
      target: t.description,
      restoredFrom: t.template ? 'replicaset' : 'images',
      ...(t.replicaSet ? { replicaSet: t.replicaSet } : {}),
      ...(revisionBefore !== undefined ? { revisionBefore } : {}),
      images: Object.keys({ ...before, ...t.images }).map((c) => ({
        container: c,
        init: inits.has(c),
        before: before[c] ?? '',
        after: t.images[c] ?? before[c] ?? '',
      })),
      ...(t.record ? { record: t.record.id } : {}),
      ...(t.reverts ? { reverts: t.reverts } : {}),
    };
  });
  for (const t of choice.targets) {
    const r = report.deployments.find((d) => d.name === t.deployment)!;
    if (t.noop) logger.info(`${t.deployment}: already at ${t.description}; left alone`);
    else {
      const changes = r.images
        .filter((i) => i.before !== i.after)
        .map((i) => `${i.container} ${i.before} → ${i.after}`);
      logger.info(
        `${t.deployment}: to ${t.description}${t.replicaSet ? ` (template of ReplicaSet ${t.replicaSet}, revision ${t.revision ?? '?'})` : ' (images only: no ReplicaSet ran them)'}: ${changes.join(', ') || 'template only'}`,
      );
    }
  }
  await validateImages(choice.targets, live, deps);
  return { targets: choice.targets, live };
}

function parseImage(text: string): ReturnType<typeof parseReference> {
  try {
    return parseReference(text);
  } catch (e) {
    throw new ConfigurationError(
      `input "to": image:${text} is not a valid image reference (${errorMessage(e)})`,
      { input: 'to' },
    );
  }
}

async function resolveOrExplain(
  resolver: ImageResolver,
  text: string,
  ref: ReturnType<typeof parseReference>,
): Promise<string> {
  const digest = await resolver.resolveDigest(ref);
  if (ref.digest && digest !== ref.digest)
    throw new GantryError('check-failed', `${text}: the registry serves ${digest}`);
  return digest;
}

function failOnProblems(problems: readonly RollbackProblem[]): void {
  if (problems.length === 0) return;
  const text = problems.map((p) => p.message).join('; ');
  if (problems.every((p) => p.kind === 'paused')) throw new GantryError('check-failed', text);
  if (
    problems.some(
      (p) => p.kind === 'container' || p.kind === 'one-deployment' || p.kind === 'ambiguous-commit',
    )
  ) {
    throw new ConfigurationError(text, {
      input: problems.some((p) => p.kind === 'ambiguous-commit') ? 'to' : 'deployments',
    });
  }
  throw new GantryError('not-found', text, {
    hint: 'nothing was changed; see `kubectl rollout history` and the gantry-deploy-history ConfigMap for what there is',
  });
}

/** Every image a rollback would (re)deploy must exist: all missing ones are named at once, nothing is changed. */
async function validateImages(
  targets: readonly RollbackTarget[],
  live: ReadonlyMap<string, Deployment>,
  deps: RollbackDeps,
): Promise<void> {
  const wanted = new Set<string>();
  for (const t of targets) {
    if (t.noop) continue;
    const now = containerImages(live.get(t.deployment)?.spec?.template);
    for (const [c, image] of Object.entries(t.images)) if (now[c] !== image) wanted.add(image);
  }
  const missing: string[] = [];
  await Promise.all(
    [...wanted].map(async (image) => {
      try {
        const ref = parseReference(image);
        const digest = await resolveOrExplain(deps.resolver, image, ref);
        deps.logger.info(`image ${image} exists${ref.digest ? '' : ` (${digest})`}`);
      } catch (e) {
        if (e instanceof GantryError && (e.code === 'not-found' || e.code === 'check-failed'))
          missing.push(`${image} (${errorMessage(e)})`);
        else if (e instanceof GantryError) throw e;
        else missing.push(`${image} (${errorMessage(e)})`);
      }
    }),
  );
  if (missing.length > 0) {
    throw new GantryError(
      'not-found',
      `rollback target image${missing.length === 1 ? '' : 's'} not found in the registry: ${missing.sort().join('; ')}`,
      {
        hint: 'nothing was changed in the cluster; pick another target (revision:<N>, sha:<commit>, last-good) or push the image',
      },
    );
  }
}

/** The Deployment with the ReplicaSets it controls (as kubectl rollout undo finds them: selector + owner uid). */
export async function runningDeployment(
  client: KubeClient,
  ns: string,
  d: Deployment,
  signal?: AbortSignal,
): Promise<RunningDeployment> {
  const list = await retryKube(
    () =>
      client.request<KList<ReplicaSet>>({
        path: resourcePath('replicasets', ns),
        query: { labelSelector: selectorString(d.spec?.selector) || undefined },
        ...(signal ? { signal } : {}),
      }),
    { what: `list replicasets of deployment ${ns}/${d.metadata.name ?? ''}`, ...(signal ? { signal } : {}) },
  );
  const replicaSets = (list.items ?? [])
    .filter((rs) => rs.metadata.ownerReferences?.some((o) => o.controller && o.uid === d.metadata.uid))
    .map((rs) => ({
      name: rs.metadata.name ?? '',
      revision: Number(rs.metadata.annotations?.[REVISION_ANNOTATION]),
      template: rs.spec?.template ?? {},
    }))
    .filter((rs) => Number.isInteger(rs.revision) && rs.revision > 0);
  const revision = Number(d.metadata.annotations?.[REVISION_ANNOTATION]);
  return {
    name: d.metadata.name ?? '',
    template: d.spec?.template ?? {},
    ...(Number.isInteger(revision) && revision > 0 ? { revision } : {}),
    ...(d.spec?.paused ? { paused: true } : {}),
    replicaSets,
  };
}

// --- dry run, apply, record ----------------------------------------------------------------------------

function rollbackAnnotations(
  t: RollbackTarget,
  options: RollbackOptions,
  report: RollbackReport,
): Record<string, string | undefined> {
  const what = `gantry rollback to ${t.description}`;
  const cause = `${what}${t.reverts ? `, reverting run ${t.reverts}` : ''}${options.reason ? `: ${options.reason}` : ''}`;
  return {
    [CHANGE_CAUSE_ANNOTATION]: cause.slice(0, 1000),
    [ANNOTATIONS.runId]: report.runId,
    [ANNOTATIONS.deployedAt]: report.startedAt,
    // the commit of what now runs: known when the target came from a record, else unknown (not the reverted one)
    [ANNOTATIONS.commit]: t.record?.commit,
    [ANNOTATIONS.runUrl]: options.runUrl,
  };
}

async function dryRunWrites(
  client: KubeClient,
  ns: string,
  plan: Plan,
  logger: Logger,
  signal?: AbortSignal,
): Promise<void> {
  for (const t of plan.targets) {
    if (t.noop) continue;
    const live = plan.live.get(t.deployment)!;
    const body: Deployment = {
      ...live,
      spec: { ...live.spec, template: targetTemplate(live.spec?.template ?? {}, t) },
    };
    delete (body as { status?: unknown }).status;
    await client.request({
      method: 'PUT',
      path: resourcePath('deployments', ns, t.deployment),
      query: { dryRun: 'All' },
      body,
      ...(signal ? { signal } : {}),
    });
    logger.info(`${t.deployment}: the server accepted the rollback to ${t.description} (dry run)`);
  }
}

async function applyTargets(
  client: KubeClient,
  ns: string,
  plan: Plan,
  report: RollbackReport,
  options: RollbackOptions,
  logger: Logger,
): Promise<(RestoreOutcome | { name: string; status: 'failed'; message: string; deployment?: undefined })[]> {
  // no signal: once started, every write completes, so a cancellation never leaves a half-applied rollback
  return Promise.all(
    plan.targets
      .filter((t) => !t.noop)
      .map(async (t) => {
        const live = plan.live.get(t.deployment)!;
        const current = live.spec?.template ?? {};
        try {
          return await restoreDeployment(
            client,
            ns,
            {
              name: t.deployment,
              template: targetTemplate(current, t),
              annotations: rollbackAnnotations(t, options, report),
              expected: current,
            },
            { logger },
          );
        } catch (e) {
          return { name: t.deployment, status: 'failed' as const, message: errorMessage(e) };
        }
      }),
  );
}

async function readRevisions(client: KubeClient, ns: string, report: RollbackReport): Promise<void> {
  await Promise.all(
    report.deployments
      .filter((d) => d.result === 'succeeded')
      .map(async (d) => {
        try {
          const live = await client.request<Deployment>({
            path: resourcePath('deployments', ns, d.name),
            timeoutMs: 5_000,
          });
          const rev = live.metadata.annotations?.[REVISION_ANNOTATION];
          if (rev !== undefined) d.revisionAfter = rev;
        } catch {
          /* the report goes without it */
        }
      }),
  );
}

/** Pure: the history record of a finished rollback, and which deploy records it reverted. */
export function rollbackRecord(
  report: RollbackReport,
  targets: readonly RollbackTarget[],
  options: Pick<RollbackOptions, 'runUrl' | 'actor' | 'reason'>,
): { record: HistoryRecord; marks: RolledBackMark[] } {
  const result: RunResult =
    report.result === 'succeeded' || report.result === 'unchanged' ? 'succeeded' : 'failed';
  // a deploy is reverted once its template is gone from the cluster: written, healthy or not yet
  const written = new Set(
    report.deployments
      .filter(
        (d) =>
          d.result === 'succeeded' || (d.result === 'failed' && !/^not rolled back/.test(d.message ?? '')),
      )
      .map((d) => d.name),
  );
  const byRecord = new Map<string, string[]>();
  for (const t of targets) {
    if (t.noop || !t.reverts || !written.has(t.deployment)) continue;
    byRecord.set(t.reverts, [...(byRecord.get(t.reverts) ?? []), t.deployment]);
  }
  const marks = [...byRecord].map(([id, deployments]) => ({ id, deployments }));
  report.reverted = marks.map((m) => m.id);
  const record: HistoryRecord = {
    id: report.runId,
    kind: 'rollback',
    target: report.to,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    durationMs: report.durationMs,
    result,
    ...(report.cancelled ? { cancelled: true } : {}),
    ...(options.runUrl ? { runUrl: options.runUrl } : {}),
    ...(options.actor ? { actor: options.actor } : {}),
    ...(options.reason ? { reason: options.reason } : {}),
    changeCause: `gantry rollback to ${report.to}${options.reason ? `: ${options.reason}` : ''}`,
    ...(marks.length > 0 ? { rollbackOf: marks.map((m) => m.id) } : {}),
    deployments: report.deployments.map((d) => historyDeployment(d, d.result !== 'unchanged')),
    ...historyFailure(report.failure),
  };
  return { record, marks };
}

async function writeRecord(
  client: KubeClient,
  ns: string,
  report: RollbackReport,
  targets: readonly RollbackTarget[],
  options: RollbackOptions,
  logger: Logger,
): Promise<void> {
  const { record, marks } = rollbackRecord(report, targets, options);
  try {
    // no signal: after a SIGTERM the record is what makes the state known
    await recordHistory(client, ns, record, { logger, markRolledBack: marks });
    logger.info(
      `history: recorded rollback ${record.id} (${record.result}${record.cancelled ? ', cancelled' : ''})${marks.length > 0 ? `; marked ${marks.map((m) => `run ${m.id}`).join(', ')} rolled-back` : ''}`,
    );
  } catch (e) {
    report.reverted = [];
    logger.warning(
      `history: could not record this rollback (${errorMessage(e)}); the rollback result stands`,
    );
  }
}

/** The report as the on-call engineer reads it at the end of the log. */
export function renderRollbackText(report: RollbackReport): string {
  const head =
    report.result === 'succeeded'
      ? `rollback to ${report.to}: done in ${formatDuration(report.durationMs)}`
      : report.result === 'unchanged'
        ? `rollback to ${report.to}: nothing to do (already there)`
        : report.result === 'planned'
          ? `rollback to ${report.to}: planned (dry run, nothing changed)`
          : `rollback to ${report.to}: FAILED${report.cancelled ? ' (cancelled)' : ''}`;
  const lines = [head];
  if (report.reason) lines.push(`  reason: ${report.reason}`);
  for (const d of report.deployments) {
    const changes = d.images
      .filter((i) => i.before !== i.after)
      .map((i) => `${i.container} ${i.before} → ${i.after}`);
    lines.push(
      `  ${d.name}: ${d.result} — ${d.target}${d.revisionAfter ? ` (revision ${d.revisionAfter})` : ''}${d.readyMs !== undefined ? `, healthy in ${formatDuration(d.readyMs)}` : ''}`,
    );
    for (const c of changes) lines.push(`    ${c}`);
    if (d.message) lines.push(`    ${d.message}`);
  }
  if (report.reverted.length > 0)
    lines.push(`  marked rolled-back: ${report.reverted.map((id) => `run ${id}`).join(', ')}`);
  if (report.failure && report.failure.reason !== 'Cancelled')
    lines.push(rollbackFailureText(report.failure));
  return lines.join('\n');
}
