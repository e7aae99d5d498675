/**
 * The kubelet runs the pod spec's startupProbe and readinessProbe on their own timings
 * (simulated seconds, clock ×20 here): Unhealthy events every periodSeconds while unready,
 * `started: false` until the startup probe passes, readiness not probed before that, and a
 * container killed and restarted when its startup probe fails failureThreshold times.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kubesim } from '../../sandbox/kubesim/index.js';
import { probeSpec } from '../../sandbox/kubesim/kubelet.js';
import type { Pod } from '../../sandbox/kubesim/types.js';
import { eventually, startKubesim } from '../fixtures/kubesim.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { pushBehaviorImage } from './push-image.js';

const SPEED = 20;
let ks: Kubesim;
let reg: RunningRegistry;
const img: Record<string, string> = {};

interface Ev {
  reason: string;
  message: string;
  type: string;
  count?: number;
  involvedObject?: { fieldPath?: string };
}

async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(ks.url + path, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** Creates a pod with one container `main` carrying the given probes; returns the wall time. */
async function createPod(name: string, image: string, probes: Record<string, unknown>): Promise<number> {
  const r = await api('POST', '/api/v1/namespaces/default/pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: { containers: [{ name: 'main', image, ports: [{ containerPort: 8080 }], ...probes }] },
  });
  expect(r.status).toBe(201);
  return Date.now();
}

const getPod = async (name: string): Promise<Pod> =>
  (await api<Pod>('GET', `/api/v1/namespaces/default/pods/${name}`)).body;

const ready = (p: Pod): boolean =>
  (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

async function events(name: string): Promise<Ev[]> {
  return (
    await api<{ items: Ev[] }>(
      'GET',
      `/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D${name}`,
    )
  ).body.items;
}

const failures = (evs: Ev[], kind: 'Readiness' | 'Startup'): number =>
  evs
    .filter(
      (e) => e.type === 'Warning' && e.reason === 'Unhealthy' && e.message.startsWith(`${kind} probe failed`),
    )
    .reduce((n, e) => n + (e.count ?? 1), 0);

const sim = (simMs: number): Promise<void> => new Promise((r) => setTimeout(r, simMs / SPEED));

beforeAll(async () => {
  reg = await startRegistry();
  for (const b of ['never-ready', 'slow-start=4', 'slow-start=8']) {
    img[b] = (await pushBehaviorImage(reg.url, 'sim/probe', b.replace(/[=]/g, '-'), b)).byDigest;
  }
  ks = await startKubesim({ registry: reg.host, clockSpeed: SPEED });
});
afterAll(async () => {
  await ks?.stop();
  await reg?.stop();
});

describe('probeSpec', () => {
  it('applies the Kubernetes API defaults', () => {
    expect(probeSpec({ httpGet: { path: '/ready', port: 8080 } })).toEqual({
      handler: 'httpGet',
      initialDelayMs: 0,
      periodMs: 10_000,
      failureThreshold: 3,
      successThreshold: 1,
      target: '8080/ready',
    });
    expect(
      probeSpec({ tcpSocket: { port: 80 }, periodSeconds: 2, failureThreshold: 5, initialDelaySeconds: 7 }),
    ).toMatchObject({ handler: 'tcpSocket', initialDelayMs: 7000, periodMs: 2000, failureThreshold: 5 });
    expect(probeSpec(undefined)).toBeUndefined();
  });
});

describe('readinessProbe', () => {
  it('never-ready: an Unhealthy event every periodSeconds, worded like the kubelet', async () => {
    const t0 = await createPod('nr-period', img['never-ready']!, {
      readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 2 },
    });
    const p = await eventually(async () => {
      const q = await getPod('nr-period');
      return q.status?.phase === 'Running' ? q : undefined;
    });
    expect(p.status?.containerStatuses?.[0]).toMatchObject({ ready: false, started: true });
    // first probe 1 s after start, then every 2 s: by 12 s simulated at least 5 failures
    await sim(12_000 - (Date.now() - t0) * SPEED);
    const evs = await events('nr-period');
    expect(failures(evs, 'Readiness')).toBeGreaterThanOrEqual(4);
    const e = evs.find((x) => x.reason === 'Unhealthy')!;
    expect(e).toMatchObject({
      type: 'Warning',
      message: 'Readiness probe failed: HTTP probe failed with statuscode: 503',
      involvedObject: { fieldPath: 'spec.containers{main}' },
    });
    expect(failures(evs, 'Startup')).toBe(0);
    expect(ready(await getPod('nr-period'))).toBe(false);
  });

  it('slow-start=4 with a readiness probe: Ready at the first probe after 4 s, failures before', async () => {
    const t0 = await createPod('slow-r', img['slow-start=4']!, {
      readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1 },
    });
    await eventually(async () => ready(await getPod('slow-r')), 10_000, 'ready');
    expect((Date.now() - t0) * SPEED).toBeGreaterThanOrEqual(4000);
    expect(failures(await events('slow-r'), 'Readiness')).toBeGreaterThanOrEqual(2);
  });
});

