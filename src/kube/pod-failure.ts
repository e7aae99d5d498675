/**
 * Fail-fast classification: reads a pod (or a Deployment's conditions) and says whether the
 * rollout can no longer succeed, and why — the thing `kubectl rollout status` only admits after
 * `progressDeadlineSeconds`. Pure functions of the objects and a time, so every rule is tested
 * on captured shapes.
 *
 * Rules (first match wins, init containers before app containers):
 * - waiting reason ErrImagePull, ImagePullBackOff, InvalidImageName, ErrImageNeverPull,
 *   CreateContainerConfigError (missing secret/configmap), CreateContainerError, RunContainerError:
 *   immediate (pre-flight already proved the image exists, so a pull error is the node's problem
 *   and will not heal by waiting).
 * - OOMKilled as the current or last termination: immediate.
 * - CrashLoopBackOff, or a container that has terminated non-zero, once it has failed
 *   `minRestarts` (default 2) times: one crash may be a dependency not being up yet, two is a
 *   pattern. Failed runs = restartCount, plus the current one when the container is backing off
 *   (CrashLoopBackOff) or lies terminated non-zero — so the verdict comes the moment the second
 *   crash is visible, not after the kubelet's 10 s back-off has bumped restartCount to 2.
 * - PodScheduled=False/Unschedulable for longer than `unschedulableGraceMs` (default 30 s).
 * - ReadinessProbeFailed (never ready), read off the pod spec's probes as the kubelet runs them
 *   (`window(p) = initialDelaySeconds + failureThreshold × periodSeconds`, API defaults 0, 3, 10):
 *   a container that is running, has started (`started` not false), is not Ready, has a
 *   readinessProbe, and has been running for at least
 *     window(readinessProbe)                                             without a startupProbe,
 *     max(window(startupProbe), initialDelaySeconds(readiness))
 *       + failureThreshold(readiness) × periodSeconds(readiness)        with one,
 *   AND has at least one `Unhealthy` Warning event "Readiness probe failed: …" for that container
 *   since it started. The startup probe's whole window is granted because the owner declared
 *   that first boot may take that long (the kubelet does not probe readiness before the start,
 *   and may only declare it started at the end of that window); the event proves the probe runs
 *   and fails rather than the kubelet lagging. The message quotes the newest probe failure.
 *   Disabled with `readinessProbes: false`.
 * - NotReady (fallback, e.g. no readinessProbe: Ready then follows Running): a started container
 *   that stays unready longer than `readyGraceMs` (default 120 s) — disabled with 0 — and never
 *   before the windows above. Containers still in their startup probe (`started: false`) are
 *   never judged, so an API whose first boot takes minutes is waited for up to the deadline.
 * - Deployment-level: Progressing=False/ProgressDeadlineExceeded; ReplicaFailure=True (FailedCreate:
 *   quota, admission).
 *
 * Times: pod timestamps come from the cluster's clock; `now` should be the same clock's reading.
 */
import type { Condition, ContainerStatus, Deployment, KEvent, Pod } from './types.js';

export type FailureReason =
  | 'ErrImagePull'
  | 'ImagePullBackOff'
  | 'InvalidImageName'
  | 'ErrImageNeverPull'
  | 'CreateContainerConfigError'
  | 'CreateContainerError'
  | 'RunContainerError'
  | 'OOMKilled'
  | 'CrashLoopBackOff'
  | 'Unschedulable'
  | 'NotReady'
  /** Running, never Ready, readiness probe failing beyond what its spec allows. */
  | 'ReadinessProbeFailed'
  | 'FailedCreate'
  | 'ProgressDeadlineExceeded'
  /** gantry's own overall timeout ran out first. */
  | 'Timeout'
  /** The deployment disappeared while being rolled out. */
  | 'Deleted'
  /** The migration Job failed before any Deployment changed. */
  | 'MigrationFailed'
  /** A patch could not be applied (the deploy stopped and restored). */
  | 'PatchFailed';

