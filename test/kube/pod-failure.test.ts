import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  classifyDeploymentFailure,
  classifyPodFailure,
  readinessEventsWanted,
  readinessWindow,
  type ClassifyOptions,
} from '../../src/kube/pod-failure.js';
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
  unhealthy,
  unschedulable,
  withProbes,
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

describe("ReadinessProbeFailed: never ready, judged by the pod spec's probes", () => {
  const T0 = '2025-01-10T10:00:00Z';
  const at = (s: number): number => Date.parse(T0) + s * 1000;
  const ts = (s: number): string => new Date(at(s)).toISOString().replace('.000Z', 'Z');
  const HTTP_503 = 'Readiness probe failed: HTTP probe failed with statuscode: 503';
  const REFUSED =
    'Readiness probe failed: Get "http://10.42.0.17:8080/ready": dial tcp 10.42.0.17:8080: connect: connection refused';
  const readiness = { httpGet: { path: '/ready', port: 8080 } }; // defaults: 0 + 3 × 10 s = 30 s
  const startup = { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 10, failureThreshold: 30 }; // 300 s
  const running = runningNotReady(T0, true);
  const base = withProbes(running, { readinessProbe: readiness });
  const failing = (s: number, message = HTTP_503, count = 3) => [unhealthy(base, message, ts(s), { count })];

  interface Case {
    name: string;
    pod: Pod;
    events: KEvent[];
    /** seconds after the container started */
    now: number;
    options?: ClassifyOptions;
    expected: string | undefined;
  }
  const cases: Case[] = [
    {
      name: 'defaults: 30 s window passed, probe failing',
      pod: base,
      events: failing(30),
      now: 31,
      expected: 'ReadinessProbeFailed',
    },
    {
      name: 'defaults: inside the 30 s window',
      pod: base,
      events: failing(20),
      now: 29,
      expected: undefined,
    },
    {
      name: 'window passed but no probe failure seen (yet)',
      pod: base,
      events: [],
      now: 90,
      expected: undefined,
    },
    {
      name: 'connection refused counts as a readiness failure',
      pod: base,
      events: failing(30, REFUSED),
      now: 31,
      expected: 'ReadinessProbeFailed',
    },
    {
      name: 'startup probe failures are not readiness failures',
      pod: base,
      events: failing(30, 'Startup probe failed: HTTP probe failed with statuscode: 503'),
      now: 60,
      expected: undefined,
    },
    {
      name: 'liveness probe failures are not readiness failures',
      pod: base,
      events: failing(30, 'Liveness probe failed: HTTP probe failed with statuscode: 500'),
      now: 60,
      expected: undefined,
    },
    {
      name: "a failure from before this container's start (previous instance)",
      pod: base,
      events: [unhealthy(base, HTTP_503, '2025-01-10T09:59:50Z')],
      now: 60,
      expected: undefined,
    },
    {
      name: 'a failure of another container',
      pod: base,
      events: [unhealthy(base, HTTP_503, ts(30), { container: 'sidecar' })],
      now: 60,
      expected: undefined,
    },
    {
      name: 'initialDelaySeconds 60, periodSeconds 5, failureThreshold 3: 75 s window, inside',
      pod: withProbes(running, {
        readinessProbe: { ...readiness, initialDelaySeconds: 60, periodSeconds: 5 },
      }),
      events: failing(70),
      now: 74,
      expected: undefined,
    },
    {
      name: 'initialDelaySeconds 60, periodSeconds 5, failureThreshold 3: 75 s window, passed',
      pod: withProbes(running, {
        readinessProbe: { ...readiness, initialDelaySeconds: 60, periodSeconds: 5 },
      }),
      events: failing(75),
      now: 75,
      expected: 'ReadinessProbeFailed',
    },
    {
      name: 'startupProbe (300 s) started early, readiness failing: not before 300 + 30 s',
      pod: withProbes(running, { readinessProbe: readiness, startupProbe: startup }),
      events: failing(60),
      now: 329,
      expected: undefined,
    },
    {
      name: 'startupProbe (300 s) + readiness (30 s): judged from 330 s',
      pod: withProbes(running, { readinessProbe: readiness, startupProbe: startup }),
      events: failing(320),
      now: 330,
      expected: 'ReadinessProbeFailed',
    },
    {
      name: "readiness initialDelaySeconds beyond the startup window counts from the container's start",
      pod: withProbes(running, {
        readinessProbe: { ...readiness, initialDelaySeconds: 400 },
        startupProbe: startup,
      }),
      events: failing(420),
      now: 429,
      expected: undefined,
    },
    {
      name: 'still in its startup probe (started: false): never judged',
      pod: withProbes(runningNotReady(T0, false), { readinessProbe: readiness, startupProbe: startup }),
      events: failing(900),
      now: 3600,
      expected: undefined,
    },
    {
      name: 'Ready: nothing to judge',
      pod: withProbes(healthy, { readinessProbe: readiness }),
      events: failing(30),
      now: 3600,
      expected: undefined,
    },
    {
      name: 'the rule switched off (readinessProbes: false), ready-grace off',
      pod: base,
      events: failing(30),
      now: 60,
      options: { readinessProbes: false, readyGraceMs: 0 },
      expected: undefined,
    },
    {
      name: 'no readinessProbe: Ready follows Running, so only ready-grace judges — inside it',
      pod: running,
      events: failing(30),
      now: 60,
      expected: undefined,
    },
    {
      name: 'no readinessProbe: ready-grace (120 s) passed',
      pod: running,
      events: failing(30),
      now: 121,
      expected: 'NotReady',
    },
    {
      name: 'ready-grace never fires inside the probe window (initialDelaySeconds 300)',
      pod: withProbes(running, { readinessProbe: { ...readiness, initialDelaySeconds: 300 } }),
      events: [],
      now: 200,
      expected: undefined,
    },
    {
      name: 'ready-grace never fires inside the startup window (startupProbe only)',
      pod: withProbes(running, { startupProbe: startup }),
      events: [],
      now: 200,
      expected: undefined,
    },
    {
      name: 'ready-grace still catches a probed container whose failures were never seen',
      pod: base,
      events: [],
      now: 121,
      expected: 'NotReady',
    },
  ];
  it.each(cases)('$name → $expected', (c) => {
    expect(classifyPodFailure(c.pod, c.events, at(c.now), c.options)?.reason).toBe(c.expected);
  });

  it('names the container, quotes the newest probe failure with its count and the window', () => {
    const events = [
      unhealthy(base, REFUSED, ts(3), { count: 2 }),
      unhealthy(base, HTTP_503, ts(40), { count: 4 }),
    ];
    const f = classifyPodFailure(base, events, at(41));
    expect(f).toEqual({
      reason: 'ReadinessProbeFailed',
      container: 'api',
      restarts: 0,
      message:
        'running for 41s without becoming ready (readiness probe: initialDelaySeconds 0, periodSeconds 10, failureThreshold 3; allowed 30s): Readiness probe failed: HTTP probe failed with statuscode: 503 (x6)',
    });
  });

  it('readinessWindow: the API defaults and the startup allowance', () => {
    expect(readinessWindow(base, 'api')).toEqual({
      readiness: { initialDelaySeconds: 0, periodSeconds: 10, failureThreshold: 3 },
      notBeforeMs: 30_000,
    });
    expect(
      readinessWindow(withProbes(running, { readinessProbe: readiness, startupProbe: startup }), 'api')
        .notBeforeMs,
    ).toBe(330_000);
    expect(readinessWindow(running, 'api')).toEqual({ notBeforeMs: 0 });
  });

  it('readinessEventsWanted: only unready started containers with a readiness probe, past the window', () => {
    expect(readinessEventsWanted(base, at(29))).toBe(false);
    expect(readinessEventsWanted(base, at(30))).toBe(true);
    expect(readinessEventsWanted(running, at(300))).toBe(false);
    expect(readinessEventsWanted(withProbes(healthy, { readinessProbe: readiness }), at(300))).toBe(false);
    expect(readinessEventsWanted(base, at(300), { readinessProbes: false })).toBe(false);
  });
});