describe('startupProbe', () => {
  it('slow-start=4 within the startup window: started false, readiness not probed, then Ready without a restart', async () => {
    await createPod('slow-s', img['slow-start=4']!, {
      startupProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1, failureThreshold: 10 },
      readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1 },
    });
    const starting = await eventually(async () => {
      const q = await getPod('slow-s');
      return q.status?.phase === 'Running' ? q : undefined;
    });
    expect(starting.status?.containerStatuses?.[0]).toMatchObject({ started: false, ready: false });
    const p = await eventually(async () => {
      const q = await getPod('slow-s');
      return ready(q) ? q : undefined;
    }, 10_000);
    expect(p.status?.containerStatuses?.[0]).toMatchObject({ started: true, ready: true, restartCount: 0 });
    const evs = await events('slow-s');
    expect(failures(evs, 'Startup')).toBeGreaterThanOrEqual(2);
    // startup failures are not readiness failures: readiness was not probed before the start
    expect(failures(evs, 'Readiness')).toBe(0);
    expect(evs.find((e) => e.message.startsWith('Startup probe failed'))?.message).toBe(
      'Startup probe failed: HTTP probe failed with statuscode: 503',
    );
  });

  it('slow-start=8 beyond the startup window: killed after failureThreshold failures and restarted', async () => {
    await createPod('slow-k', img['slow-start=8']!, {
      startupProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1, failureThreshold: 3 },
    });
    const p = await eventually(
      async () => {
        const q = await getPod('slow-k');
        return (q.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 ? q : undefined;
      },
      10_000,
      'a restart',
    );
    expect(p.status?.containerStatuses?.[0]?.lastState.terminated).toMatchObject({
      exitCode: 137,
      reason: 'Error',
    });
    const evs = await events('slow-k');
    expect(
      evs.some(
        (e) =>
          e.reason === 'Killing' && e.message === 'Container main failed startup probe, will be restarted',
      ),
    ).toBe(true);
    expect(ready(p)).toBe(false);
  });

  it('a tcpSocket startup probe passes at once; the httpGet readiness probe then fails until the app is up', async () => {
    const t0 = await createPod('tcp-s', img['slow-start=4']!, {
      startupProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1, failureThreshold: 30 },
      readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1 },
    });
    await eventually(async () => (await getPod('tcp-s')).status?.containerStatuses?.[0]?.started === true);
    expect(ready(await getPod('tcp-s'))).toBe(false);
    await eventually(async () => ready(await getPod('tcp-s')), 10_000, 'ready');
    expect((Date.now() - t0) * SPEED).toBeGreaterThanOrEqual(4000);
    const evs = await events('tcp-s');
    expect(failures(evs, 'Startup')).toBe(0);
    expect(failures(evs, 'Readiness')).toBeGreaterThanOrEqual(1);
  });
});
