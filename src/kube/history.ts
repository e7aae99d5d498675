/**
 * Deploy history: one ConfigMap per namespace, `gantry-deploy-history`, appended to by every
 * deploy run (dry runs excepted) and read by the rollback action to choose a known-good state.
 *
 * Schema (version 1) — the contract with rollback:
 *
 *   ConfigMap gantry-deploy-history, labels { app.kubernetes.io/managed-by: gantry }
 *   data:
 *     schema:  "1"
 *     records: JSON array of HistoryRecord, oldest first, at most `limit` (default 50) entries and
 *              ~512 KiB (oldest dropped first; ConfigMaps are capped at 1 MiB)
 *
 *   HistoryRecord {
 *     id:          run id (unique per run; also the Deployment annotation gantry.dev/run-id)
 *     startedAt, finishedAt: ISO-8601; durationMs
 *     result:      'succeeded' | 'failed' | 'rolled-back'
 *                    succeeded   every Deployment rolled out (or already was at its target)
 *                    rolled-back a Deployment failed (or the run was cancelled) and every changed
 *                                Deployment was restored to its previous template and is healthy
 *                    failed      a failure left at least one Deployment changed (atomic off, or
 *                                the restore itself failed)
 *     cancelled?:  true when the run was stopped by SIGTERM/SIGINT
 *     commit?, runUrl?, actor?, changeCause
 *     deployments: [{
 *       name, changed (false: already at the target digests, left alone),
 *       result:    'succeeded' | 'unchanged' | 'failed' | 'rolled-back' | 'not-started'
 *       revisionBefore?, revisionAfter?  (deployment.kubernetes.io/revision)
 *       images:    [{ container, init, before, after }]  (after = the digest-pinned image set)
 *       readyMs?:  patch → rollout complete
 *     }]
 *     failure?: { deployment, pod?, container?, reason, message }
 *     kind?:        'deploy' (absent = deploy) | 'rollback'
 *     reason?:      why (rollback records: the operator's or the pipeline's reason)
 *     target?:      rollback records: the `to` asked for (previous, revision:3, sha:…, last-good, image:…)
 *     rollbackOf?:  rollback records: ids of the deploy records it reverted
 *     rolledBackBy?: deploy records: id of the rollback record that reverted it (its reverted
 *                  deployments then carry result 'rolled-back'; the run result too once all are)
 *   }
 *
 * "Last good" for a Deployment = the newest record with result 'succeeded' listing it; its
 * `images[].after` are exact (digest-pinned) and can be re-applied.
 */
