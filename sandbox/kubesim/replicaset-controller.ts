/**
 * The ReplicaSet controller: keeps as many active pods as spec.replicas (creating from the
 * template, deleting not-ready and newest first), and reports replicas / ready / available
 * (ready for minReadySeconds, measured on the simulated clock).
 */
import { WorkQueue, controllerRef, nsName, splitKey, type ClusterContext } from './controller-runtime.js';
import { randomSuffix } from './defaults.js';
import { R } from './resources.js';
import { matchesLabelSelector } from './selectors.js';
import type { Pod, ReplicaSet, ReplicaSetStatus } from './types.js';

export function isPodReady(p: Pod): boolean {
  return (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function isPodActive(p: Pod): boolean {
  return p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && !p.metadata.deletionTimestamp;
}

/** Deletion preference of the ReplicaSet controller (ActivePods ordering), most deletable first. */
function deletionRank(p: Pod): number[] {
  const phase = p.status?.phase;
  return [
    p.spec.nodeName ? 1 : 0,
    phase === 'Pending' ? 0 : phase === 'Unknown' ? 1 : 2,
    isPodReady(p) ? 1 : 0,
    -(p.status?.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0),
    -Date.parse(p.metadata.creationTimestamp ?? '0'),
  ];
}

export class ReplicaSetController {
  readonly queue: WorkQueue;
  private readonly availabilityTimers = new Map<string, () => void>();

  constructor(private readonly ctx: ClusterContext) {
    this.queue = new WorkQueue('replicaset-controller', (k) => this.reconcile(k), ctx.logger);
    ctx.store.subscribe((e) => {
      if (e.rt === R.replicasets) this.queue.add(nsName(e.object));
      else if (e.rt === R.pods) {
        const ref = controllerRef(e.object);
        if (ref?.kind === 'ReplicaSet') this.queue.add(`${e.object.metadata.namespace}/${ref.name}`);
      }
    });
  }

  stop(): void {
    for (const c of this.availabilityTimers.values()) c();
  }

  private reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const rs = this.ctx.store.get(R.replicasets, ns, name) as ReplicaSet | undefined;
    if (!rs) return;
    const pods = (this.ctx.store.list(R.pods, ns) as Pod[]).filter(
      (p) => controllerRef(p)?.uid === rs.metadata.uid && isPodActive(p),
    );
    const want = rs.spec.replicas ?? 1;
    const diff = pods.length - want;
    let active = pods;
    if (diff < 0) {
      for (let i = 0; i < -diff; i++) active = [...active, this.createPod(rs)];
    } else if (diff > 0) {
      const victims = [...pods].sort((a, b) => compareRanks(deletionRank(a), deletionRank(b))).slice(0, diff);
      for (const v of victims) {
        this.ctx.store.remove(R.pods, ns, v.metadata.name!);
        this.ctx.events.record(
          rs,
          'Normal',
          'SuccessfulDelete',
          `Deleted pod: ${v.metadata.name}`,
          'replicaset-controller',
        );
      }
      const gone = new Set(victims);
      active = pods.filter((p) => !gone.has(p));
    }
    const minReady = (rs.spec.minReadySeconds ?? 0) * 1000;
    let soonest = Infinity;
    const available = active.filter((p) => {
      if (!isPodReady(p)) return false;
      if (minReady === 0) return true;
      const since = (p.status?.conditions ?? []).find((c) => c.type === 'Ready')?.lastTransitionTime;
      const elapsed = since ? this.ctx.clock.simElapsed(Date.parse(since)) : 0;
      if (elapsed >= minReady) return true;
      soonest = Math.min(soonest, minReady - elapsed);
      return false;
    }).length;
    this.availabilityTimers.get(key)?.();
    if (soonest !== Infinity)
      this.availabilityTimers.set(
        key,
        this.ctx.clock.after(soonest + 50, () => this.queue.add(key)),
      );
    const templateLabels = rs.spec.template.metadata?.labels ?? {};
    const status: ReplicaSetStatus = {
      replicas: active.length,
      fullyLabeledReplicas: active.filter((p) =>
        matchesLabelSelector(p.metadata.labels, { matchLabels: templateLabels }),
      ).length,
      readyReplicas: active.filter(isPodReady).length,
      availableReplicas: available,
      observedGeneration: rs.metadata.generation,
    };
    for (const k of ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas'] as const)
      if (status[k] === 0) delete status[k];
    const latest = this.ctx.store.get(R.replicasets, ns, name);
    if (latest) this.ctx.store.update(R.replicasets, { ...latest, status });
  }

  private createPod(rs: ReplicaSet): Pod {
    const tpl = structuredClone(rs.spec.template);
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${rs.metadata.name}-${randomSuffix()}`,
        generateName: `${rs.metadata.name}-`,
        namespace: rs.metadata.namespace,
        labels: { ...tpl.metadata?.labels },
        ...(tpl.metadata?.annotations ? { annotations: { ...tpl.metadata.annotations } } : {}),
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: rs.metadata.name!,
            uid: rs.metadata.uid!,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: tpl.spec ?? { containers: [] },
      status: { phase: 'Pending', qosClass: 'BestEffort' },
    };
    const created = this.ctx.store.create(R.pods, pod) as Pod;
    this.ctx.events.record(
      rs,
      'Normal',
      'SuccessfulCreate',
      `Created pod: ${created.metadata.name}`,
      'replicaset-controller',
    );
    return created;
  }
}

function compareRanks(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
