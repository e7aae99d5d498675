/**
 * k3s-deploy: the whole deploy as one library call, shared by the action and `gantry deploy`.
 *
 *   pre-flight  cluster reachable · namespace exists · permissions (SelfSubjectAccessReview) ·
 *               deployments/containers exist and are not paused · images exist (tag → digest) ·
 *               signatures verify — any failure throws before anything is changed
 *   dry run     server-side dry-run patches + the plan, then stop
 *   lock        the namespace's Lease (waited for, always released)
 *   migration   optional Job to completion before any Deployment changes
 *   patch       one strategic-merge patch per Deployment (re-planned under the lock; skipped when
 *               already at the target digests)
 *   wait        watch-based, parallel, fail fast with the cause
 *   restore     on failure, timeout or cancellation, when atomic: every changed Deployment back to
 *               its exact previous template, then wait until healthy
 *   record      the namespace's history ConfigMap
 *
 * Verdicts come back in the DeployReport (result succeeded / failed / rolled-back); only
 * pre-flight and infrastructure problems are thrown, as coded errors.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { systemClock, type Clock } from '../core/clock.js';
import { formatDuration } from '../core/durations.js';
import { ConfigurationError, GantryError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import { formatReference, parseReference, type ImageReference } from '../oci/reference.js';
import { KubeApiError, PATCH_TYPES, resourcePath, retryKube, type KubeClient } from './client.js';
import {
  historyDeployment,
  historyFailure,
  recordHistory,
  type DeploymentResult,
  type HistoryRecord,
  type RunResult,
} from './history.js';
import type { ImageResolver, ImageVerifier } from './images.js';
import { acquireDeployLock, type DeployLock } from './lock.js';
import { runMigration, type MigrationOutcome, type MigrationSpec } from './migration.js';
import type { ClassifyOptions } from './pod-failure.js';
import {
  containerImages,
  planDeploy,
  type DeployMetadata,
  type DeploymentPlan,
  type PlanProblem,
} from './plan.js';
import { explainMissing, requiredPermissions, reviewAccess } from './rbac.js';
import { restoreDeployment, type RestoreOutcome } from './restore.js';
import {
  waitForRollouts,
  type FailureCause,
  type RolloutResult,
  type RolloutTarget,
} from './rollout-wait.js';
import type { DeployTarget } from './targets.js';
import { REVISION_ANNOTATION, type Deployment, type PodTemplateSpec } from './types.js';

export interface DeployOptions {
  namespace: string;
  targets: readonly DeployTarget[];
  /** Overall budget for the run, pre-flight to verdict (restore has its own). */
  timeoutMs: number;
  atomic: boolean;
  lock: boolean;
  lockTimeoutMs?: number;
  dryRun: boolean;
  changeCause: string;
  commit?: string;
  runUrl?: string;
  actor?: string;
  /** Unique per run; default random. */
  runId?: string;
  migration?: MigrationSpec;
  classify?: ClassifyOptions;
  /** SelfSubjectAccessReview pre-check (default true). */
  checkPermissions?: boolean;
  /** Append to the history ConfigMap (default true). */
  history?: boolean;
  /** How long to wait for restored Deployments to be healthy (default 5 min; 10 s after cancellation). */
  restoreTimeoutMs?: number;
}

export interface DeployDeps {
  client: KubeClient;
  resolver: ImageResolver;
  verifier?: ImageVerifier;
  logger: Logger;
  clock?: Clock;
  signal?: AbortSignal;
}

export interface DeploymentReport {
  name: string;
  changed: boolean;
  result: DeploymentResult | 'planned';
  revisionBefore?: string;
  revisionAfter?: string;
  images: { container: string; init: boolean; before: string; after: string; requested: string }[];
  readyMs?: number;
  message?: string;
  restore?: { status: RestoreOutcome['status'] | 'failed'; message: string };
}

export interface DeployReport {
  result: RunResult | 'planned';
  namespace: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  dryRun: boolean;
  cancelled: boolean;
  timings: {
    preflightMs: number;
    lockWaitMs?: number;
    migrationMs?: number;
    patchMs?: number;
    waitMs?: number;
    restoreMs?: number;
  };
  deployments: DeploymentReport[];
  failure?: FailureCause;
  migration?: MigrationOutcome;
}

