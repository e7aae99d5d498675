/**
 * Waiting for rollouts: one namespace-wide watch of Deployments and one of pods serve every
 * Deployment of a deploy (so 30 Deployments cost two watches, not sixty). Success is kubectl's
 * (`rolloutStatus`); failure comes first from the new pods (`classifyPodFailure`) — the moment a
 * pod of the new template shows a cause that waiting will not heal — then from the Deployment's
 * conditions. The first failure ends the wait for all (fail fast); the caller restores.
 *
 * Never-ready pods are judged by their readiness probe's failures (ReadinessProbeFailed), which
 * only events carry: once a new pod is past its probe window and still unready, its events are
 * fetched (at most once a second per pod) and the pod classified again with them.
 *
 * New pods are recognised by their images: every container image equals the template being
 * rolled out. Images are digest-pinned, so this is exact without computing pod-template-hash.
 */
import { setMaxListeners } from 'node:events';
import { systemClock, type Clock } from '../core/clock.js';
import { formatDuration } from '../core/durations.js';
import { GantryError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import { resourcePath, type KubeClient } from './client.js';
import { runInformer } from './informer.js';
import {
  classifyDeploymentFailure,
  classifyPodFailure,
  eventTime,
  readinessEventsWanted,
  type ClassifyOptions,
  type PodFailure,
} from './pod-failure.js';
import { rolloutStatus } from './rollout-status.js';
import { matchesSelector } from './selectors.js';
import type { Deployment, KEvent, KList, Pod } from './types.js';

export interface RolloutTarget {
  name: string;
  /** metadata.generation written by our change; status for older generations is ignored. */
  generation: number;
  /** container → image of the template being rolled out (app and init containers). */
  images: Record<string, string>;
  /** Clock time the change was applied. */
  startedAt: number;
}

/** Why a rollout failed, with what the on-call engineer needs to act. */
export interface FailureCause extends PodFailure {
  deployment: string;
  pod?: string;
  /** The last log lines of the failing container (previous instance for a restarted one). */
  logs: string[];
  /** Recent events of the pod (or deployment), oldest first: `Warning Failed: …`. */
  events: string[];
}

export type RolloutState = 'succeeded' | 'failed' | 'timeout' | 'cancelled' | 'pending';

export interface RolloutResult {
  name: string;
  state: RolloutState;
  /** kubectl's last status line for it. */
  message: string;
  readyMs?: number;
  failure?: FailureCause;
}

export interface Evaluation {
  state: 'done' | 'waiting' | 'failed';
  message: string;
  failure?: PodFailure & { pod?: string };
  /** Pods past their readiness window whose events would decide ReadinessProbeFailed. */
  wantEvents?: string[];
}

/** The pods of `target`'s template among `pods` (matching the Deployment's selector and images). */
export function podsOfTemplate(
  deployment: Deployment,
  images: Readonly<Record<string, string>>,
  pods: Iterable<Pod>,
): Pod[] {
  const out: Pod[] = [];
  for (const pod of pods) {
    if (!matchesSelector(pod.metadata.labels, deployment.spec?.selector)) continue;
    const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    const match = Object.entries(images).every(
      ([name, image]) => all.find((c) => c.name === name)?.image === image,
    );
    if (match) out.push(pod);
  }
  return out.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
}

/** Pure: where one rollout stands, given the Deployment and the namespace's pods. */
export function evaluateRollout(
  target: RolloutTarget,
  deployment: Deployment | undefined,
  pods: Iterable<Pod>,
  now: number,
  options: ClassifyOptions = {},
  eventsOf: (pod: Pod) => readonly KEvent[] = () => [],
): Evaluation {
  if (!deployment) {
    return {
      state: 'failed',
      message: '',
      failure: { reason: 'Deleted', message: `deployment "${target.name}" was deleted during the rollout` },
    };
  }
  const fresh = (deployment.metadata.generation ?? 0) >= target.generation;
  const status = rolloutStatus(deployment);
  const wantEvents: string[] = [];
  for (const pod of podsOfTemplate(deployment, target.images, pods)) {
    const failure = classifyPodFailure(pod, eventsOf(pod), now, options);
    if (failure)
      return {
        state: 'failed',
        message: status.message,
        failure: { ...failure, pod: pod.metadata.name ?? '' },
      };
    if (readinessEventsWanted(pod, now, options)) wantEvents.push(pod.metadata.name ?? '');
  }
  const more = wantEvents.length > 0 ? { wantEvents } : {};
  if (fresh && (deployment.status?.observedGeneration ?? 0) >= target.generation) {
    const dep = classifyDeploymentFailure(deployment);
    if (dep) return { state: 'failed', message: status.error ?? status.message, failure: dep };
    if (status.done) return { state: 'done', message: status.message };
  }
  return { state: 'waiting', message: status.error ?? status.message, ...more };
}

export interface WaitOptions {
  client: KubeClient;
  namespace: string;
  targets: readonly RolloutTarget[];
  /** Overall deadline for all targets, from now. */
  timeoutMs: number;
  signal?: AbortSignal;
  clock?: Clock;
  logger?: Logger;
  classify?: ClassifyOptions;
  /** Log lines kept per failure (default 20). */
  logLines?: number;
  /** Label for progress lines, e.g. "rollout" or "restore". */
  phase?: string;
}

/**
 * Waits for every target; returns when all succeeded, one failed (the others `pending`), the
 * timeout ran out (`timeout`), or the signal aborted (`cancelled`). Throws only for errors that
 * make watching impossible (permissions, unreachable cluster after retries).
 */
export async function waitForRollouts(opts: WaitOptions): Promise<RolloutResult[]> {
  const clock = opts.clock ?? systemClock;
  const phase = opts.phase ?? 'rollout';
  const results = new Map<string, RolloutResult>(
    opts.targets.map((t) => [
      t.name,
      { name: t.name, state: 'pending', message: 'Waiting for deployment spec update to be observed...\n' },
    ]),
  );
  if (opts.targets.length === 0) return [];
  const inner = new AbortController();
  // two informers, their retries and per-request listeners share this signal
  setMaxListeners(100, inner.signal);
  const onOuterAbort = (): void => inner.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let deployments: ReadonlyMap<string, Deployment> | undefined;
  let pods: ReadonlyMap<string, Pod> | undefined;
  let settle!: (value: {
    kind: 'done' | 'failed' | 'timeout' | 'cancelled';
    failed?: { target: RolloutTarget; evaluation: Evaluation };
  }) => void;
  let fail!: (e: unknown) => void;
  const finished = new Promise<{
    kind: 'done' | 'failed' | 'timeout' | 'cancelled';
    failed?: { target: RolloutTarget; evaluation: Evaluation };
  }>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  let settled = false;
  // events of pods past their readiness window: pod name → events, when fetched, in flight
  const podEvents = new Map<string, { uid: string; events: KEvent[]; at: number; busy: boolean }>();
  const eventsOf = (pod: Pod): readonly KEvent[] => {
    const e = podEvents.get(pod.metadata.name ?? '');
    return e && e.uid === (pod.metadata.uid ?? '') ? e.events : [];
  };
  const fetchEvents = (name: string): void => {
    const pod = pods?.get(name);
    if (!pod) return;
    const uid = pod.metadata.uid ?? '';
    const known = podEvents.get(name);
    if (known?.busy || (known && known.uid === uid && clock.now() - known.at < 1_000)) return;
    const entry = { uid, events: known?.uid === uid ? known.events : [], at: clock.now(), busy: true };
    podEvents.set(name, entry);
    opts.client
      .request<KList<KEvent>>({
        path: resourcePath('events', opts.namespace),
        query: { fieldSelector: `involvedObject.name=${name}` },
        timeoutMs: 5_000,
        signal: inner.signal,
      })
      .then(
        (list) => {
          entry.events = (list.items ?? []).filter((e) => e.involvedObject?.name === name);
          entry.at = clock.now();
          schedule();
        },
        (e: unknown) => {
          if (!inner.signal.aborted) opts.logger?.debug(`events of pod ${name}: ${errorMessage(e)}`);
        },
      )
      .finally(() => {
        entry.busy = false;
      });
  };
  const evaluate = (): void => {
    if (settled || !deployments || !pods) return;
    const now = clock.now();
    let allDone = true;
    for (const t of opts.targets) {
      const r = results.get(t.name)!;
      if (r.state === 'succeeded') continue;
      const ev = evaluateRollout(t, deployments.get(t.name), pods.values(), now, opts.classify, eventsOf);
      r.message = ev.message;
      for (const name of ev.wantEvents ?? []) fetchEvents(name);
      if (ev.state === 'failed') {
        settled = true;
        settle({ kind: 'failed', failed: { target: t, evaluation: ev } });
        return;
      }
      if (ev.state === 'done') {
        r.state = 'succeeded';
        r.readyMs = Math.max(0, now - t.startedAt);
        opts.logger?.info(`${t.name}: successfully rolled out in ${formatDuration(r.readyMs)}`);
      } else allDone = false;
    }
    if (allDone) {
      settled = true;
      settle({ kind: 'done' });
      return;
    }
    const pending = [...results.values()].filter((r) => r.state !== 'succeeded');
    opts.logger?.progress(`${phase}: ${pending.map((r) => r.message.trim()).join(' | ')}`);
  };
  let scheduled = false;
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      evaluate();
    });
  };
  const informerError = (e: unknown): void => {
    if (inner.signal.aborted || settled) return;
    settled = true;
    fail(e);
  };
  runInformer<Deployment>({
    client: opts.client,
    path: resourcePath('deployments', opts.namespace),
    signal: inner.signal,
    clock,
    ...(opts.logger ? { logger: opts.logger } : {}),
    onChange: (items) => {
      deployments = items;
      schedule();
    },
  }).catch(informerError);
  runInformer<Pod>({
    client: opts.client,
    path: resourcePath('pods', opts.namespace),
    signal: inner.signal,
    clock,
    ...(opts.logger ? { logger: opts.logger } : {}),
    onChange: (items) => {
      pods = items;
      schedule();
    },
  }).catch(informerError);
  // time-based rules (grace periods) need re-evaluation even when nothing changes
  const ticker = setInterval(schedule, 1_000);
  const timer = setTimeout(
    () => {
      if (!settled) {
        settled = true;
        settle({ kind: 'timeout' });
      }
    },
    Math.max(0, opts.timeoutMs),
  );
  const onAbort = (): void => {
    if (!settled) {
      settled = true;
      settle({ kind: 'cancelled' });
    }
  };
  inner.signal.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  let outcome: Awaited<typeof finished>;
  try {
    outcome = await finished;
  } finally {
    clearInterval(ticker);
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onOuterAbort);
    inner.signal.removeEventListener('abort', onAbort);
    if (!inner.signal.aborted) inner.abort(new Error('wait finished'));
  }
  if (outcome.kind === 'failed' && outcome.failed) {
    const { target, evaluation } = outcome.failed;
    const r = results.get(target.name)!;
    r.state = 'failed';
    r.readyMs = undefined;
    const pod = evaluation.failure?.pod ? pods?.get(evaluation.failure.pod) : undefined;
    r.failure = await describeFailure({
      client: opts.client,
      namespace: opts.namespace,
      deployment: target.name,
      failure: evaluation.failure ?? { reason: 'Timeout', message: evaluation.message },
      pod,
      now: clock.now(),
      logLines: opts.logLines ?? 20,
      ...(opts.classify ? { classify: opts.classify } : {}),
    });
  } else if (outcome.kind === 'timeout' || outcome.kind === 'cancelled') {
    for (const t of opts.targets) {
      const r = results.get(t.name)!;
      if (r.state !== 'pending') continue;
      r.state = outcome.kind;
      if (outcome.kind === 'timeout') {
        const d = deployments?.get(t.name);
        const stuck =
          d && pods ? podsOfTemplate(d, t.images, pods.values()).find((p) => !isPodReady(p)) : undefined;
        r.failure = await describeFailure({
          client: opts.client,
          namespace: opts.namespace,
          deployment: t.name,
          failure: {
            reason: 'Timeout',
            message: `not complete after ${formatDuration(opts.timeoutMs)}: ${r.message.trim()}${stuck ? `; pod ${stuck.metadata.name ?? ''}: ${podStateSummary(stuck)}` : ''}`,
          },
          pod: stuck,
          now: clock.now(),
          logLines: opts.logLines ?? 20,
        });
      }
    }
  }
  return [...results.values()];
}

function isPodReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** One line on a pod: phase and each container's state. */
export function podStateSummary(pod: Pod): string {
  const parts = [pod.status?.phase ?? 'Pending'];
  for (const cs of pod.status?.containerStatuses ?? []) {
    const st = cs.state?.waiting
      ? `waiting (${cs.state.waiting.reason ?? ''})`
      : cs.state?.terminated
        ? `terminated (${cs.state.terminated.reason ?? ''}, exit ${cs.state.terminated.exitCode ?? '?'})`
        : cs.ready
          ? 'ready'
          : 'running, not ready';
    parts.push(`${cs.name} ${st}, ${cs.restartCount ?? 0} restarts`);
  }
  return parts.join('; ');
}

/** Formats events like `kubectl describe` lists them: `Warning  BackOff (x5)  message`. */
export function formatEvents(events: readonly KEvent[], limit = 10): string[] {
  return [...events]
    .sort((a, b) => eventTime(a) - eventTime(b))
    .slice(-limit)
    .map(
      (e) =>
        `${e.type ?? 'Normal'} ${e.reason ?? ''}${(e.count ?? 1) > 1 ? ` (x${e.count})` : ''}: ${e.message ?? ''}`,
    );
}

interface DescribeOptions {
  client: KubeClient;
  namespace: string;
  deployment: string;
  failure: PodFailure & { pod?: string };
  pod: Pod | undefined;
  now: number;
  logLines: number;
  classify?: ClassifyOptions;
}

