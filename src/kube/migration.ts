/**
 * The migration Job, run to completion before any Deployment changes: built from a Deployment's
 * pod template (its env, secrets, volumes and service account) with the new image and
 * `migration-args`, or taken from a Job manifest file. Its failure stops the deploy and reports
 * the Job pod's last log lines.
 *
 * A Job built from a template drops the Deployment's labels (the pod must not match its Service
 * or its ReplicaSets' selectors) and its probes (a liveness probe must not kill a long migration),
 * runs with restartPolicy Never and backoffLimit 0 (a half-applied migration is not retried
 * blindly), and is left for inspection with ttlSecondsAfterFinished 1 day.
 */
import { readFile } from 'node:fs/promises';
import { systemClock, type Clock } from '../core/clock.js';
import { formatDuration } from '../core/durations.js';
import { ConfigurationError, GantryError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import { resourcePath, retryKube, type KubeClient } from './client.js';
import { classifyPodFailure } from './pod-failure.js';
import { formatEvents, podLogs } from './rollout-wait.js';
import type { Container, Deployment, Job, KEvent, KList, Pod, PodTemplateSpec } from './types.js';
import { loadYaml } from '../core/yaml.js';

export type MigrationSpec =
  | { kind: 'deployment'; deployment: string; container?: string; args: string[] }
  | { kind: 'manifest'; path: string };

export interface MigrationOutcome {
  job: string;
  status: 'succeeded' | 'failed' | 'timeout' | 'cancelled';
  message: string;
  pod?: string;
  logs: string[];
  events: string[];
  durationMs: number;
}

const MIGRATION_LABEL = 'gantry.dev/migration';

/** Parses the `migration` input: a Deployment name, or a path to a Job manifest. */
export function parseMigrationInput(
  value: string | undefined,
  args: readonly string[],
  inputName = 'migration',
): MigrationSpec | undefined {
  if (value === undefined) {
    if (args.length > 0) {
      throw new ConfigurationError(
        `input "migration-args" is set but input "${inputName}" is not; name the deployment whose template runs the migration`,
        {
          input: 'migration-args',
        },
      );
    }
    return undefined;
  }
  if (/\.(ya?ml|json)$/i.test(value) || (value.includes('/') && !/^[a-z0-9-.]+\/[a-z0-9-]+$/.test(value))) {
    return { kind: 'manifest', path: value };
  }
  const [deployment = '', container] = value.split('/');
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(deployment)) {
    throw new ConfigurationError(
      `input "${inputName}" is "${value}": neither a deployment name nor a Job manifest path (.yaml/.yml/.json)`,
      {
        input: inputName,
      },
    );
  }
  return { kind: 'deployment', deployment, ...(container ? { container } : {}), args: [...args] };
}

/** Pure: the Job that runs the migration from a Deployment's template with the new images. */
export function migrationJobFromDeployment(
  deployment: Deployment,
  spec: Extract<MigrationSpec, { kind: 'deployment' }>,
  images: Readonly<Record<string, string>>,
  name: string,
): Job {
  const template: PodTemplateSpec = structuredClone(deployment.spec?.template ?? {});
  const podSpec = template.spec ?? { containers: [] };
  const containers = podSpec.containers;
  const target = spec.container ?? (containers.length === 1 ? containers[0]?.name : undefined);
  if (!target || !containers.some((c) => c.name === target)) {
    throw new ConfigurationError(
      `migration: deployment "${spec.deployment}" has ${containers.length === 1 ? `no container "${spec.container ?? ''}"` : `${containers.length} containers (${containers.map((c) => c.name).join(', ')}); name one as ${spec.deployment}/<container>`}`,
      { input: 'migration' },
    );
  }
  const strip = (c: Container): Container => {
    const copy = { ...c };
    delete copy.livenessProbe;
    delete copy.readinessProbe;
    delete copy.startupProbe;
    if (images[c.name]) copy.image = images[c.name];
    return copy;
  };
  // the migration is the one container; sidecars would keep the Job from completing
  const main = strip(containers.find((c) => c.name === target)!);
  if (spec.args.length > 0) main.args = [...spec.args];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: deployment.metadata.namespace,
      labels: { [MIGRATION_LABEL]: name, 'app.kubernetes.io/managed-by': 'gantry' },
      annotations: { 'gantry.dev/migration-of': spec.deployment },
    },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: 86_400,
      template: {
        metadata: {
          labels: { [MIGRATION_LABEL]: name },
          annotations: { ...(template.metadata?.annotations ?? {}) },
        },
        spec: {
          ...podSpec,
          containers: [main],
          ...(podSpec.initContainers ? { initContainers: podSpec.initContainers.map(strip) } : {}),
          restartPolicy: 'Never',
        },
      },
    },
  };
}

function jobName(base: string, runId: string): string {
  const suffix = runId.replace(/[^a-z0-9]/g, '').slice(-10);
  return `${base.slice(0, 63 - suffix.length - 9)}-migrate-${suffix}`.replace(/[^a-z0-9-]/g, '-');
}

export interface MigrationContext {
  client: KubeClient;
  namespace: string;
  runId: string;
  /** deployment → container → the pinned image being deployed. */
  images: ReadonlyMap<string, Record<string, string>>;
  logger: Logger;
  clock?: Clock;
  timeoutMs: number;
  signal?: AbortSignal;
  pollMs?: number;
}

async function loadManifest(path: string): Promise<Job> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigurationError(
      `input "migration": cannot read Job manifest "${path}" (${errorMessage(e)})`,
      { input: 'migration' },
    );
  }
  const { parse } = await loadYaml();
  const doc = parse(text) as Job | null;
  if (!doc || doc.kind !== 'Job' || !doc.spec?.template) {
    throw new ConfigurationError(`input "migration": "${path}" is not a batch/v1 Job manifest`, {
      input: 'migration',
    });
  }
  return doc;
}

