/**
 * The Deployment controller: finds or creates the ReplicaSet for the current pod template,
 * keeps the revision annotations (a rollback reuses the old ReplicaSet and gives it the next
 * revision), scales new and old ReplicaSets by the strategy, prunes history, and writes the
 * status and conditions kubectl's `rollout status` reads. Decisions live in rollout-plan.ts.
 */
import { isoTime } from './clock.js';
import { WorkQueue, controllerRef, nsName, splitKey, type ClusterContext } from './controller-runtime.js';
import { deleteWithDependents } from './garbage-collector.js';
import { R } from './resources.js';
import {
  DESIRED_REPLICAS,
  HASH_LABEL,
  MAX_REPLICAS,
  REVISION,
  calculateStatus,
  condition,
  deploymentComplete,
  equalIgnoreHash,
  newReplicaSetAnnotations,
  newReplicaSetReplicas,
  oldReplicaSetScaleDown,
  podTemplateHash,
  progressingCondition,
  replicaSetsToCleanUp,
  revisionOf,
  setCondition,
} from './rollout-plan.js';
import type { Condition, Deployment, KObject, ReplicaSet } from './types.js';

export class DeploymentController {
  readonly queue: WorkQueue;
  private readonly deadlineTimers = new Map<string, () => void>();
  /**
   * Exact wall time of each Deployment's last Progressing update: condition timestamps have
   * second precision, which at clock speed 10 would blur the deadline by up to 10 s.
   */
  private readonly progressStamps = new Map<string, { iso: string; ms: number }>();

  private simElapsedSince(uid: string, iso: string): number {
    const s = this.progressStamps.get(uid);
    return this.ctx.clock.simElapsed(s && s.iso === iso ? s.ms : Date.parse(iso));
  }

  constructor(private readonly ctx: ClusterContext) {
    this.queue = new WorkQueue('deployment-controller', (k) => this.reconcile(k), ctx.logger);
    ctx.store.subscribe((e) => {
      if (e.rt === R.deployments) {
        if (e.type === 'DELETED') this.progressStamps.delete(e.object.metadata.uid!);
        this.queue.add(nsName(e.object));
      } else if (e.rt === R.replicasets) {
        const ref = controllerRef(e.object);
        if (ref?.kind === 'Deployment') this.queue.add(`${e.object.metadata.namespace}/${ref.name}`);
      }
    });
  }

  stop(): void {
    for (const cancel of this.deadlineTimers.values()) cancel();
    this.deadlineTimers.clear();
  }

  private ownedReplicaSets(d: Deployment): ReplicaSet[] {
    return this.ctx.store
      .list(R.replicasets, d.metadata.namespace)
      .filter((rs) => controllerRef(rs)?.uid === d.metadata.uid) as ReplicaSet[];
  }

  private reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const stored = this.ctx.store.get(R.deployments, ns, name) as Deployment | undefined;
    if (!stored) {
      this.deadlineTimers.get(key)?.();
      this.deadlineTimers.delete(key);
      return;
    }
    if (stored.metadata.deletionTimestamp) return;
    const d = structuredClone(stored);
    const now = this.ctx.clock.now();
    const nowIso = isoTime(now);
    let rsList = this.ownedReplicaSets(d);
    let newRS = rsList.find((rs) => equalIgnoreHash(rs.spec.template, d.spec.template));
    let oldRSs = rsList.filter((rs) => rs !== newRS);
    const maxOldRevision = oldRSs.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
    const newRevision = maxOldRevision + 1;
    let conds: Condition[] = [...(d.status?.conditions ?? [])];
    const paused = d.spec.paused === true;
    const recreate = d.spec.strategy?.type === 'Recreate';

    // paused conditions (checkPausedConditions)
    const progressing = conds.find((c) => c.type === 'Progressing');
    if (paused && progressing?.reason !== 'DeploymentPaused') {
      conds = setCondition(
        conds,
        condition('Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused', nowIso),
      );
    } else if (!paused && progressing?.reason === 'DeploymentPaused') {
      conds = setCondition(
        conds,
        condition('Progressing', 'Unknown', 'DeploymentResumed', 'Deployment is resumed', nowIso),
      );
    }

