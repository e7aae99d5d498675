/**
 * The Deployment controller's decisions as pure functions of (deployment, replica sets, now):
 * pod-template hashing, maxSurge/maxUnavailable fenceposts, how far to scale the new and old
 * ReplicaSets in a rolling update, the status and the Progressing/Available conditions.
 * Ported from k8s.io/kubernetes pkg/controller/deployment/{rolling.go,sync.go,progress.go} and
 * util/deployment_util.go, so kubectl sees the same sequence of states as on a real cluster.
 */
import { canonical } from './patch.js';
import type {
  Condition,
  Deployment,
  DeploymentStatus,
  IntOrString,
  PodTemplateSpec,
  ReplicaSet,
} from './types.js';

export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
export const HASH_LABEL = 'pod-template-hash';

/** Deployment annotations never copied to its ReplicaSets (annotationsToSkip in deployment_util.go). */
export const ANNOTATIONS_TO_SKIP = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION,
  REVISION_HISTORY,
  DESIRED_REPLICAS,
  MAX_REPLICAS,
  'deprecated.deployment.rollback.to',
]);

const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** FNV-1a 32 over the canonical template JSON, encoded like rand.SafeEncodeString(fmt.Sprint(hash)). */
export function podTemplateHash(template: PodTemplateSpec, collisionCount = 0): string {
  const text =
    JSON.stringify(canonical(templateWithoutHash(template))) + (collisionCount ? String(collisionCount) : '');
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  let out = '';
  for (const ch of String(h)) out += SAFE_ALPHABET[ch.charCodeAt(0) % SAFE_ALPHABET.length];
  return out;
}

export function templateWithoutHash(t: PodTemplateSpec): PodTemplateSpec {
  const copy = structuredClone(t);
  if (copy.metadata?.labels) {
    delete copy.metadata.labels[HASH_LABEL];
  }
  return copy;
}

/** EqualIgnoreHash: templates equal when the pod-template-hash label is ignored. */
export function equalIgnoreHash(a: PodTemplateSpec, b: PodTemplateSpec): boolean {
  const norm = (t: PodTemplateSpec): string => {
    const c = templateWithoutHash(t);
    if (c.metadata?.labels && Object.keys(c.metadata.labels).length === 0) delete c.metadata.labels;
    return JSON.stringify(canonical(c));
  };
  return norm(a) === norm(b);
}

export function revisionOf(o: { metadata: { annotations?: Record<string, string> } }): number {
  const v = Number.parseInt(o.metadata.annotations?.[REVISION] ?? '', 10);
  return Number.isFinite(v) ? v : 0;
}

/** intstr.GetScaledValueFromIntOrPercent. */
export function scaledValue(v: IntOrString | undefined, total: number, roundUp: boolean): number {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) return Number.parseInt(v, 10) || 0;
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

/** ResolveFenceposts: maxSurge rounds up, maxUnavailable down; both zero means unavailable 1. */
export function resolveFenceposts(d: Deployment): { maxSurge: number; maxUnavailable: number } {
  if (d.spec.strategy?.type === 'Recreate') return { maxSurge: 0, maxUnavailable: 0 };
  const replicas = d.spec.replicas ?? 1;
  const ru = d.spec.strategy?.rollingUpdate;
  const maxSurge = scaledValue(ru?.maxSurge ?? '25%', replicas, true);
  let maxUnavailable = scaledValue(ru?.maxUnavailable ?? '25%', replicas, false);
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable };
}

/** MaxUnavailable as used for the Available condition (capped at replicas). */
export function maxUnavailableOf(d: Deployment): number {
  if (d.spec.strategy?.type !== 'RollingUpdate' && d.spec.strategy?.type !== undefined) return 0;
  const replicas = d.spec.replicas ?? 1;
  if (replicas === 0) return 0;
  return Math.min(resolveFenceposts(d).maxUnavailable, replicas);
}

const specReplicas = (rs: ReplicaSet): number => rs.spec.replicas ?? 0;
const availableOf = (rs: ReplicaSet): number => rs.status?.availableReplicas ?? 0;

