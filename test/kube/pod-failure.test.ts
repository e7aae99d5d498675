import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyDeploymentFailure, classifyPodFailure } from '../../src/kube/pod-failure.js';
import type { Deployment, KEvent, Pod } from '../../src/kube/types.js';
import {
  configError,
  crashLoop,
  errImagePullEvents,
  healthy,
  imagePullBackOff,
  invalidImage,
  oomKilled,
  runningNotReady,
  unschedulable,
} from './fixtures/pods.js';

const NOW = Date.parse('2025-01-10T10:01:00Z');

describe('classifyPodFailure', () => {
  it('ImagePullBackOff at once, with the container', () => {
    const f = classifyPodFailure(imagePullBackOff, [], NOW);
    expect(f).toMatchObject({ reason: 'ImagePullBackOff', container: 'api' });
    expect(f?.message).toContain('Back-off pulling image');
  });
  it('a waiting message wins, the pull event is the fallback', () => {
    const pod = structuredClone(imagePullBackOff);
    delete pod.status!.containerStatuses![0]!.state!.waiting!.message;
    expect(classifyPodFailure(pod, errImagePullEvents, NOW)?.message).toContain('not found');
  });
  it('CrashLoopBackOff from the second failed run (backing off after one restart)', () => {
    expect(classifyPodFailure(crashLoop(0), [], NOW)).toBeUndefined();
    const f = classifyPodFailure(crashLoop(1), [], NOW);
    expect(f).toMatchObject({ reason: 'CrashLoopBackOff', container: 'api', restarts: 1, exitCode: 1 });
    expect(f?.message).toContain('crashed 2 times (1 restart); last exit: Error (exit code 1)');
    expect(classifyPodFailure(crashLoop(2), [], NOW)?.message).toContain('crashed 3 times (2 restarts)');
  });
  it('a container running again after one crash is given its chance; after two it is not', () => {
    const once = structuredClone(crashLoop(1));
    once.status!.containerStatuses![0]!.state = { running: { startedAt: '2025-01-10T10:00:12Z' } };
    expect(classifyPodFailure(once, [], NOW)).toBeUndefined();
    const twice = structuredClone(crashLoop(2));
    twice.status!.containerStatuses![0]!.state = { running: { startedAt: '2025-01-10T10:00:40Z' } };
    expect(classifyPodFailure(twice, [], NOW)?.reason).toBe('CrashLoopBackOff');
  });
  it('minRestarts is configurable', () => {
    expect(classifyPodFailure(crashLoop(0), [], NOW, { minRestarts: 1 })?.reason).toBe('CrashLoopBackOff');
  });
  it('OOMKilled at the first kill', () => {
    expect(classifyPodFailure(oomKilled, [], NOW)).toMatchObject({ reason: 'OOMKilled', exitCode: 137 });
  });
  it('CreateContainerConfigError names the missing secret', () => {
    expect(classifyPodFailure(configError, [], NOW)).toMatchObject({
      reason: 'CreateContainerConfigError',
      message: 'secret "api-secrets" not found',
    });
  });
  it('InvalidImageName', () => {
    expect(classifyPodFailure(invalidImage, [], NOW)?.reason).toBe('InvalidImageName');
  });
  it('Unschedulable only beyond the grace period', () => {
    expect(classifyPodFailure(unschedulable('2025-01-10T10:00:45Z'), [], NOW)).toBeUndefined();
    const f = classifyPodFailure(unschedulable('2025-01-10T10:00:00Z'), [], NOW);
    expect(f).toMatchObject({ reason: 'Unschedulable' });
    expect(f?.message).toContain('Insufficient memory');
    expect(
      classifyPodFailure(unschedulable('2025-01-10T10:00:45Z'), [], NOW, { unschedulableGraceMs: 10_000 })
        ?.reason,
    ).toBe('Unschedulable');
  });
  it('a started container unready beyond the ready grace is NotReady; one in its startup probe is not judged', () => {
    expect(classifyPodFailure(runningNotReady('2025-01-10T09:55:00Z', true), [], NOW)?.reason).toBe(
      'NotReady',
    );
    expect(classifyPodFailure(runningNotReady('2025-01-10T09:55:00Z', false), [], NOW)).toBeUndefined();
    expect(classifyPodFailure(runningNotReady('2025-01-10T10:00:30Z', true), [], NOW)).toBeUndefined();
    expect(
      classifyPodFailure(runningNotReady('2025-01-10T09:55:00Z', true), [], NOW, { readyGraceMs: 0 }),
    ).toBeUndefined();
  });
  it('a healthy pod and a terminating pod are not failures', () => {
    expect(classifyPodFailure(healthy, [], NOW)).toBeUndefined();
    const leaving = structuredClone(crashLoop(5));
    leaving.metadata.deletionTimestamp = '2025-01-10T10:00:50Z';
    expect(classifyPodFailure(leaving, [], NOW)).toBeUndefined();
  });
});

describe('classifyDeploymentFailure', () => {
  const base: Deployment = {
    metadata: { name: 'api', generation: 2 },
    spec: { replicas: 1 },
    status: { observedGeneration: 2 },
  };
  it('ReplicaFailure/FailedCreate (quota)', () => {
    const d = structuredClone(base);
    d.status!.conditions = [
      {
        type: 'ReplicaFailure',
        status: 'True',
        reason: 'FailedCreate',
        message:
          'pods "api-7d9c6b5f4-x" is forbidden: exceeded quota: compute, requested: limits.memory=2Gi, used: limits.memory=7Gi, limited: limits.memory=8Gi',
      },
    ];
    expect(classifyDeploymentFailure(d)).toMatchObject({ reason: 'FailedCreate' });
  });
  it('ProgressDeadlineExceeded', () => {
    const d = structuredClone(base);
    d.status!.conditions = [
      {
        type: 'Progressing',
        status: 'False',
        reason: 'ProgressDeadlineExceeded',
        message: 'ReplicaSet "api-7d9c6b5f4" has timed out progressing.',
      },
    ];
    expect(classifyDeploymentFailure(d)).toEqual({
      reason: 'ProgressDeadlineExceeded',
      message: 'ReplicaSet "api-7d9c6b5f4" has timed out progressing.',
    });
  });
  it('a progressing deployment is fine', () => {
    expect(classifyDeploymentFailure(base)).toBeUndefined();
  });
});

describe('classifyPodFailure on pods captured from kubesim (fixtures/kubesim-captured.json)', () => {
  const captured = JSON.parse(
    readFileSync(join(import.meta.dirname, 'fixtures', 'kubesim-captured.json'), 'utf8'),
  ) as Record<string, { pod: Pod; events: KEvent[] }>;
  const at = (p: Pod): number => Date.parse(p.status?.startTime ?? '') + 5_000;
  it.each([
    ['pull', ['ErrImagePull', 'ImagePullBackOff']],
    ['crash', ['CrashLoopBackOff']],
    ['oom', ['OOMKilled']],
  ])('%s', (key, reasons) => {
    const c = captured[key]!;
    const f = classifyPodFailure(c.pod, c.events, at(c.pod));
    expect(reasons).toContain(f?.reason);
    expect(f?.container).toBe('app');
  });
  it('the pull failure carries the kubelet event detail', () => {
    const c = captured.pull!;
    const pod = structuredClone(c.pod);
    for (const cs of pod.status?.containerStatuses ?? []) delete cs.state?.waiting?.message;
    expect(classifyPodFailure(pod, c.events, at(pod))?.message).toMatch(/Failed to pull image/);
  });
});