    // sync the existing new RS's revision / annotations, or create it
    if (newRS) {
      const annotations = newReplicaSetAnnotations(d, newRS, newRevision);
      if (JSON.stringify(annotations) !== JSON.stringify(newRS.metadata.annotations ?? {})) {
        newRS = this.ctx.store.update(R.replicasets, {
          ...newRS,
          metadata: { ...newRS.metadata, annotations },
        }) as ReplicaSet;
      }
      if (!conds.some((c) => c.type === 'Progressing')) {
        conds = setCondition(
          conds,
          condition(
            'Progressing',
            'True',
            'FoundNewReplicaSet',
            `Found new replica set "${newRS.metadata.name}"`,
            nowIso,
          ),
        );
      }
    } else if (
      !paused &&
      !(recreate && oldRSs.some((rs) => (rs.spec.replicas ?? 0) > 0 || (rs.status?.replicas ?? 0) > 0))
    ) {
      newRS = this.createReplicaSet(d, rsList, newRevision);
      if (!newRS) return;
      conds = setCondition(
        conds,
        condition(
          'Progressing',
          'True',
          'NewReplicaSetCreated',
          `Created new replica set "${newRS.metadata.name}"`,
          nowIso,
        ),
      );
      rsList = [...rsList, newRS];
    }
    const revision = newRS ? revisionOf(newRS) : undefined;

    // scale
    const replicas = d.spec.replicas ?? 1;
    if (newRS && !paused) {
      const activeOld = oldRSs.filter((rs) => (rs.spec.replicas ?? 0) > 0);
      if (recreate) {
        if ((newRS.spec.replicas ?? 0) !== replicas) newRS = this.scale(d, newRS, replicas);
      } else if (activeOld.length === 0 || (newRS.spec.replicas ?? 0) > replicas) {
        if ((newRS.spec.replicas ?? 0) !== replicas) newRS = this.scale(d, newRS, replicas);
      } else {
        const target = newReplicaSetReplicas(d, rsList, newRS);
        if (target !== (newRS.spec.replicas ?? 0)) newRS = this.scale(d, newRS, target);
        const changes = oldReplicaSetScaleDown(d, oldRSs, newRS);
        oldRSs = oldRSs.map((rs) => {
          const to = changes.get(rs.metadata.name!);
          return to === undefined || to === (rs.spec.replicas ?? 0) ? rs : this.scale(d, rs, to);
        });
      }
    } else if (
      paused &&
      newRS &&
      oldRSs.every((rs) => (rs.spec.replicas ?? 0) === 0) &&
      (newRS.spec.replicas ?? 0) !== replicas
    ) {
      // scaling a paused deployment still scales its active ReplicaSet
      newRS = this.scale(d, newRS, replicas);
    }
    if (recreate && !paused) {
      oldRSs = oldRSs.map((rs) => ((rs.spec.replicas ?? 0) > 0 ? this.scale(d, rs, 0) : rs));
    }
    rsList = newRS ? [...oldRSs, newRS] : oldRSs;

    // status
    const statusInput: Deployment = { ...d, status: { ...d.status, conditions: conds } };
    const status = calculateStatus(statusInput, rsList, newRS, nowIso);
    if (!paused) {
      status.conditions = progressingCondition(statusInput, status, newRS, nowIso, (iso) =>
        this.simElapsedSince(d.metadata.uid!, iso),
      );
    }
    if (!paused && newRS && deploymentComplete(d, status)) {
      for (const rs of replicaSetsToCleanUp(d, oldRSs)) {
        this.ctx.logger.log(
          'debug',
          'deployment-controller',
          `cleaning up ${nsName(rs)} (revisionHistoryLimit ${d.spec.revisionHistoryLimit})`,
        );
        deleteWithDependents(
          this.ctx.store,
          R.replicasets,
          rs.metadata.namespace!,
          rs.metadata.name!,
          'Background',
        );
      }
    }