interface Patched {
  plan: DeploymentPlan;
  /** The Deployment as the patch left it. */
  after: Deployment;
  appliedTemplate: PodTemplateSpec;
  startedAt: number;
}

function newRunId(): string {
  return `${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`;
}

function abortError(signal: AbortSignal | undefined, what: string): GantryError {
  return new GantryError('cancelled', `cancelled ${what}`, { cause: signal?.reason });
}

/** Runs a deploy; see the module comment. */
export async function deploy(options: DeployOptions, deps: DeployDeps): Promise<DeployReport> {
  const clock = deps.clock ?? systemClock;
  const { client, logger } = deps;
  const ns = options.namespace;
  const started = clock.now();
  // every parallel request of a 30-deployment deploy listens on the run's signal
  if (deps.signal) setMaxListeners(200, deps.signal);
  const runId = options.runId ?? newRunId();
  const meta: DeployMetadata = {
    changeCause: options.changeCause,
    runId,
    at: new Date(started).toISOString(),
    ...(options.commit ? { commit: options.commit } : {}),
    ...(options.runUrl ? { runUrl: options.runUrl } : {}),
  };
  const deadline = started + options.timeoutMs;
  const remaining = (): number => Math.max(0, deadline - clock.now());

  // --- pre-flight ------------------------------------------------------------------------------------
  const pre = await logger.group('pre-flight', () => preflight(options, deps, meta));
  const preflightMs = clock.now() - started;
  const report: DeployReport = {
    result: 'succeeded',
    namespace: ns,
    runId,
    startedAt: meta.at,
    finishedAt: '',
    durationMs: 0,
    dryRun: options.dryRun,
    cancelled: false,
    timings: { preflightMs },
    deployments: pre.plans.map((p) => deploymentReport(p)),
  };
  const finish = (): DeployReport => {
    report.finishedAt = new Date(clock.now()).toISOString();
    report.durationMs = clock.now() - started;
    return report;
  };

  if (options.dryRun) {
    await logger.group('dry run', () => dryRunPatches(client, ns, pre.plans, logger));
    report.result = 'planned';
    for (const d of report.deployments) d.result = d.changed ? 'planned' : 'unchanged';
    return finish();
  }

  // --- lock ------------------------------------------------------------------------------------------
  let lock: DeployLock | undefined;
  if (options.lock) {
    const lockStart = clock.now();
    lock = await logger.group('deploy lock', () =>
      acquireDeployLock({
        client,
        namespace: ns,
        identity: `gantry/${hostname()}/${process.pid}/${runId}`,
        description: `${options.actor ? `${options.actor}: ` : ''}${options.changeCause}`.slice(0, 250),
        ...(options.runUrl ? { runUrl: options.runUrl } : {}),
        waitMs: options.lockTimeoutMs ?? 600_000,
        logger,
        clock,
        ...(deps.signal ? { signal: deps.signal } : {}),
      }),
    );
    report.timings.lockWaitMs = clock.now() - lockStart;
  }
  const patched: Patched[] = [];
  try {
    // --- migration -----------------------------------------------------------------------------------
    if (options.migration) {
      const mStart = clock.now();
      const spec = options.migration;
      const images = new Map(
        pre.plans.map((p) => [p.name, Object.fromEntries(p.containers.map((c) => [c.container, c.to]))]),
      );
      const outcome = await logger.group('migration', () =>
        runMigration(spec, {
          client,
          namespace: ns,
          runId,
          images,
          logger,
          clock,
          timeoutMs: remaining(),
          ...(deps.signal ? { signal: deps.signal } : {}),
        }),
      );
      report.migration = outcome;
      report.timings.migrationMs = clock.now() - mStart;
      if (outcome.status !== 'succeeded') {
        report.result = 'failed';
        report.cancelled = outcome.status === 'cancelled';
        for (const d of report.deployments) d.result = 'not-started';
        report.failure = {
          deployment: spec.kind === 'deployment' ? spec.deployment : outcome.job,
          reason: outcome.status === 'failed' ? 'MigrationFailed' : 'Timeout',
          message: `migration Job ${outcome.job} ${outcome.status}: ${outcome.message}`,
          logs: outcome.logs,
          events: outcome.events,
          ...(outcome.pod ? { pod: outcome.pod } : {}),
        };
        logger.error(`migration failed; no deployment was changed\n${failureText(report.failure)}`);
        return finish();
      }
    }

    // --- patch ---------------------------------------------------------------------------------------
    const patchStart = clock.now();
    await logger.group('patch', async () => {
      // plan again under the lock: another run may have changed things since pre-flight
      const current = await readDeployments(
        client,
        ns,
        pre.plans.map((p) => p.name),
        deps.signal,
      );
      const plan = planDeploy({
        targets: options.targets,
        digests: pre.digests,
        deployments: current,
        metadata: meta,
      });
      failOnProblems(plan.problems);
      report.deployments = plan.deployments.map((p) => deploymentReport(p));
      const results = await Promise.allSettled(
        plan.deployments
          .filter((p) => p.changed)
          .map(async (p) => {
            const done = await patchDeployment(client, ns, p, {
              targets: options.targets,
              digests: pre.digests,
              meta,
              logger,
              ...(deps.signal ? { signal: deps.signal } : {}),
            });
            patched.push({ ...done, startedAt: clock.now() });
            const r = report.deployments.find((d) => d.name === p.name)!;
            Object.assign(r, deploymentReport(done.plan));
            r.revisionAfter = done.after.metadata.annotations?.[REVISION_ANNOTATION];
            logger.info(
              `${p.name}: ${done.plan.containers
                .filter((c) => c.changed)
                .map((c) => `${c.container} ${c.from} → ${c.to}`)
                .join(', ')}`,
            );
          }),
      );
      for (const p of plan.deployments.filter((d) => !d.changed))
        logger.info(`${p.name}: already at the target digests, left alone`);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    });
    report.timings.patchMs = clock.now() - patchStart;

    // --- wait ----------------------------------------------------------------------------------------
    const waitStart = clock.now();
    const targets: RolloutTarget[] = patched.map((p) => ({
      name: p.plan.name,
      generation: p.after.metadata.generation ?? 0,
      images: containerImages(p.after.spec?.template),
      startedAt: p.startedAt,
    }));
    const results = await logger.group(
      `wait for ${targets.length} rollout${targets.length === 1 ? '' : 's'}`,
      () =>
        waitForRollouts({
          client,
          namespace: ns,
          targets,
          timeoutMs: remaining(),
          logger,
          clock,
          ...(deps.signal ? { signal: deps.signal } : {}),
          ...(options.classify ? { classify: options.classify } : {}),
        }),
    );
    report.timings.waitMs = clock.now() - waitStart;
    applyResults(report, results);
    const bad = results.find((r) => r.state === 'failed') ?? results.find((r) => r.state === 'timeout');
    const cancelled = results.some((r) => r.state === 'cancelled') || deps.signal?.aborted === true;
    if (!bad && !cancelled) {
      report.result = 'succeeded';
      return finish();
    }
    report.cancelled = cancelled;
    if (bad?.failure) {
      report.failure = bad.failure;
      logger.error(failureText(bad.failure));
    } else if (cancelled) logger.warning('cancelled while waiting for the rollout');
    report.result = 'failed';
    if (options.atomic) await restoreAll(report, patched, options, deps, cancelled);
    else logger.warning('atomic is off: the changed deployments are left as they are');
    return finish();
  } catch (e) {
    // a patch failed, or the run was cancelled mid-way: undo what was changed, then re-throw
    const cancelled = deps.signal?.aborted === true;
    if (patched.length > 0 && options.atomic) {
      logger.error(`deploy interrupted: ${errorMessage(e)}`);
      report.result = 'failed';
      report.cancelled = cancelled;
      await restoreAll(report, patched, options, deps, cancelled);
      if (!cancelled) {
        report.failure = {
          deployment: '',
          reason: 'PatchFailed',
          message: errorMessage(e),
          logs: [],
          events: [],
        };
      }
      return finish();
    }
    throw cancelled && !(e instanceof GantryError && e.code === 'cancelled')
      ? abortError(deps.signal, 'during the deploy')
      : e;
  } finally {
    if (options.history !== false && !options.dryRun && report.finishedAt) {
      await writeHistory(client, ns, report, options, logger);
    }
    await lock?.release();
  }
}