describe('ReadinessProbeFailed on pods captured from kubesim', () => {
  const captured = JSON.parse(
    readFileSync(join(import.meta.dirname, 'fixtures', 'kubesim-captured.json'), 'utf8'),
  ) as Record<string, { pod: Pod; events: KEvent[] }>;
  const started = (p: Pod): number =>
    Date.parse(p.status?.containerStatuses?.[0]?.state?.running?.startedAt ?? '');
  const c = (key: string): { pod: Pod; events: KEvent[] } => captured[key]!;

  it('never-ready with a readinessProbe (periodSeconds 1, failureThreshold 3): from 3 s', () => {
    const { pod, events } = c('neverReady');
    expect(classifyPodFailure(pod, events, started(pod) + 2_999)).toBeUndefined();
    const f = classifyPodFailure(pod, events, started(pod) + 3_000);
    expect(f).toMatchObject({ reason: 'ReadinessProbeFailed', container: 'app' });
    expect(f?.message).toContain('Readiness probe failed: HTTP probe failed with statuscode: 503 (x');
    // without the probe in the spec only ready-grace would judge it, two minutes later
    const bare = structuredClone(pod);
    delete bare.spec!.containers[0]!.readinessProbe;
    expect(classifyPodFailure(bare, events, started(pod) + 3_000)).toBeUndefined();
    expect(classifyPodFailure(bare, events, started(pod) + 120_000)?.reason).toBe('NotReady');
  });

  it('booting in its startup probe (started: false, Startup probe failed events): never judged', () => {
    const { pod, events } = c('startupBooting');
    expect(events.some((e) => e.message?.startsWith('Startup probe failed'))).toBe(true);
    expect(classifyPodFailure(pod, events, started(pod) + 3_600_000)).toBeUndefined();
  });

  it('started (tcpSocket) and warming with readiness failing: not before the startup window (60 s) + 3 s', () => {
    const { pod, events } = c('startupWarming');
    expect(classifyPodFailure(pod, events, started(pod) + 5_000)).toBeUndefined();
    expect(classifyPodFailure(pod, events, started(pod) + 62_999)).toBeUndefined();
    expect(classifyPodFailure(pod, events, started(pod) + 63_000)?.reason).toBe('ReadinessProbeFailed');
    // the startup probe is what protects it: without it the readiness window alone (3 s) has passed
    const bare = structuredClone(pod);
    delete bare.spec!.containers[0]!.startupProbe;
    expect(classifyPodFailure(bare, events, started(pod) + 5_000)?.reason).toBe('ReadinessProbeFailed');
  });
});