import { GantryError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import { KubeApiError, resourcePath, retryKube, type KubeClient } from './client.js';
import type { ConfigMap } from './types.js';

export const HISTORY_CONFIGMAP = 'gantry-deploy-history';
export const HISTORY_SCHEMA = '1';
export const HISTORY_LIMIT = 50;
const HISTORY_MAX_BYTES = 512 * 1024;

export type RunResult = 'succeeded' | 'failed' | 'rolled-back';
export type DeploymentResult = 'succeeded' | 'unchanged' | 'failed' | 'rolled-back' | 'not-started';

export interface HistoryImage {
  container: string;
  init: boolean;
  before: string;
  after: string;
}

export interface HistoryDeployment {
  name: string;
  changed: boolean;
  result: DeploymentResult;
  revisionBefore?: string;
  revisionAfter?: string;
  images: HistoryImage[];
  readyMs?: number;
}

export interface HistoryRecord {
  id: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  result: RunResult;
  cancelled?: boolean;
  commit?: string;
  runUrl?: string;
  actor?: string;
  changeCause: string;
  deployments: HistoryDeployment[];
  failure?: { deployment: string; pod?: string; container?: string; reason: string; message: string };
  /** Absent = 'deploy'. */
  kind?: 'deploy' | 'rollback';
  reason?: string;
  /** Rollback records: the `to` that was asked for. */
  target?: string;
  /** Rollback records: ids of the deploy records reverted. */
  rollbackOf?: string[];
  /** Deploy records: the rollback record that reverted (some of) its deployments. */
  rolledBackBy?: string;
}

/** Which deployments of which deploy record a rollback reverted. */
/** What deploy and rollback reports share about one Deployment, as the history stores it. */
export interface ReportedDeployment {
  name: string;
  result: DeploymentResult | 'planned';
  revisionBefore?: string;
  revisionAfter?: string;
  images: readonly HistoryImage[];
  readyMs?: number;
}

/** A report's Deployment as a history entry ('planned' — never started — is 'not-started'). */
export function historyDeployment(d: ReportedDeployment, changed: boolean): HistoryDeployment {
  return {
    name: d.name,
    changed,
    result: d.result === 'planned' ? 'not-started' : d.result,
    ...(d.revisionBefore !== undefined ? { revisionBefore: d.revisionBefore } : {}),
    ...(d.revisionAfter !== undefined ? { revisionAfter: d.revisionAfter } : {}),
    images: d.images.map((i) => ({ container: i.container, init: i.init, before: i.before, after: i.after })),
    ...(d.readyMs !== undefined ? { readyMs: d.readyMs } : {}),
  };
}

/** The part of a report's failure the history keeps (no logs or events: the ConfigMap is bounded). */
export function historyFailure(
  f: HistoryRecord['failure'] | undefined,
): Pick<HistoryRecord, 'failure'> | Record<string, never> {
  if (!f) return {};
  return {
    failure: {
      deployment: f.deployment,
      ...(f.pod ? { pod: f.pod } : {}),
      ...(f.container ? { container: f.container } : {}),
      reason: f.reason,
      message: f.message,
    },
  };
}

export interface RolledBackMark {
  id: string;
  deployments: string[];
}

/**
 * Pure: the records with the given deployments of the given deploy records marked 'rolled-back'
 * (so "last good" never picks them); a record whose changed deployments are all rolled back gets
 * the run result 'rolled-back' too.
 */
export function markRolledBack(
  records: readonly HistoryRecord[],
  marks: readonly RolledBackMark[],
  by: string,
): HistoryRecord[] {
  return records.map((r) => {
    const mark = marks.find((m) => m.id === r.id);
    if (!mark) return r;
    const deployments = r.deployments.map((d) =>
      mark.deployments.includes(d.name) && d.changed ? { ...d, result: 'rolled-back' as const } : d,
    );
    const all = deployments.filter((d) => d.changed).every((d) => d.result === 'rolled-back');
    return { ...r, deployments, rolledBackBy: by, ...(all ? { result: 'rolled-back' as const } : {}) };
  });
}

/** Parses the records of a history ConfigMap; a damaged one yields [] rather than blocking deploys. */
export function readHistory(cm: ConfigMap | undefined): HistoryRecord[] {
  const text = cm?.data?.records;
  if (!text) return [];
  try {
    const parsed = JSON.parse(text) as unknown;
    return Array.isArray(parsed) ? (parsed as HistoryRecord[]) : [];
  } catch {
    return [];
  }
}

/** Pure: the ConfigMap data with `record` appended and the oldest dropped beyond the bounds. */
export function appendHistory(
  existing: readonly HistoryRecord[],
  record: HistoryRecord,
  limit = HISTORY_LIMIT,
): { schema: string; records: string } {
  const records = [...existing.filter((r) => r.id !== record.id), record].slice(-limit);
  let text = JSON.stringify(records);
  while (records.length > 1 && Buffer.byteLength(text) > HISTORY_MAX_BYTES) {
    records.shift();
    text = JSON.stringify(records);
  }
  return { schema: HISTORY_SCHEMA, records: text };
}

/** The newest succeeded record that deployed `deployment`, for "last good" rollbacks. */
export function lastGood(records: readonly HistoryRecord[], deployment: string): HistoryRecord | undefined {
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i];
    if (
      r?.result === 'succeeded' &&
      r.deployments.some(
        (d) => d.name === deployment && d.result !== 'not-started' && d.result !== 'rolled-back',
      )
    )
      return r;
  }
  return undefined;
}

/**
 * Appends a record to the namespace's history ConfigMap (created on first use), with optimistic
 * concurrency: a 409 re-reads and re-appends, so two runs never lose each other's record.
 */
export async function recordHistory(
  client: KubeClient,
  namespace: string,
  record: HistoryRecord,
  options: {
    limit?: number;
    logger?: Logger;
    signal?: AbortSignal;
    markRolledBack?: readonly RolledBackMark[];
  } = {},
): Promise<void> {
  const path = resourcePath('configmaps', namespace, HISTORY_CONFIGMAP);
  await retryKube(
    async () => {
      let cm: ConfigMap | undefined;
      try {
        cm = await client.request<ConfigMap>({ path });
      } catch (e) {
        if (!(e instanceof KubeApiError && e.status === 404)) throw e;
      }
      const existing = readHistory(cm);
      const marked = options.markRolledBack?.length
        ? markRolledBack(existing, options.markRolledBack, record.id)
        : existing;
      const data = appendHistory(marked, record, options.limit);
      if (!cm) {
        await client.request({
          method: 'POST',
          path: resourcePath('configmaps', namespace),
          body: {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: {
              name: HISTORY_CONFIGMAP,
              namespace,
              labels: { 'app.kubernetes.io/managed-by': 'gantry' },
            },
            data,
          },
        });
        return;
      }
      await client.request({
        method: 'PUT',
        path,
        body: { ...cm, data: { ...cm.data, ...data } },
      });
    },
    {
      what: `record deploy history in configmap ${namespace}/${HISTORY_CONFIGMAP}`,
      maxAttempts: 8,
      retryable: (e) =>
        (e instanceof KubeApiError && e.conflict) ||
        (e instanceof KubeApiError && (e.status === 429 || e.status >= 500)) ||
        (e instanceof GantryError && (e as { netCode?: string }).netCode !== undefined),
      ...(options.signal ? { signal: options.signal } : {}),
      onRetry: ({ error }) => options.logger?.debug(`history: retrying (${errorMessage(error)})`),
    },
  );
}

/** Reads a namespace's history (for rollback and `gantry rollout-status --history`). */
export async function fetchHistory(client: KubeClient, namespace: string): Promise<HistoryRecord[]> {
  try {
    return readHistory(
      await client.request<ConfigMap>({ path: resourcePath('configmaps', namespace, HISTORY_CONFIGMAP) }),
    );
  } catch (e) {
    if (e instanceof KubeApiError && e.status === 404) return [];
    throw e;
  }
}