// --- pre-flight ----------------------------------------------------------------------------------------

interface Preflight {
  plans: DeploymentPlan[];
  digests: Map<string, string>;
}

async function preflight(options: DeployOptions, deps: DeployDeps, meta: DeployMetadata): Promise<Preflight> {
  const { client, logger } = deps;
  const ns = options.namespace;
  const signal = deps.signal;
  // cluster reachable (and credentials accepted)
  try {
    const v = await retryKube(
      () => client.request<{ gitVersion?: string }>({ path: '/version', ...(signal ? { signal } : {}) }),
      {
        what: `GET ${client.server}/version`,
        maxAttempts: 3,
        ...(signal ? { signal } : {}),
      },
    );
    logger.info(`cluster ${client.server} reachable (Kubernetes ${v?.gitVersion ?? 'unknown version'})`);
  } catch (e) {
    if (e instanceof KubeApiError && e.status === 401) {
      throw new ConfigurationError(
        `the cluster ${client.server} rejected the kubeconfig's credentials (401): ${errorMessage(e)}`,
        {
          input: 'kubeconfig',
          hint: 'the token may have expired or been revoked',
        },
      );
    }
    if (e instanceof KubeApiError && e.status === 403) {
      logger.debug(`/version is forbidden (${errorMessage(e)}); going on`);
    } else {
      throw new GantryError(
        'infrastructure',
        `cannot reach the cluster at ${client.server}: ${errorMessage(e)}`,
        {
          cause: e,
          hint: 'check the kubeconfig server (or input "server") and the network path from this runner',
        },
      );
    }
  }
  // namespace (a namespaced Role cannot read namespaces: 403 means "cannot tell", go on)
  try {
    await client.request({ path: resourcePath('namespaces', undefined, ns), ...(signal ? { signal } : {}) });
  } catch (e) {
    if (e instanceof KubeApiError && e.status === 404) {
      throw new ConfigurationError(`namespace "${ns}" does not exist in ${client.server}`, {
        input: 'namespace',
      });
    }
    if (!(e instanceof KubeApiError && e.status === 403)) throw e;
  }
  if (options.checkPermissions !== false) {
    const needs = requiredPermissions({
      lock: options.lock,
      history: options.history !== false,
      migration: options.migration !== undefined,
      atomic: options.atomic,
    });
    const reviews = await reviewAccess(client, ns, needs, { logger, ...(signal ? { signal } : {}) });
    if (reviews) {
      const denied = reviews.filter((r) => !r.allowed);
      if (denied.length > 0)
        throw new ConfigurationError(explainMissing(ns, denied), { input: 'kubeconfig' });
      logger.info(`permissions: all ${reviews.length} verbs allowed in namespace "${ns}"`);
    }
  }
  const names = [...new Set(options.targets.map((t) => t.deployment))];
  // deployments and containers first: a typo is exit 2 even when the registry is unreachable
  const current = await readDeployments(client, ns, names, signal);
  failOnProblems(
    planDeploy({ targets: options.targets, digests: new Map(), deployments: current, metadata: meta })
      .problems,
    ns,
  );
  const digests = await resolveImages(options.targets, deps);
  const plan = planDeploy({ targets: options.targets, digests, deployments: current, metadata: meta });
  failOnProblems(plan.problems, ns);
  for (const p of plan.deployments) {
    for (const c of p.containers)
      logger.info(`${p.name}/${c.container}: ${c.changed ? `${c.from} → ${c.to}` : `already ${c.to}`}`);
  }
  if (deps.verifier) await verifySignatures(plan.deployments, deps.verifier, logger);
  return { plans: plan.deployments, digests };
}