/** NewRSNewReplicas for RollingUpdate: how many replicas the new ReplicaSet should have now. */
export function newReplicaSetReplicas(
  d: Deployment,
  allRSs: ReplicaSet[],
  newRS: ReplicaSet | undefined,
): number {
  const replicas = d.spec.replicas ?? 1;
  const current = newRS ? specReplicas(newRS) : 0;
  if (d.spec.strategy?.type === 'Recreate') return replicas;
  const { maxSurge } = resolveFenceposts(d);
  const currentPodCount = allRSs.reduce((n, rs) => n + specReplicas(rs), 0);
  const maxTotal = replicas + maxSurge;
  if (currentPodCount >= maxTotal) return current;
  const scaleUp = Math.min(maxTotal - currentPodCount, replicas - current);
  return current + Math.max(0, scaleUp);
}

/**
 * reconcileOldReplicaSets: first scale down unhealthy old replicas, then old replicas beyond
 * minAvailable. Returns the new spec.replicas per old ReplicaSet name (only those that change).
 */
export function oldReplicaSetScaleDown(
  d: Deployment,
  oldRSs: ReplicaSet[],
  newRS: ReplicaSet | undefined,
): Map<string, number> {
  const changes = new Map<string, number>();
  const replicasOf = (rs: ReplicaSet): number => changes.get(rs.metadata.name!) ?? specReplicas(rs);
  const oldPodsCount = oldRSs.reduce((n, rs) => n + specReplicas(rs), 0);
  if (oldPodsCount === 0) return changes;
  const all = newRS ? [...oldRSs, newRS] : oldRSs;
  const allPodsCount = all.reduce((n, rs) => n + specReplicas(rs), 0);
  const replicas = d.spec.replicas ?? 1;
  const { maxUnavailable } = resolveFenceposts(d);
  const minAvailable = replicas - maxUnavailable;
  const newRSUnavailable = newRS ? specReplicas(newRS) - availableOf(newRS) : 0;
  const maxScaledDown = allPodsCount - minAvailable - newRSUnavailable;
  if (maxScaledDown <= 0) return changes;
  const byAge = [...oldRSs].sort(
    (a, b) =>
      (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
      revisionOf(a) - revisionOf(b),
  );
  let cleaned = 0;
  for (const rs of byAge) {
    if (cleaned >= maxScaledDown) break;
    const unhealthy = specReplicas(rs) - availableOf(rs);
    if (specReplicas(rs) === 0 || unhealthy <= 0) continue;
    const n = Math.min(maxScaledDown - cleaned, unhealthy);
    changes.set(rs.metadata.name!, specReplicas(rs) - n);
    cleaned += n;
  }
  const availablePodCount = all.reduce((n, rs) => n + availableOf(rs), 0);
  if (availablePodCount <= minAvailable) return changes;
  const totalScaleDown = availablePodCount - minAvailable;
  let scaled = 0;
  for (const rs of byAge) {
    if (scaled >= totalScaleDown) break;
    const cur = replicasOf(rs);
    if (cur === 0) continue;
    const n = Math.min(cur, totalScaleDown - scaled);
    changes.set(rs.metadata.name!, cur - n);
    scaled += n;
  }
  return changes;
}

/** Removes zero fields like Go's omitempty does on DeploymentStatus. */
function omitZero(s: DeploymentStatus): DeploymentStatus {
  const out: DeploymentStatus = {};
  for (const [k, v] of Object.entries(s) as [keyof DeploymentStatus, unknown][]) {
    if (v === 0 || v === undefined) continue;
    (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

export function setCondition(conds: Condition[], c: Condition): Condition[] {
  const cur = conds.find((x) => x.type === c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return conds;
  const next = { ...c };
  if (cur && cur.status === c.status) next.lastTransitionTime = cur.lastTransitionTime;
  return [...conds.filter((x) => x.type !== c.type), next];
}

export function condition(
  type: string,
  status: Condition['status'],
  reason: string,
  message: string,
  nowIso: string,
): Condition {
  return { type, status, lastUpdateTime: nowIso, lastTransitionTime: nowIso, reason, message };
}

/** calculateStatus (sync.go). */
export function calculateStatus(
  d: Deployment,
  allRSs: ReplicaSet[],
  newRS: ReplicaSet | undefined,
  nowIso: string,
): DeploymentStatus {
  const available = allRSs.reduce((n, rs) => n + availableOf(rs), 0);
  const total = allRSs.reduce((n, rs) => n + specReplicas(rs), 0);
  const status: DeploymentStatus = omitZero({
    observedGeneration: d.metadata.generation,
    replicas: allRSs.reduce((n, rs) => n + (rs.status?.replicas ?? 0), 0),
    updatedReplicas: newRS?.status?.replicas ?? 0,
    readyReplicas: allRSs.reduce((n, rs) => n + (rs.status?.readyReplicas ?? 0), 0),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, total - available),
    collisionCount: d.status?.collisionCount,
  });
  let conds = [...(d.status?.conditions ?? [])];
  const replicas = d.spec.replicas ?? 1;
  if (available >= replicas - maxUnavailableOf(d)) {
    conds = setCondition(
      conds,
      condition(
        'Available',
        'True',
        'MinimumReplicasAvailable',
        'Deployment has minimum availability.',
        nowIso,
      ),
    );
  } else {
    conds = setCondition(
      conds,
      condition(
        'Available',
        'False',
        'MinimumReplicasUnavailable',
        'Deployment does not have minimum availability.',
        nowIso,
      ),
    );
  }
  status.conditions = conds;
  return status;
}

export function deploymentComplete(d: Deployment, s: DeploymentStatus): boolean {
  const replicas = d.spec.replicas ?? 1;
  return (
    (s.updatedReplicas ?? 0) === replicas &&
    (s.replicas ?? 0) === replicas &&
    (s.availableReplicas ?? 0) === replicas &&
    (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0)
  );
}

export function deploymentProgressing(d: Deployment, s: DeploymentStatus): boolean {
  const old = d.status ?? {};
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  return (
    (s.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) ||
    newOld < oldOld ||
    (s.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
    (s.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
  );
}

/**
 * syncRolloutStatus's Progressing condition update. `simElapsedSince(iso)` returns simulated ms
 * since a timestamp (kubesim's clock may run fast). Returns the new conditions and whether the
 * deadline has been exceeded.
 */
export function progressingCondition(
  d: Deployment,
  status: DeploymentStatus,
  newRS: ReplicaSet | undefined,
  nowIso: string,
  simElapsedSince: (iso: string) => number,
): Condition[] {
  let conds = status.conditions ?? [];
  const cur = conds.find((c) => c.type === 'Progressing');
  if (d.spec.progressDeadlineSeconds === undefined || d.spec.progressDeadlineSeconds === 2147483647)
    return conds;
  const isComplete = status.replicas === status.updatedReplicas && cur?.reason === 'NewReplicaSetAvailable';
  if (isComplete || !newRS) return conds;
  if (deploymentComplete(d, status)) {
    return setCondition(
      conds,
      condition(
        'Progressing',
        'True',
        'NewReplicaSetAvailable',
        `ReplicaSet "${newRS.metadata.name}" has successfully progressed.`,
        nowIso,
      ),
    );
  }
  if (deploymentProgressing(d, status)) {
    const c = condition(
      'Progressing',
      'True',
      'ReplicaSetUpdated',
      `ReplicaSet "${newRS.metadata.name}" is progressing.`,
      nowIso,
    );
    if (cur?.status === 'True') c.lastTransitionTime = cur.lastTransitionTime;
    conds = conds.filter((x) => x.type !== 'Progressing');
    return [...conds, c];
  }
  if (cur && cur.reason !== 'NewReplicaSetAvailable') {
    const timedOut =
      cur.reason === 'ProgressDeadlineExceeded' ||
      (cur.lastUpdateTime !== undefined &&
        simElapsedSince(cur.lastUpdateTime) > d.spec.progressDeadlineSeconds * 1000);
    if (timedOut) {
      return setCondition(
        conds,
        condition(
          'Progressing',
          'False',
          'ProgressDeadlineExceeded',
          `ReplicaSet "${newRS.metadata.name}" has timed out progressing.`,
          nowIso,
        ),
      );
    }
  }
  return conds;
}

/** Old ReplicaSets to delete beyond revisionHistoryLimit (cleanupDeployment), oldest revision first. */
export function replicaSetsToCleanUp(d: Deployment, oldRSs: ReplicaSet[]): ReplicaSet[] {
  const limit = d.spec.revisionHistoryLimit ?? 10;
  const cleanable = oldRSs.filter(
    (rs) => specReplicas(rs) === 0 && (rs.status?.replicas ?? 0) === 0 && !rs.metadata.deletionTimestamp,
  );
  const diff = cleanable.length - limit;
  if (diff <= 0) return [];
  return [...cleanable].sort((a, b) => revisionOf(a) - revisionOf(b)).slice(0, diff);
}

/**
 * The annotations a ReplicaSet should carry for the given revision (SetNewReplicaSetAnnotations):
 * the Deployment's own annotations minus the skip list, the revision, the history of revisions
 * this ReplicaSet had before (when a rollback reuses it), and desired/max replicas.
 */
export function newReplicaSetAnnotations(
  d: Deployment,
  rs: ReplicaSet | undefined,
  newRevision: number,
): Record<string, string> {
  const out: Record<string, string> = { ...(rs?.metadata.annotations ?? {}) };
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {}))
    if (!ANNOTATIONS_TO_SKIP.has(k)) out[k] = v;
  const oldRevision = out[REVISION];
  const oldNum = Number.parseInt(oldRevision ?? '', 10);
  if (!oldRevision || !Number.isFinite(oldNum) || oldNum < newRevision) {
    out[REVISION] = String(newRevision);
    if (oldRevision)
      out[REVISION_HISTORY] = out[REVISION_HISTORY] ? `${out[REVISION_HISTORY]},${oldRevision}` : oldRevision;
  }
  const replicas = d.spec.replicas ?? 1;
  out[DESIRED_REPLICAS] = String(replicas);
  out[MAX_REPLICAS] = String(replicas + resolveFenceposts(d).maxSurge);
  return out;
}

/** What `kubectl rollout status` would print for a Deployment (DeploymentStatusViewer.Status). */
export function rolloutStatusMessage(
  d: Deployment,
  revision = 0,
): { message: string; done: boolean; error?: string } {
  if (revision > 0) {
    const rev = revisionOf(d);
    if (rev !== revision)
      return {
        message: '',
        done: false,
        error: `desired revision (${revision}) is different from the running revision (${rev})`,
      };
  }
  const s = d.status ?? {};
  const name = JSON.stringify(d.metadata.name ?? '');
  if ((d.metadata.generation ?? 0) <= (s.observedGeneration ?? 0)) {
    if (
      (s.conditions ?? []).some((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded')
    ) {
      return { message: '', done: false, error: `deployment ${name} exceeded its progress deadline` };
    }
    const replicas = d.spec.replicas;
    const updated = s.updatedReplicas ?? 0;
    if (replicas !== undefined && updated < replicas) {
      return {
        message: `Waiting for deployment ${name} rollout to finish: ${updated} out of ${replicas} new replicas have been updated...\n`,
        done: false,
      };
    }
    if ((s.replicas ?? 0) > updated) {
      return {
        message: `Waiting for deployment ${name} rollout to finish: ${(s.replicas ?? 0) - updated} old replicas are pending termination...\n`,
        done: false,
      };
    }
    if ((s.availableReplicas ?? 0) < updated) {
      return {
        message: `Waiting for deployment ${name} rollout to finish: ${s.availableReplicas ?? 0} of ${updated} updated replicas are available...\n`,
        done: false,
      };
    }
    return { message: `deployment ${name} successfully rolled out\n`, done: true };
  }
  return { message: 'Waiting for deployment spec update to be observed...\n', done: false };
}
