/**
 * The deploy lock: a coordination.k8s.io/v1 Lease `gantry-deploy-lock` per namespace, so two
 * pipelines never deploy into one namespace at once. The holder renews it while working; a holder
 * that died (SIGKILL, lost runner) stops renewing and the Lease expires after
 * `leaseDurationSeconds`. Taking and releasing go through resourceVersion-guarded updates, so two
 * contenders can never both win. `decideLock` is the pure decision; `acquireDeployLock` the I/O.
 */
import { systemClock, type Clock } from '../core/clock.js';
import { formatDuration } from '../core/durations.js';
import { GantryError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import { KubeApiError, resourcePath, retryKube, type KubeClient } from './client.js';
import type { Lease } from './types.js';

export const LOCK_LEASE = 'gantry-deploy-lock';
export const LOCK_ANNOTATIONS = { runUrl: 'gantry.dev/run-url', description: 'gantry.dev/holder' } as const;

export type LockDecision =
  | { action: 'create' }
  | { action: 'take'; why: 'free' | 'expired' | 'ours' }
  | {
      action: 'wait';
      holder: string;
      description?: string;
      runUrl?: string;
      since?: string;
      expiresInMs: number;
    };

/** Lease times are RFC 3339 with microseconds (metav1.MicroTime). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Pure: what to do about the lock given the Lease as read (undefined = none yet). */
export function decideLock(lease: Lease | undefined, me: string, now: number): LockDecision {
  if (!lease) return { action: 'create' };
  const holder = lease.spec?.holderIdentity;
  if (!holder) return { action: 'take', why: 'free' };
  if (holder === me) return { action: 'take', why: 'ours' };
  const renewed = Date.parse(lease.spec?.renewTime ?? lease.spec?.acquireTime ?? '') || 0;
  const expiresAt = renewed + (lease.spec?.leaseDurationSeconds ?? 60) * 1000;
  if (now >= expiresAt) return { action: 'take', why: 'expired' };
  const ann = lease.metadata.annotations ?? {};
  return {
    action: 'wait',
    holder,
    ...(ann[LOCK_ANNOTATIONS.description] ? { description: ann[LOCK_ANNOTATIONS.description] } : {}),
    ...(ann[LOCK_ANNOTATIONS.runUrl] ? { runUrl: ann[LOCK_ANNOTATIONS.runUrl] } : {}),
    ...(lease.spec?.acquireTime ? { since: lease.spec.acquireTime } : {}),
    expiresInMs: expiresAt - now,
  };
}

export function describeHolder(d: Extract<LockDecision, { action: 'wait' }>): string {
  const who = d.description ? `${d.holder} (${d.description})` : d.holder;
  return `${who}${d.runUrl ? `, run ${d.runUrl}` : ''}${d.since ? `, since ${d.since}` : ''}`;
}

export interface LockOptions {
  client: KubeClient;
  namespace: string;
  /** Unique per run: host/pid/run id. */
  identity: string;
  description?: string;
  runUrl?: string;
  /** How long to wait for a held lock (default 10 min). */
  waitMs?: number;
  leaseDurationSeconds?: number;
  signal?: AbortSignal;
  logger?: Logger;
  clock?: Clock;
  /** Poll interval while waiting (default 1 s). */
  pollMs?: number;
}

export interface DeployLock {
  readonly namespace: string;
  readonly identity: string;
  /** Time spent waiting for another holder, ms. */
  readonly waitedMs: number;
  /** Gives the lock up (idempotent, never throws: a failed release only expires later). */
  release(): Promise<void>;
}

function leaseBody(o: LockOptions, now: number, base?: Lease): Lease {
  const duration = o.leaseDurationSeconds ?? 60;
  const annotations = { ...(base?.metadata.annotations ?? {}) };
  if (o.description) annotations[LOCK_ANNOTATIONS.description] = o.description;
  else delete annotations[LOCK_ANNOTATIONS.description];
  if (o.runUrl) annotations[LOCK_ANNOTATIONS.runUrl] = o.runUrl;
  else delete annotations[LOCK_ANNOTATIONS.runUrl];
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      ...(base?.metadata ?? {}),
      name: LOCK_LEASE,
      namespace: o.namespace,
      labels: { ...(base?.metadata.labels ?? {}), 'app.kubernetes.io/managed-by': 'gantry' },
      annotations,
    },
    spec: {
      holderIdentity: o.identity,
      leaseDurationSeconds: duration,
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions:
        (base?.spec?.leaseTransitions ?? 0) +
        (base?.spec?.holderIdentity && base.spec.holderIdentity !== o.identity ? 1 : 0),
    },
  };
}

const transient = (e: unknown): boolean =>
  e instanceof KubeApiError
    ? e.status === 429 || e.status >= 500
    : e instanceof GantryError && (e as { netCode?: string }).netCode !== undefined;