function failOnProblems(problems: readonly PlanProblem[], ns?: string): void {
  if (problems.length === 0) return;
  const text = problems.map((p) => p.message).join('; ');
  if (problems.every((p) => p.kind === 'paused')) throw new GantryError('check-failed', text);
  const missingDeployment = problems.some((p) => p.kind === 'missing-deployment');
  throw new ConfigurationError(`${text}${missingDeployment && ns ? ` (namespace "${ns}")` : ''}`, {
    input: 'deployments',
  });
}

/** The named Deployments that exist (absent names are simply missing from the map). */
export async function readDeployments(
  client: KubeClient,
  ns: string,
  names: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, Deployment>> {
  const out = new Map<string, Deployment>();
  await Promise.all(
    names.map(async (name) => {
      try {
        const d = await retryKube(
          () =>
            client.request<Deployment>({
              path: resourcePath('deployments', ns, name),
              ...(signal ? { signal } : {}),
            }),
          {
            what: `GET deployment ${ns}/${name}`,
            ...(signal ? { signal } : {}),
          },
        );
        out.set(name, d);
      } catch (e) {
        if (!(e instanceof KubeApiError && e.status === 404)) throw e;
      }
    }),
  );
  return out;
}

async function resolveImages(
  targets: readonly DeployTarget[],
  deps: DeployDeps,
): Promise<Map<string, string>> {
  const unique = new Map(targets.map((t) => [formatReference(t.image), t.image]));
  const digests = new Map<string, string>();
  const missing: string[] = [];
  await Promise.all(
    [...unique].map(async ([key, image]) => {
      try {
        const digest = await deps.resolver.resolveDigest(image);
        if (image.digest && digest !== image.digest)
          throw new GantryError('check-failed', `${key}: the registry serves ${digest}`);
        digests.set(key, digest);
        deps.logger.info(`image ${key} → ${digest}`);
      } catch (e) {
        if (e instanceof GantryError && e.code === 'not-found') missing.push(`${key} (${errorMessage(e)})`);
        else throw e;
      }
    }),
  );
  if (missing.length > 0) {
    throw new GantryError(
      'not-found',
      `image${missing.length === 1 ? '' : 's'} not found in the registry: ${missing.join('; ')}`,
      {
        hint: 'was it pushed? check the tag and the registry; nothing was changed in the cluster',
      },
    );
  }
  return digests;
}

async function verifySignatures(
  plans: readonly DeploymentPlan[],
  verifier: ImageVerifier,
  logger: Logger,
): Promise<void> {
  const images = new Map<string, { image: ImageReference; digest: string }>();
  for (const p of plans) {
    for (const c of p.containers) {
      const image = parseReference(c.to);
      images.set(c.to, { image, digest: image.digest ?? '' });
    }
  }
  const failures: string[] = [];
  await Promise.all(
    [...images].map(async ([pinned, { image, digest }]) => {
      const v = await verifier.verify(image, digest);
      if (v.verified)
        logger.info(`signature verified: ${pinned} (signed by ${v.signers.join(', ') || 'a trusted key'})`);
      else failures.push(`${pinned}: ${v.problems.join('; ') || 'no valid signature'}`);
    }),
  );
  if (failures.length > 0) {
    throw new GantryError(
      'signature-invalid',
      `signature verification failed; nothing was deployed:\n  ${failures.join('\n  ')}`,
      {
        hint:
          'sign the images (gantry sign / sign-image) with the key matching "verify-key", or keylessly as ' +
          'the identity and issuer given in "verify-certificate-identity" / "verify-certificate-oidc-issuer", ' +
          'before deploying',
      },
    );
  }
}

// --- dry run, patch, restore, history ------------------------------------------------------------------

async function dryRunPatches(
  client: KubeClient,
  ns: string,
  plans: readonly DeploymentPlan[],
  logger: Logger,
): Promise<void> {
  for (const p of plans) {
    if (!p.patch) {
      logger.info(`${p.name}: unchanged (already at the target digests)`);
      continue;
    }
    await client.request({
      method: 'PATCH',
      path: resourcePath('deployments', ns, p.name),
      query: { dryRun: 'All', fieldManager: 'gantry' },
      body: p.patch,
      contentType: PATCH_TYPES.strategic,
    });
    logger.info(`${p.name}: server accepted the patch (dry run)`);
  }
}

interface PatchContext {
  targets: readonly DeployTarget[];
  digests: ReadonlyMap<string, string>;
  meta: DeployMetadata;
  logger: Logger;
  signal?: AbortSignal;
}

/** Patches one Deployment; on 409 re-reads and re-plans it (its "previous" is what we actually replaced). */
async function patchDeployment(
  client: KubeClient,
  ns: string,
  initial: DeploymentPlan,
  ctx: PatchContext,
): Promise<{ plan: DeploymentPlan; after: Deployment; appliedTemplate: PodTemplateSpec }> {
  let plan = initial;
  const path = resourcePath('deployments', ns, plan.name);
  return retryKube(
    async (attempt) => {
      if (attempt > 1) {
        const live = await client.request<Deployment>({
          path,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        });
        const again = planDeploy({
          targets: ctx.targets.filter((t) => t.deployment === plan.name),
          digests: ctx.digests,
          deployments: new Map([[plan.name, live]]),
          metadata: ctx.meta,
        });
        failOnProblems(again.problems);
        plan = again.deployments[0] ?? plan;
        if (!plan.changed || !plan.patch)
          throw new GantryError('check-failed', `${plan.name} reached the target digests concurrently`);
      }
      const after = await client.request<Deployment>({
        method: 'PATCH',
        path,
        query: { fieldManager: 'gantry' },
        body: plan.patch,
        contentType: PATCH_TYPES.strategic,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      return { plan, after, appliedTemplate: structuredClone(after.spec?.template ?? {}) };
    },
    {
      what: `patch deployment ${ns}/${plan.name}`,
      maxAttempts: 10,
      initialDelayMs: 100,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      retryable: (e) => {
        if (e instanceof KubeApiError && e.conflict) {
          ctx.logger.debug(`${plan.name}: conflict (${errorMessage(e)}); re-reading and re-planning`);
          return true;
        }
        return e instanceof KubeApiError
          ? e.status === 429 || e.status >= 500
          : (e as { netCode?: string } | null)?.netCode !== undefined;
      },
    },
  );
}

async function restoreAll(
  report: DeployReport,
  patched: readonly Patched[],
  options: DeployOptions,
  deps: DeployDeps,
  cancelled: boolean,
): Promise<void> {
  const { client, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const start = clock.now();
  // the run's own signal may be aborted already: restoring must not be cut short by it
  await logger.group(`restore ${patched.length} deployment${patched.length === 1 ? '' : 's'}`, async () => {
    const outcomes = await Promise.all(
      patched.map(async (p) => {
        try {
          return await restoreDeployment(
            client,
            options.namespace,
            {
              name: p.plan.name,
              template: p.plan.previous.template,
              annotations: p.plan.previous.annotations,
              expected: p.appliedTemplate,
            },
            { logger },
          );
        } catch (e) {
          return { name: p.plan.name, status: 'failed' as const, message: errorMessage(e) };
        }
      }),
    );
    const targets: RolloutTarget[] = [];
    for (const o of outcomes) {
      const r = report.deployments.find((d) => d.name === o.name);
      if (r) r.restore = { status: o.status, message: o.message };
      const p = patched.find((x) => x.plan.name === o.name)!;
      if (o.status === 'restored' || o.status === 'unchanged') {
        logger.info(`${o.name}: ${o.message}`);
        targets.push({
          name: o.name,
          generation: ('deployment' in o ? o.deployment?.metadata.generation : undefined) ?? 0,
          images: containerImages(p.plan.previous.template),
          startedAt: clock.now(),
        });
      } else logger.error(`${o.name}: NOT restored: ${o.message}`);
    }
    const restoreTimeout = cancelled
      ? Math.min(options.restoreTimeoutMs ?? 10_000, 10_000)
      : (options.restoreTimeoutMs ?? 300_000);
    const healthy = await waitForRollouts({
      client,
      namespace: options.namespace,
      targets,
      timeoutMs: restoreTimeout,
      logger,
      clock,
      phase: 'restore',
      // the previous version may be a singleton that crashloops rarely, or whose readiness waits on a
      // dependency: judge it, but only by the deadline
      classify: { ...options.classify, readyGraceMs: 0, readinessProbes: false },
    });
    for (const h of healthy) {
      const r = report.deployments.find((d) => d.name === h.name);
      if (!r) continue;
      if (h.state === 'succeeded') r.result = 'rolled-back';
      else {
        r.result = 'failed';
        r.message = `restore ${h.state}: ${h.failure?.message ?? h.message.trim()}`;
      }
    }
    const allBack =
      outcomes.every((o) => o.status === 'restored' || o.status === 'unchanged') &&
      healthy.every((h) => h.state === 'succeeded');
    report.result = allBack ? 'rolled-back' : 'failed';
    if (allBack)
      logger.info(
        `restored ${patched.length} deployment${patched.length === 1 ? '' : 's'} to their previous templates; healthy again`,
      );
    else logger.error('the restore did not complete: see the deployments above');
  });
  report.timings.restoreMs = clock.now() - start;
}

function deploymentReport(p: DeploymentPlan): DeploymentReport {
  return {
    name: p.name,
    changed: p.changed,
    result: p.changed ? 'not-started' : 'unchanged',
    ...(p.previous.revision !== undefined ? { revisionBefore: p.previous.revision } : {}),
    images: p.containers.map((c) => ({
      container: c.container,
      init: c.init,
      before: c.from,
      after: c.to,
      requested: c.requested,
    })),
  };
}

function applyResults(report: DeployReport, results: readonly RolloutResult[]): void {
  for (const r of results) {
    const d = report.deployments.find((x) => x.name === r.name);
    if (!d) continue;
    d.message = r.message.trim();
    if (r.state === 'succeeded') {
      d.result = 'succeeded';
      if (r.readyMs !== undefined) d.readyMs = r.readyMs;
    } else if (r.state === 'failed' || r.state === 'timeout') d.result = 'failed';
  }
  for (const d of report.deployments) if (!d.changed) d.result = 'unchanged';
}

async function writeHistory(
  client: KubeClient,
  ns: string,
  report: DeployReport,
  options: DeployOptions,
  logger: Logger,
): Promise<void> {
  const record = historyRecord(report, options);
  try {
    await recordHistory(client, ns, record, { logger });
    logger.info(
      `history: recorded run ${report.runId} (${report.result}) in configmap ${ns}/gantry-deploy-history`,
    );
  } catch (e) {
    logger.warning(`history: could not record this run (${errorMessage(e)}); the deploy result stands`);
  }
}

/** Pure: the history record of a finished run. */
export function historyRecord(
  report: DeployReport,
  options: Pick<DeployOptions, 'commit' | 'runUrl' | 'actor' | 'changeCause'>,
): HistoryRecord {
  return {
    id: report.runId,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    durationMs: report.durationMs,
    result: report.result === 'planned' ? 'succeeded' : report.result,
    ...(report.cancelled ? { cancelled: true } : {}),
    ...(options.commit ? { commit: options.commit } : {}),
    ...(options.runUrl ? { runUrl: options.runUrl } : {}),
    ...(options.actor ? { actor: options.actor } : {}),
    changeCause: options.changeCause,
    deployments: report.deployments.map((d) => historyDeployment(d, d.changed)),
    ...historyFailure(report.failure),
  };
}

/** The failure as the on-call engineer reads it: where, what, the logs and the events. */
export function failureText(f: FailureCause): string {
  const where = [
    `deployment ${f.deployment}`,
    f.pod ? `pod ${f.pod}` : '',
    f.container ? `container ${f.container}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const lines = [`${f.reason}: ${where}`, `  ${f.message}`];
  if (f.logs.length > 0) lines.push(`  last ${f.logs.length} log lines:`, ...f.logs.map((l) => `    | ${l}`));
  if (f.events.length > 0) lines.push('  recent events:', ...f.events.map((e) => `    ${e}`));
  return lines.join('\n');
}

export { formatDuration };