export interface PodFailure {
  reason: FailureReason;
  /** The container at fault; undefined for pod- or deployment-level causes. */
  container?: string;
  /** What happened, in the kubelet's or controller's words plus what we inferred. */
  message: string;
  restarts?: number;
  exitCode?: number;
}

export interface ClassifyOptions {
  minRestarts?: number;
  unschedulableGraceMs?: number;
  readyGraceMs?: number;
  /** The ReadinessProbeFailed rule (default true). */
  readinessProbes?: boolean;
}

const IMMEDIATE_WAITING = new Set<FailureReason>([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

/** Events about this pod, newest first. */
export function eventsFor(pod: Pod, events: readonly KEvent[]): KEvent[] {
  const uid = pod.metadata.uid;
  const name = pod.metadata.name;
  return events
    .filter((e) => {
      const o = e.involvedObject;
      if (!o || (o.kind !== undefined && o.kind !== 'Pod')) return false;
      return uid && o.uid ? o.uid === uid : o.name === name;
    })
    .sort((a, b) => eventTime(b) - eventTime(a));
}

export function eventTime(e: KEvent): number {
  const t = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp;
  return t ? Date.parse(t) : 0;
}

function latestWarning(
  events: readonly KEvent[],
  reasons: readonly string[],
  container?: string,
): string | undefined {
  const hit = events.find(
    (e) =>
      e.type === 'Warning' &&
      reasons.includes(e.reason ?? '') &&
      (container === undefined ||
        e.involvedObject?.fieldPath === undefined ||
        e.involvedObject.fieldPath.includes(`{${container}}`)),
  );
  return hit?.message;
}

function describeTermination(t: NonNullable<ContainerStatus['lastState']>['terminated']): string {
  if (!t) return '';
  const parts = [`${t.reason ?? 'terminated'} (exit code ${t.exitCode ?? '?'})`];
  if (t.message) parts.push(t.message.trim());
  return parts.join(': ');
}

function classifyContainer(
  cs: ContainerStatus,
  podEvents: readonly KEvent[],
  minRestarts: number,
): PodFailure | undefined {
  const restarts = cs.restartCount ?? 0;
  const waiting = cs.state?.waiting;
  const waitingReason = waiting?.reason as FailureReason | undefined;
  if (waitingReason && IMMEDIATE_WAITING.has(waitingReason)) {
    const detail =
      waiting?.message ??
      latestWarning(podEvents, ['Failed', 'FailedCreatePodSandBox', 'InspectFailed'], cs.name) ??
      '';
    return { reason: waitingReason, container: cs.name, message: detail || waitingReason, restarts };
  }
  const current = cs.state?.terminated;
  const last = cs.lastState?.terminated;
  if (current?.reason === 'OOMKilled' || last?.reason === 'OOMKilled') {
    const t = current?.reason === 'OOMKilled' ? current : last;
    return {
      reason: 'OOMKilled',
      container: cs.name,
      message: `container was killed for exceeding its memory limit: ${describeTermination(t)}`,
      restarts,
      ...(t?.exitCode !== undefined ? { exitCode: t.exitCode } : {}),
    };
  }
  // failed runs so far: every restart followed a termination, and a container backing off or
  // lying terminated right now has one more that restartCount does not count yet
  const failedNow =
    waitingReason === 'CrashLoopBackOff' || (current !== undefined && (current.exitCode ?? 0) !== 0);
  const crashedBefore = (last?.exitCode ?? 0) !== 0 || waitingReason === 'CrashLoopBackOff';
  const crashes = restarts + (failedNow ? 1 : 0);
  if ((failedNow || crashedBefore) && crashes >= minRestarts) {
    const t = current ?? last;
    const parts = [`crashed ${crashes} times (${restarts} restart${restarts === 1 ? '' : 's'})`];
    if (t) parts.push(`last exit: ${describeTermination(t)}`);
    if (waiting?.message) parts.push(waiting.message);
    return {
      reason: 'CrashLoopBackOff',
      container: cs.name,
      message: parts.join('; '),
      restarts,
      ...(t?.exitCode !== undefined ? { exitCode: t.exitCode } : {}),
    };
  }
  return undefined;
}

/** A probe's timing with the Kubernetes API defaults; undefined when the container has none. */
export interface ProbeTiming {
  initialDelaySeconds: number;
  periodSeconds: number;
  failureThreshold: number;
}

export function probeTiming(probe: unknown): ProbeTiming | undefined {
  if (!probe || typeof probe !== 'object') return undefined;
  const p = probe as Record<string, unknown>;
  const num = (v: unknown, d: number, min: number): number =>
    typeof v === 'number' && Number.isFinite(v) && v >= min ? v : d;
  return {
    initialDelaySeconds: num(p.initialDelaySeconds, 0, 0),
    periodSeconds: num(p.periodSeconds, 10, 1),
    failureThreshold: num(p.failureThreshold, 3, 1),
  };
}

/** initialDelaySeconds + failureThreshold × periodSeconds, in ms. */
export function probeWindowMs(t: ProbeTiming): number {
  return (t.initialDelaySeconds + t.failureThreshold * t.periodSeconds) * 1000;
}

export interface ReadinessWindow {
  /** The container's readiness probe, when it has one. */
  readiness?: ProbeTiming;
  startup?: ProbeTiming;
  /** ms after the container started before a missing Ready may count against it. */
  notBeforeMs: number;
}

/** What the pod spec's probes allow container `name` before its unreadiness counts. */
export function readinessWindow(pod: Pod, name: string): ReadinessWindow {
  const spec = pod.spec?.containers.find((c) => c.name === name);
  const readiness = probeTiming(spec?.readinessProbe);
  const startup = probeTiming(spec?.startupProbe);
  const startupMs = startup ? probeWindowMs(startup) : 0;
  const notBeforeMs = readiness
    ? Math.max(startupMs, readiness.initialDelaySeconds * 1000) +
      readiness.failureThreshold * readiness.periodSeconds * 1000
    : startupMs;
  return { ...(readiness ? { readiness } : {}), ...(startup ? { startup } : {}), notBeforeMs };
}

/** Running, started, not Ready: the containers whose readiness is in question, with their start. */
function unreadyContainers(pod: Pod): { cs: ContainerStatus; startedAt: number }[] {
  const out: { cs: ContainerStatus; startedAt: number }[] = [];
  for (const cs of pod.status?.containerStatuses ?? []) {
    const startedAt = cs.state?.running?.startedAt;
    if (!startedAt || cs.ready || cs.started === false) continue;
    out.push({ cs, startedAt: Date.parse(startedAt) });
  }
  return out;
}

/**
 * Whether a container of this pod is past its readiness window and unready, so that its events
 * decide ReadinessProbeFailed (the wait fetches them only then).
 */
export function readinessEventsWanted(pod: Pod, now: number, options: ClassifyOptions = {}): boolean {
  if (options.readinessProbes === false || pod.metadata.deletionTimestamp) return false;
  return unreadyContainers(pod).some(({ cs, startedAt }) => {
    const w = readinessWindow(pod, cs.name);
    return w.readiness !== undefined && now - startedAt >= w.notBeforeMs;
  });
}

const READINESS_FAILED = 'Readiness probe failed';

function readinessFailures(
  podEvents: readonly KEvent[],
  container: string,
  since: number,
): { latest: KEvent; count: number } | undefined {
  const hits = podEvents.filter(
    (e) =>
      e.type === 'Warning' &&
      e.reason === 'Unhealthy' &&
      (e.message ?? '').startsWith(READINESS_FAILED) &&
      (e.involvedObject?.fieldPath === undefined || e.involvedObject.fieldPath.includes(`{${container}}`)) &&
      eventTime(e) >= since,
  );
  if (hits.length === 0) return undefined;
  return { latest: hits[0]!, count: hits.reduce((n, e) => n + (e.count ?? 1), 0) };
}

function describeProbe(w: ReadinessWindow): string {
  const r = w.readiness!;
  const parts = [
    `readiness probe: initialDelaySeconds ${r.initialDelaySeconds}, periodSeconds ${r.periodSeconds}, failureThreshold ${r.failureThreshold}`,
  ];
  if (w.startup) parts.push(`after a startup window of ${probeWindowMs(w.startup) / 1000}s`);
  return parts.join(', ');
}

function condition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * Whether this pod shows a failure that waiting will not heal. `events` may be all recent events
 * in the namespace; only the pod's own are used.
 */
export function classifyPodFailure(
  pod: Pod,
  events: readonly KEvent[],
  now: number,
  options: ClassifyOptions = {},
): PodFailure | undefined {
  const minRestarts = options.minRestarts ?? 2;
  const unschedulableGrace = options.unschedulableGraceMs ?? 30_000;
  const readyGrace = options.readyGraceMs ?? 120_000;
  if (pod.metadata.deletionTimestamp) return undefined; // an old pod on its way out
  const podEvents = eventsFor(pod, events);
  for (const cs of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const failure = classifyContainer(cs, podEvents, minRestarts);
    if (failure) return failure;
  }
  const scheduled = condition(pod.status?.conditions, 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    const since = scheduled.lastTransitionTime ? Date.parse(scheduled.lastTransitionTime) : now;
    if (now - since >= unschedulableGrace) {
      return {
        reason: 'Unschedulable',
        message:
          scheduled.message ?? latestWarning(podEvents, ['FailedScheduling']) ?? 'no node can run this pod',
      };
    }
  }
  const unready = unreadyContainers(pod);
  if (options.readinessProbes !== false) {
    for (const { cs, startedAt } of unready) {
      const w = readinessWindow(pod, cs.name);
      if (!w.readiness || now - startedAt < w.notBeforeMs) continue;
      const failed = readinessFailures(podEvents, cs.name, startedAt);
      if (!failed) continue;
      return {
        reason: 'ReadinessProbeFailed',
        container: cs.name,
        message: `running for ${Math.round((now - startedAt) / 1000)}s without becoming ready (${describeProbe(w)}; allowed ${w.notBeforeMs / 1000}s): ${failed.latest.message ?? READINESS_FAILED}${failed.count > 1 ? ` (x${failed.count})` : ''}`,
        restarts: cs.restartCount ?? 0,
      };
    }
  }
  if (readyGrace > 0) {
    for (const { cs, startedAt: since } of unready) {
      if (now - since >= Math.max(readyGrace, readinessWindow(pod, cs.name).notBeforeMs)) {
        const probe = latestWarning(podEvents, ['Unhealthy'], cs.name);
        return {
          reason: 'NotReady',
          container: cs.name,
          message: `running for ${Math.round((now - since) / 1000)}s without becoming ready${probe ? `: ${probe}` : ''}`,
          restarts: cs.restartCount ?? 0,
        };
      }
    }
  }
  return undefined;
}

/** Deployment-level causes: the progress deadline, and pods the ReplicaSet could not create. */
export function classifyDeploymentFailure(deployment: Deployment): PodFailure | undefined {
  const conditions = deployment.status?.conditions;
  const failure = condition(conditions, 'ReplicaFailure');
  if (failure?.status === 'True') {
    return {
      reason: 'FailedCreate',
      message: failure.message ?? failure.reason ?? 'pods could not be created',
    };
  }
  const progressing = condition(conditions, 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return {
      reason: 'ProgressDeadlineExceeded',
      message: progressing.message ?? `deployment exceeded its progress deadline`,
    };
  }
  return undefined;
}