/** Builds (or loads) the Job, runs it, and follows it to its end. */
export async function runMigration(spec: MigrationSpec, ctx: MigrationContext): Promise<MigrationOutcome> {
  const clock = ctx.clock ?? systemClock;
  const start = clock.now();
  let job: Job;
  if (spec.kind === 'deployment') {
    const d = await ctx.client.request<Deployment>({
      path: resourcePath('deployments', ctx.namespace, spec.deployment),
    });
    job = migrationJobFromDeployment(
      d,
      spec,
      ctx.images.get(spec.deployment) ?? {},
      jobName(spec.deployment, ctx.runId),
    );
  } else {
    job = await loadManifest(spec.path);
    const name = jobName(job.metadata.name ?? 'migration', ctx.runId);
    job.metadata = {
      ...job.metadata,
      name,
      namespace: ctx.namespace,
      labels: { ...job.metadata.labels, [MIGRATION_LABEL]: name },
    };
    const tpl = job.spec!.template!;
    tpl.metadata = { ...tpl.metadata, labels: { ...tpl.metadata?.labels, [MIGRATION_LABEL]: name } };
  }
  const name = job.metadata.name ?? '';
  const image = job.spec?.template?.spec?.containers[0]?.image ?? '?';
  await retryKube(
    () => ctx.client.request({ method: 'POST', path: resourcePath('jobs', ctx.namespace), body: job }),
    {
      what: `create migration Job ${ctx.namespace}/${name}`,
    },
  );
  ctx.logger.info(
    `migration Job ${name} started (${image}${job.spec?.template?.spec?.containers[0]?.args ? ` ${job.spec.template.spec.containers[0].args.join(' ')}` : ''})`,
  );
  const outcome = (
    status: MigrationOutcome['status'],
    message: string,
    pod?: Pod,
    logs: string[] = [],
    events: string[] = [],
  ): MigrationOutcome => ({
    job: name,
    status,
    message,
    ...(pod?.metadata.name ? { pod: pod.metadata.name } : {}),
    logs,
    events,
    durationMs: clock.now() - start,
  });
  const pods = async (): Promise<Pod[]> =>
    (
      await ctx.client.request<KList<Pod>>({
        path: resourcePath('pods', ctx.namespace),
        query: { labelSelector: `${MIGRATION_LABEL}=${name}` },
      })
    ).items ?? [];
  const details = async (pod: Pod | undefined): Promise<{ logs: string[]; events: string[] }> => {
    if (!pod?.metadata.name) return { logs: [], events: [] };
    const container = pod.spec?.containers[0]?.name;
    const [logs, events] = await Promise.all([
      podLogs(ctx.client, ctx.namespace, pod.metadata.name, container, 20, false),
      ctx.client
        .request<KList<KEvent>>({
          path: resourcePath('events', ctx.namespace),
          query: { fieldSelector: `involvedObject.name=${pod.metadata.name}` },
        })
        .then((l) =>
          formatEvents((l.items ?? []).filter((e) => e.involvedObject?.name === pod.metadata.name)),
        )
        .catch((e: unknown) => [`(events unavailable: ${errorMessage(e)})`]),
    ]);
    return { logs, events };
  };
  for (;;) {
    if (ctx.signal?.aborted)
      return outcome('cancelled', 'cancelled while the migration ran (the Job is left running)');
    const j = await retryKube(
      () => ctx.client.request<Job>({ path: resourcePath('jobs', ctx.namespace, name) }),
      {
        what: `GET Job ${ctx.namespace}/${name}`,
      },
    );
    const conditions = j.status?.conditions ?? [];
    const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
    if (
      (j.status?.succeeded ?? 0) >= 1 ||
      conditions.some((c) => c.type === 'Complete' && c.status === 'True')
    ) {
      ctx.logger.info(`migration Job ${name} completed in ${formatDuration(clock.now() - start)}`);
      return outcome('succeeded', 'completed');
    }
    const list = await pods().catch(() => [] as Pod[]);
    const last = list
      .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''))
      .at(-1);
    if (failed || (j.status?.failed ?? 0) > 0) {
      const term = last?.status?.containerStatuses?.[0]?.state?.terminated;
      const msg = `${failed?.reason ?? 'Failed'}: ${failed?.message ?? 'the Job failed'}${term ? ` (container exit code ${term.exitCode ?? '?'}${term.reason ? `, ${term.reason}` : ''})` : ''}`;
      const d = await details(last);
      return outcome('failed', msg, last, d.logs, d.events);
    }
    const podFailure = last ? classifyPodFailure(last, [], clock.now(), { minRestarts: 1 }) : undefined;
    if (podFailure) {
      const d = await details(last);
      return outcome('failed', `${podFailure.reason}: ${podFailure.message}`, last, d.logs, d.events);
    }
    if (clock.now() - start >= ctx.timeoutMs) {
      const d = await details(last);
      return outcome(
        'timeout',
        `not complete after ${formatDuration(ctx.timeoutMs)}`,
        last,
        d.logs,
        d.events,
      );
    }
    ctx.logger.progress(`migration Job ${name}: ${last?.status?.phase ?? 'Pending'}`);
    try {
      await clock.sleep(ctx.pollMs ?? 500, ctx.signal);
    } catch {
      /* aborted: reported at the top of the loop */
    }
  }
}

export function migrationError(o: MigrationOutcome): GantryError {
  return new GantryError('rollout-failed', `migration Job ${o.job} ${o.status}: ${o.message}`);
}
