/**
 * The Deployment controller's pure decisions: fenceposts, the rolling-update state machine
 * (simulated step by step), conditions and deadlines, revision annotations on reuse, and the
 * rollout-status messages of the shared conformance table.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  calculateStatus,
  equalIgnoreHash,
  newReplicaSetAnnotations,
  newReplicaSetReplicas,
  oldReplicaSetScaleDown,
  podTemplateHash,
  progressingCondition,
  replicaSetsToCleanUp,
  resolveFenceposts,
  rolloutStatusMessage,
} from '../../sandbox/kubesim/rollout-plan.js';
import type { Deployment, IntOrString, ReplicaSet } from '../../sandbox/kubesim/types.js';

const NOW = '2025-01-01T00:00:00Z';

function deployment(
  replicas: number,
  maxSurge?: IntOrString,
  maxUnavailable?: IntOrString,
  extra: Partial<Deployment['spec']> = {},
): Deployment {
  return {
    metadata: { name: 'web', namespace: 'default', generation: 1, annotations: {} },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'c', image: 'img:2' }] },
      },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge, maxUnavailable } },
      progressDeadlineSeconds: 600,
      ...extra,
    },
  };
}

function rs(
  name: string,
  replicas: number,
  available = replicas,
  revision = '1',
  created = '2025-01-01T00:00:00Z',
): ReplicaSet {
  return {
    metadata: {
      name,
      creationTimestamp: created,
      annotations: { 'deployment.kubernetes.io/revision': revision },
    },
    spec: { replicas, selector: {}, template: {} },
    status: { replicas, availableReplicas: available, readyReplicas: available },
  };
}

describe('fenceposts', () => {
  it.each([
    [4, undefined, undefined, 1, 1],
    [10, undefined, undefined, 3, 2],
    [3, 0, 0, 0, 1],
    [3, 1, 0, 1, 0],
    [5, '50%', '20%', 3, 1],
  ] as [number, IntOrString | undefined, IntOrString | undefined, number, number][])(
    'replicas %i surge %s unavailable %s',
    (replicas, surge, unav, wantSurge, wantUnav) => {
      expect(resolveFenceposts(deployment(replicas, surge, unav))).toEqual({
        maxSurge: wantSurge,
        maxUnavailable: wantUnav,
      });
    },
  );
});

describe('rolling update state machine', () => {
  /** Runs the controller's scaling decisions until done; pods become available one step later. */
  function simulate(
    d: Deployment,
    oldReplicas: number,
  ): { steps: string[]; maxTotal: number; minAvailable: number } {
    const replicas = d.spec.replicas!;
    let oldRS = rs('web-old', oldReplicas);
    let newRS = rs('web-new', 0, 0, '2', '2025-01-01T00:01:00Z');
    const steps: string[] = [];
    let maxTotal = 0;
    let minAvailable = Infinity;
    for (let i = 0; i < 50; i++) {
      const target = newReplicaSetReplicas(d, [oldRS, newRS], newRS);
      newRS = { ...newRS, spec: { ...newRS.spec, replicas: target } };
      const changes = oldReplicaSetScaleDown(d, [oldRS], newRS);
      oldRS = { ...oldRS, spec: { ...oldRS.spec, replicas: changes.get('web-old') ?? oldRS.spec.replicas } };
      maxTotal = Math.max(maxTotal, oldRS.spec.replicas! + newRS.spec.replicas!);
      // pods converge to spec before the next pass: old ones go at once, new ones become available
      oldRS = {
        ...oldRS,
        status: { replicas: oldRS.spec.replicas!, availableReplicas: oldRS.spec.replicas! },
      };
      minAvailable = Math.min(
        minAvailable,
        oldRS.status!.availableReplicas! + newRS.status!.availableReplicas!,
      );
      newRS = {
        ...newRS,
        status: { replicas: newRS.spec.replicas!, availableReplicas: newRS.spec.replicas! },
      };
      steps.push(`${oldRS.spec.replicas}/${newRS.spec.replicas}`);
      if (oldRS.spec.replicas === 0 && newRS.spec.replicas === replicas) break;
    }
    return { steps, maxTotal, minAvailable };
  }

  it('surge 1, unavailable 0: one new pod at a time, never below desired', () => {
    const r = simulate(deployment(3, 1, 0), 3);
    // old/new spec replicas per controller pass: surge one, wait for it, retire one old …
    expect(r.steps).toEqual(['3/1', '2/1', '2/2', '1/2', '1/3', '0/3']);
    expect(r.maxTotal).toBe(4);
    expect(r.minAvailable).toBe(3);
  });

  it('defaults (25%/25%) on 4 replicas stay within 5 total and 3 available', () => {
    const r = simulate(deployment(4, '25%', '25%'), 4);
    expect(r.steps[r.steps.length - 1]).toBe('0/4');
    expect(r.maxTotal).toBeLessThanOrEqual(5);
    expect(r.minAvailable).toBeGreaterThanOrEqual(3);
  });

  it('surge 0, unavailable 1: scales the old set down first', () => {
    const r = simulate(deployment(2, 0, 1), 2);
    expect(r.steps[0]).toBe('1/0');
    expect(r.maxTotal).toBe(2);
  });

  it('does not scale old replicas down while the new ones are unavailable', () => {
    const d = deployment(3, 1, 0);
    const old = rs('web-old', 3);
    const stuck = rs('web-new', 1, 0, '2');
    expect(oldReplicaSetScaleDown(d, [old], stuck).size).toBe(0);
    expect(newReplicaSetReplicas(d, [old, stuck], stuck)).toBe(1);
  });
});