    const before = JSON.stringify((d.status?.conditions ?? []).find((c) => c.type === 'Progressing'));
    const after = (status.conditions ?? []).find((c) => c.type === 'Progressing');
    if (after?.lastUpdateTime && JSON.stringify(after) !== before)
      this.progressStamps.set(d.metadata.uid!, { iso: after.lastUpdateTime, ms: now });
    const annotations = { ...(d.metadata.annotations ?? {}) };
    if (revision !== undefined) annotations[REVISION] = String(revision);
    const latest = this.ctx.store.get(R.deployments, ns, name) as Deployment | undefined;
    if (!latest) return;
    const next: Deployment = { ...latest, metadata: { ...latest.metadata, annotations }, status };
    this.ctx.store.update(R.deployments, next);
    this.scheduleDeadlineCheck(key, d, status.conditions ?? [], paused);
  }

  /** Requeues a stuck rollout when its progress deadline would pass (requeueStuckDeployment). */
  private scheduleDeadlineCheck(key: string, d: Deployment, conds: Condition[], paused: boolean): void {
    this.deadlineTimers.get(key)?.();
    this.deadlineTimers.delete(key);
    const p = conds.find((c) => c.type === 'Progressing');
    const deadline = d.spec.progressDeadlineSeconds;
    if (
      paused ||
      !p ||
      deadline === undefined ||
      p.reason === 'NewReplicaSetAvailable' ||
      p.reason === 'ProgressDeadlineExceeded' ||
      !p.lastUpdateTime
    )
      return;
    const remaining = deadline * 1000 - this.simElapsedSince(d.metadata.uid!, p.lastUpdateTime) + 50;
    this.deadlineTimers.set(
      key,
      this.ctx.clock.after(Math.max(0, remaining), () => this.queue.add(key)),
    );
  }

  private createReplicaSet(d: Deployment, existing: ReplicaSet[], revision: number): ReplicaSet | undefined {
    let collision = d.status?.collisionCount ?? 0;
    let hash = podTemplateHash(d.spec.template, collision);
    // a name taken by a ReplicaSet with another template is a hash collision: bump and retry
    while (this.ctx.store.get(R.replicasets, d.metadata.namespace, `${d.metadata.name}-${hash}`)) {
      collision++;
      hash = podTemplateHash(d.spec.template, collision);
      if (collision > 10) return undefined;
    }
    const template = structuredClone(d.spec.template);
    template.metadata = {
      ...template.metadata,
      labels: { ...template.metadata?.labels, [HASH_LABEL]: hash },
    };
    const replicas = newReplicaSetReplicas(d, existing, undefined);
    const rs: ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name}-${hash}`,
        namespace: d.metadata.namespace,
        labels: { ...template.metadata.labels },
        annotations: newReplicaSetAnnotations(d, undefined, revision),
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: d.metadata.name!,
            uid: d.metadata.uid!,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        replicas: d.spec.strategy?.type === 'Recreate' ? (d.spec.replicas ?? 1) : replicas,
        minReadySeconds: d.spec.minReadySeconds ?? 0,
        selector: { ...d.spec.selector, matchLabels: { ...d.spec.selector.matchLabels, [HASH_LABEL]: hash } },
        template,
      },
    };
    const created = this.ctx.store.create(R.replicasets, rs as KObject) as ReplicaSet;
    this.ctx.events.record(
      d,
      'Normal',
      'ScalingReplicaSet',
      `Scaled up replica set ${created.metadata.name} from 0 to ${created.spec.replicas}`,
      'deployment-controller',
    );
    this.ctx.logger.log(
      'info',
      'deployment-controller',
      `${nsName(d)}: created ReplicaSet ${created.metadata.name} (revision ${revision}, ${created.spec.replicas} replicas)`,
    );
    return created;
  }

  private scale(d: Deployment, rs: ReplicaSet, to: number): ReplicaSet {
    const from = rs.spec.replicas ?? 0;
    // scaling only refreshes desired/max replicas (SetReplicasAnnotations); revisions stay
    const fresh = newReplicaSetAnnotations(d, undefined, 1);
    const annotations = {
      ...rs.metadata.annotations,
      [DESIRED_REPLICAS]: fresh[DESIRED_REPLICAS]!,
      [MAX_REPLICAS]: fresh[MAX_REPLICAS]!,
    };
    const updated = this.ctx.store.update(R.replicasets, {
      ...rs,
      metadata: { ...rs.metadata, annotations },
      spec: { ...rs.spec, replicas: to },
    }) as ReplicaSet;
    this.ctx.events.record(
      d,
      'Normal',
      'ScalingReplicaSet',
      `Scaled ${to > from ? 'up' : 'down'} replica set ${rs.metadata.name} from ${from} to ${to}`,
      'deployment-controller',
    );
    return updated;
  }
}