/** Adds the pod's recent events and last log lines to a failure; best-effort, never throws. */
export async function describeFailure(o: DescribeOptions): Promise<FailureCause> {
  const podName = o.pod?.metadata.name ?? o.failure.pod;
  let failure: PodFailure = o.failure;
  let events: string[] = [];
  let logs: string[] = [];
  const involved = podName ?? o.deployment;
  try {
    const list = await o.client.request<KList<KEvent>>({
      path: resourcePath('events', o.namespace),
      query: { fieldSelector: `involvedObject.name=${involved}` },
      timeoutMs: 5_000,
    });
    const items = (list.items ?? []).filter((e) => e.involvedObject?.name === involved);
    events = formatEvents(items);
    // events carry the kubelet's detail (e.g. why a pull failed): classify again with them
    if (o.pod) failure = classifyPodFailure(o.pod, items, o.now, o.classify) ?? failure;
  } catch (e) {
    events = [`(events unavailable: ${errorMessage(e)})`];
  }
  if (podName && o.pod) {
    const container = failure.container ?? o.pod.spec?.containers[0]?.name;
    const cs = [
      ...(o.pod.status?.initContainerStatuses ?? []),
      ...(o.pod.status?.containerStatuses ?? []),
    ].find((c) => c.name === container);
    const previous = (cs?.restartCount ?? 0) > 0 && cs?.state?.terminated === undefined;
    logs = await podLogs(o.client, o.namespace, podName, container, o.logLines, previous);
  }
  return {
    ...failure,
    deployment: o.deployment,
    ...(podName ? { pod: podName } : {}),
    logs,
    events,
  };
}

/** The last `lines` log lines; the previous instance's for a restarted container (that is where the crash is). */
export async function podLogs(
  client: KubeClient,
  namespace: string,
  pod: string,
  container: string | undefined,
  lines: number,
  previous: boolean,
): Promise<string[]> {
  const get = (prev: boolean): Promise<string> =>
    client.requestText({
      path: `${resourcePath('pods', namespace, pod)}/log`,
      query: { ...(container ? { container } : {}), tailLines: lines, ...(prev ? { previous: true } : {}) },
      timeoutMs: 5_000,
    });
  try {
    let text: string;
    try {
      text = await get(previous);
    } catch (e) {
      if (!previous) throw e;
      text = await get(false);
    }
    // a container that exited and was not restarted: its lines are the current log on a real
    // kubelet; some report them as the previous instance's — take whichever has them
    if (!previous && text.trim() === '') text = await get(true).catch(() => '');
    return text
      .split(/\r?\n/)
      .filter((l, i, all) => l !== '' || i < all.length - 1)
      .slice(-lines);
  } catch (e) {
    return [`(logs unavailable: ${errorMessage(e)})`];
  }
}

export function isCancellation(e: unknown): boolean {
  return e instanceof GantryError && e.code === 'cancelled';
}