describe('status and conditions', () => {
  it('Available follows minimum availability; Progressing reasons follow progress', () => {
    const d = deployment(3, 1, 0);
    d.status = { observedGeneration: 1, replicas: 3, updatedReplicas: 1, availableReplicas: 2 };
    const newRS = rs('web-new', 2, 2, '2');
    const all = [rs('web-old', 2, 2), newRS];
    const status = calculateStatus(d, all, newRS, NOW);
    expect(status).toMatchObject({
      observedGeneration: 1,
      replicas: 4,
      updatedReplicas: 2,
      availableReplicas: 4,
    });
    expect(status.conditions?.find((c) => c.type === 'Available')).toMatchObject({
      status: 'True',
      reason: 'MinimumReplicasAvailable',
    });
    const conds = progressingCondition(d, status, newRS, NOW, () => 0);
    expect(conds.find((c) => c.type === 'Progressing')).toMatchObject({
      status: 'True',
      reason: 'ReplicaSetUpdated',
      message: 'ReplicaSet "web-new" is progressing.',
    });

    const done = rs('web-new', 3, 3, '2');
    const finalStatus = calculateStatus(d, [rs('web-old', 0, 0), done], done, NOW);
    expect(
      progressingCondition(d, finalStatus, done, NOW, () => 0).find((c) => c.type === 'Progressing'),
    ).toMatchObject({
      reason: 'NewReplicaSetAvailable',
      message: 'ReplicaSet "web-new" has successfully progressed.',
    });
  });

  it('ProgressDeadlineExceeded only once the deadline has passed without progress', () => {
    const d = deployment(2, 1, 0, { progressDeadlineSeconds: 30 });
    const newRS = rs('web-new', 2, 0, '2');
    d.status = {
      observedGeneration: 1,
      replicas: 2,
      updatedReplicas: 2,
      conditions: [
        {
          type: 'Progressing',
          status: 'True',
          reason: 'NewReplicaSetCreated',
          lastUpdateTime: NOW,
          lastTransitionTime: NOW,
        },
      ],
    };
    const status = calculateStatus(d, [newRS], newRS, NOW);
    const stillOk = progressingCondition(d, status, newRS, NOW, () => 29_000);
    expect(stillOk.find((c) => c.type === 'Progressing')?.reason).toBe('NewReplicaSetCreated');
    const late = progressingCondition(d, status, newRS, NOW, () => 31_000);
    expect(late.find((c) => c.type === 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
      message: 'ReplicaSet "web-new" has timed out progressing.',
    });
    expect(rolloutStatusMessage({ ...d, status: { ...status, conditions: late } }).error).toBe(
      'deployment "web" exceeded its progress deadline',
    );
  });

  it('keeps revisionHistoryLimit old ReplicaSets, deleting the oldest revisions', () => {
    const d = deployment(1, 1, 0, { revisionHistoryLimit: 2 });
    const olds = [rs('a', 0, 0, '1'), rs('b', 0, 0, '2'), rs('c', 0, 0, '3'), rs('d', 0, 0, '4')];
    expect(replicaSetsToCleanUp(d, olds).map((x) => x.metadata.name)).toEqual(['a', 'b']);
  });
});

describe('revisions and template hashes', () => {
  it('a reused ReplicaSet gets the next revision and remembers the old one; change-cause is copied', () => {
    const d = deployment(3);
    d.metadata.annotations = {
      'kubernetes.io/change-cause': 'rollback',
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
    };
    const old = rs('web-1', 0, 0, '1');
    const a = newReplicaSetAnnotations(d, old, 3);
    expect(a).toMatchObject({
      'deployment.kubernetes.io/revision': '3',
      'deployment.kubernetes.io/revision-history': '1',
      'kubernetes.io/change-cause': 'rollback',
      'deployment.kubernetes.io/desired-replicas': '3',
      'deployment.kubernetes.io/max-replicas': '4',
    });
    expect(a['kubectl.kubernetes.io/last-applied-configuration']).toBeUndefined();
    // a current ReplicaSet keeps its revision
    expect(newReplicaSetAnnotations(d, rs('web-2', 3, 3, '2'), 2)['deployment.kubernetes.io/revision']).toBe(
      '2',
    );
  });

  it('hashes templates stably, ignoring the pod-template-hash label', () => {
    const t = deployment(1).spec.template;
    const h = podTemplateHash(t);
    expect(h).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
    expect(podTemplateHash({ ...t, metadata: { labels: { app: 'web', 'pod-template-hash': h } } })).toBe(h);
    expect(podTemplateHash({ ...t, spec: { containers: [{ name: 'c', image: 'img:3' }] } })).not.toBe(h);
    expect(podTemplateHash(t, 1)).not.toBe(h);
    expect(equalIgnoreHash(t, { ...t, metadata: { labels: { app: 'web', 'pod-template-hash': h } } })).toBe(
      true,
    );
  });
});

describe('rollout status messages (shared conformance table)', () => {
  const file = join(
    import.meta.dirname,
    '../../../shared/conformance/kubectl-rollout/deployment_status_cases.json',
  );
  const cases = (
    JSON.parse(readFileSync(file, 'utf8')) as {
      cases: {
        name: string;
        revision: number;
        deployment: Deployment;
        expected: { message: string; done: boolean; error: string | null };
      }[];
    }
  ).cases;
  it.each(cases)('$name', (c) => {
    const r = rolloutStatusMessage(c.deployment, c.revision);
    if (c.expected.error) expect(r.error).toBe(c.expected.error);
    else
      expect({ message: r.message, done: r.done }).toEqual({
        message: c.expected.message,
        done: c.expected.done,
      });
  });
});