/** Takes the namespace's deploy lock, waiting (and saying for whom) while another run holds it. */
export async function acquireDeployLock(o: LockOptions): Promise<DeployLock> {
  const clock = o.clock ?? systemClock;
  const path = resourcePath('leases', o.namespace, LOCK_LEASE);
  const started = clock.now();
  const waitMs = o.waitMs ?? 600_000;
  let lastHolder: string | undefined;
  for (;;) {
    if (o.signal?.aborted)
      throw new GantryError('cancelled', 'cancelled while waiting for the deploy lock', {
        cause: o.signal.reason,
      });
    let lease: Lease | undefined;
    try {
      lease = await retryKube(
        () => o.client.request<Lease>({ path, ...(o.signal ? { signal: o.signal } : {}) }),
        {
          what: `read lease ${o.namespace}/${LOCK_LEASE}`,
          ...(o.signal ? { signal: o.signal } : {}),
          retryable: (e) => transient(e),
        },
      );
    } catch (e) {
      if (!(e instanceof KubeApiError && e.status === 404)) throw e;
    }
    const now = clock.now();
    const decision = decideLock(lease, o.identity, now);
    try {
      if (decision.action === 'create') {
        await o.client.request({
          method: 'POST',
          path: resourcePath('leases', o.namespace),
          body: leaseBody(o, now),
        });
        break;
      }
      if (decision.action === 'take') {
        if (decision.why === 'expired')
          o.logger?.warning(
            `deploy lock: taking over the expired lease of ${lease?.spec?.holderIdentity ?? '?'}`,
          );
        await o.client.request({ method: 'PUT', path, body: leaseBody(o, now, lease) });
        break;
      }
    } catch (e) {
      // someone else created or took it between our read and write: read again
      if (e instanceof KubeApiError && (e.conflict || e.status === 409)) continue;
      if (transient(e)) {
        await clock.sleep(500, o.signal);
        continue;
      }
      throw e;
    }
    if (decision.action !== 'wait') continue;
    const waited = now - started;
    const holder = describeHolder(decision);
    if (waited >= waitMs) {
      throw new GantryError(
        'timeout',
        `the deploy lock of namespace "${o.namespace}" is still held by ${holder} after waiting ${formatDuration(waited)}`,
        {
          hint: `wait for that run to finish, or raise "lock-timeout"; a crashed holder's lease expires ${formatDuration(decision.expiresInMs)} after its last renewal`,
        },
      );
    }
    if (holder !== lastHolder) {
      o.logger?.info(`deploy lock held by ${holder}; waiting (up to ${formatDuration(waitMs)})`);
      lastHolder = holder;
    } else o.logger?.progress(`waiting for the deploy lock held by ${holder} (${formatDuration(waited)})`);
    const jitter = Math.round(Math.random() * 200);
    await clock
      .sleep(Math.min((o.pollMs ?? 1_000) + jitter, Math.max(50, decision.expiresInMs)), o.signal)
      .catch((e: unknown) => {
        throw new GantryError('cancelled', 'cancelled while waiting for the deploy lock', { cause: e });
      });
  }
  const waitedMs = clock.now() - started;
  o.logger?.info(
    `deploy lock ${o.namespace}/${LOCK_LEASE} taken${waitedMs > 1000 ? ` after waiting ${formatDuration(waitedMs)}` : ''}`,
  );
  return holdLock(o, clock, waitedMs);
}

function holdLock(o: LockOptions, clock: Clock, waitedMs: number): DeployLock {
  const path = resourcePath('leases', o.namespace, LOCK_LEASE);
  const duration = o.leaseDurationSeconds ?? 60;
  let released = false;
  const renew = async (): Promise<void> => {
    try {
      const lease = await o.client.request<Lease>({ path });
      if (lease.spec?.holderIdentity !== o.identity) {
        o.logger?.warning(`deploy lock: lost the lease to ${lease.spec?.holderIdentity ?? 'nobody'}`);
        return;
      }
      await o.client.request({
        method: 'PUT',
        path,
        body: { ...lease, spec: { ...lease.spec, renewTime: microTime(clock.now()) } },
      });
    } catch (e) {
      o.logger?.debug(
        `deploy lock: renewal failed (${errorMessage(e)}); next try in ${Math.round(duration / 3)}s`,
      );
    }
  };
  const timer = setInterval(() => void renew(), (duration * 1000) / 3);
  timer.unref();
  return {
    namespace: o.namespace,
    identity: o.identity,
    waitedMs,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      try {
        await retryKube(
          async () => {
            const lease = await o.client.request<Lease>({ path });
            if (lease.spec?.holderIdentity !== o.identity) return;
            await o.client.request({
              method: 'PUT',
              path,
              body: {
                ...lease,
                spec: { ...lease.spec, holderIdentity: null, acquireTime: null, renewTime: null },
              },
            });
          },
          {
            what: `release lease ${o.namespace}/${LOCK_LEASE}`,
            maxAttempts: 6,
            retryable: (e) => (e instanceof KubeApiError && e.conflict) || transient(e),
          },
        );
        o.logger?.debug(`deploy lock ${o.namespace}/${LOCK_LEASE} released`);
      } catch (e) {
        o.logger?.warning(`deploy lock: could not release (${errorMessage(e)}); it expires in ${duration}s`);
      }
    },
  };
}
