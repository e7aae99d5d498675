/**
 * The simulated kubelet pulls real images from a real registry and lets their behaviour label
 * decide each pod's fate; pods with ports and Services answer on loopback accordingly.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Kubesim } from '../../sandbox/kubesim/index.js';
import type { Job, KObject, Pod } from '../../sandbox/kubesim/types.js';
import { eventually, startKubesim } from '../fixtures/kubesim.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { pushBehaviorImage } from './push-image.js';

let ks: Kubesim;
let reg: RunningRegistry;
const img: Record<string, string> = {};

async function api<T = KObject>(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(ks.url + path, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text.startsWith('{') ? JSON.parse(text) : text) as T };
}

const podSpec = (name: string, image: string, extra: Record<string, unknown> = {}): KObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: name } },
  spec: { containers: [{ name: 'main', image, ports: [{ containerPort: 8080 }] }], ...extra },
});

async function createPod(name: string, image: string, extra: Record<string, unknown> = {}): Promise<void> {
  const r = await api('POST', '/api/v1/namespaces/default/pods', podSpec(name, image, extra));
  expect(r.status).toBe(201);
}

async function getPod(name: string): Promise<Pod> {
  return (await api<Pod>('GET', `/api/v1/namespaces/default/pods/${name}`)).body;
}

function ready(p: Pod): boolean {
  return (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

async function eventsFor(name: string): Promise<{ reason: string; message: string; type: string }[]> {
  const r = await api<{ items: { reason: string; message: string; type: string }[] }>(
    'GET',
    `/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D${name}`,
  );
  return r.body.items;
}

async function httpStatus(url: string): Promise<{ status: number; pod: string | null }> {
  const res = await fetch(url + '/healthz');
  await res.arrayBuffer();
  return { status: res.status, pod: res.headers.get('x-kubesim-pod') };
}

beforeAll(async () => {
  reg = await startRegistry();
  for (const b of [
    'healthy',
    'degraded',
    'crashloop',
    'never-ready',
    'slow-start=4',
    'oom',
    'exit=0',
    'exit=3',
  ]) {
    img[b] = (await pushBehaviorImage(reg.url, 'sim/app', b.replace(/[=]/g, '-'), b)).byDigest;
  }
  ks = await startKubesim({ registry: reg.host, clockSpeed: 20, foreignImages: 'pull-error' });
});

describe('kubelet: image pulls', () => {
  it('a missing image gives ErrImagePull, then ImagePullBackOff, and recovers once pushed', async () => {
    const ref = `${reg.host}/sim/late:v1`;
    await createPod('late', ref);
    const seen = new Set<string>();
    await eventually(
      async () => {
        const p = await getPod('late');
        const reason = p.status?.containerStatuses?.[0]?.state.waiting?.reason;
        if (reason) seen.add(reason);
        return seen.has('ErrImagePull') && seen.has('ImagePullBackOff');
      },
      15_000,
      'ErrImagePull then ImagePullBackOff',
    );
    const p = await getPod('late');
    expect(p.status?.phase).toBe('Pending');
    const events = await eventsFor('late');
    expect(
      events.some(
        (e) =>
          e.type === 'Warning' &&
          e.reason === 'Failed' &&
          e.message.startsWith(`Failed to pull image "${ref}"`),
      ),
    ).toBe(true);
    expect(
      events.some((e) => e.reason === 'BackOff' && e.message === `Back-off pulling image "${ref}"`),
    ).toBe(true);

    await pushBehaviorImage(reg.url, 'sim/late', 'v1', 'healthy');
    // the next pull (back-off 10 s simulated = 0.5 s) finds it
    const running = await eventually(
      async () => {
        const q = await getPod('late');
        return ready(q) ? q : undefined;
      },
      20_000,
      'late pod running after the push',
    );
    expect(running.status?.phase).toBe('Running');
    expect(running.status?.containerStatuses?.[0]?.imageID).toMatch(/@sha256:[0-9a-f]{64}$/);
  });

  it('an unknown digest in a known repository fails to pull', async () => {
    await createPod('nodigest', `${reg.host}/sim/app@sha256:${'0'.repeat(64)}`);
    const p = await eventually(async () => {
      const q = await getPod('nodigest');
      return q.status?.containerStatuses?.[0]?.state.waiting?.reason === 'ErrImagePull' ? q : undefined;
    });
    expect(p.status?.containerStatuses?.[0]?.state.waiting?.message).toContain('not found');
  });
});

describe('kubelet: behaviours', () => {
  it('healthy: Ready, endpoint answers 200; pod log has lines', async () => {
    await createPod('h', img.healthy!);
    const p = await eventually(async () => {
      const q = await getPod('h');
      return ready(q) && q.metadata.annotations?.['dev.gantry.sim/url'] ? q : undefined;
    });
    const url = p.metadata.annotations!['dev.gantry.sim/url']!;
    expect(ks.admin.podUrl('default', 'h')).toBe(url);
    const res = await fetch(url + '/anything');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', pod: 'h' });
    expect(p.status?.conditions?.map((c) => `${c.type}=${c.status}`).sort()).toEqual([
      'ContainersReady=True',
      'Initialized=True',
      'PodReadyToStartContainers=True',
      'PodScheduled=True',
      'Ready=True',
    ]);
    const events = (await eventsFor('h')).map((e) => e.reason);
    expect(events).toEqual(expect.arrayContaining(['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started']));
    const log = await api<string>('GET', '/api/v1/namespaces/default/pods/h/log');
    expect(log.status).toBe(200);
    expect(log.body).toContain('started container main');
  });

  it('degraded: Ready, but its endpoint answers 500', async () => {
    await createPod('dg', img.degraded!);
    await eventually(async () => ready(await getPod('dg')) && ks.admin.podUrl('default', 'dg'));
    expect((await httpStatus(ks.admin.podUrl('default', 'dg')!)).status).toBe(500);
  });

  it('never-ready: Running but not Ready, endpoint 503, Unhealthy events', async () => {
    await createPod('nr', img['never-ready']!);
    const p = await eventually(async () => {
      const q = await getPod('nr');
      return q.status?.phase === 'Running' && ks.admin.podUrl('default', 'nr') ? q : undefined;
    });
    expect(ready(p)).toBe(false);
    expect(p.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [main]',
    });
    expect((await httpStatus(ks.admin.podUrl('default', 'nr')!)).status).toBe(503);
    await eventually(async () =>
      (await eventsFor('nr')).some(
        (e) => e.reason === 'Unhealthy' && e.message.startsWith('Readiness probe failed'),
      ),
    );
  });

  it('slow-start=4: becomes Ready only after ~4 simulated seconds', async () => {
    const t0 = Date.now();
    await createPod('slow', img['slow-start=4']!);
    await eventually(async () => (await getPod('slow')).status?.phase === 'Running');
    expect(ready(await getPod('slow'))).toBe(false);
    await eventually(async () => ready(await getPod('slow')));
    // 4 s simulated at speed 20 = 200 ms, plus the pull and start
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
  });

  it('crashloop: exits, CrashLoopBackOff, restartCount grows', async () => {
    await createPod('cl', img.crashloop!);
    const reasons = new Set<string>();
    const p = await eventually(
      async () => {
        const q = await getPod('cl');
        const cs = q.status?.containerStatuses?.[0];
        if (cs?.state.waiting?.reason) reasons.add(cs.state.waiting.reason);
        return (cs?.restartCount ?? 0) >= 2 && reasons.has('CrashLoopBackOff') ? q : undefined;
      },
      20_000,
      'two restarts',
    );
    const cs = p.status!.containerStatuses![0]!;
    expect(cs.lastState.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    expect(ready(p)).toBe(false);
    expect(
      (await eventsFor('cl')).some(
        (e) =>
          e.reason === 'BackOff' &&
          e.message.startsWith('Back-off restarting failed container main in pod cl_default('),
      ),
    ).toBe(true);
    const prev = await api<string>('GET', '/api/v1/namespaces/default/pods/cl/log?previous=true');
    expect(prev.body).toContain('panic: simulated crash');
  });

  it('oom: OOMKilled with exit code 137', async () => {
    await createPod('oom', img.oom!);
    const p = await eventually(async () => {
      const q = await getPod('oom');
      const cs = q.status?.containerStatuses?.[0];
      return (cs?.lastState.terminated ?? cs?.state.terminated) ? q : undefined;
    });
    const cs = p.status!.containerStatuses![0]!;
    expect(cs.lastState.terminated ?? cs.state.terminated).toMatchObject({
      exitCode: 137,
      reason: 'OOMKilled',
    });
  });
});

describe('kubelet + job controller', () => {
  const job = (name: string, image: string, backoffLimit: number): KObject => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: {
      backoffLimit,
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'migrate', image }] } },
    },
  });

  it('exit=0 completes the Job', async () => {
    expect(
      (await api('POST', '/apis/batch/v1/namespaces/default/jobs', job('migrate-ok', img['exit=0']!, 2)))
        .status,
    ).toBe(201);
    const j = await eventually(async () => {
      const r = await api<Job>('GET', '/apis/batch/v1/namespaces/default/jobs/migrate-ok');
      return r.body.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True')
        ? r.body
        : undefined;
    });
    expect(j.status?.succeeded).toBe(1);
    expect(j.status?.completionTime).toBeDefined();
  });

  it('exit=3 fails the Job after backoffLimit', async () => {
    expect(
      (await api('POST', '/apis/batch/v1/namespaces/default/jobs', job('migrate-bad', img['exit=3']!, 1)))
        .status,
    ).toBe(201);
    const j = await eventually(
      async () => {
        const r = await api<Job>('GET', '/apis/batch/v1/namespaces/default/jobs/migrate-bad');
        return r.body.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True')
          ? r.body
          : undefined;
      },
      30_000,
      'job failure',
    );
    expect(j.status?.failed).toBe(2);
    expect(j.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({
      reason: 'BackoffLimitExceeded',
      message: 'Job has reached the specified backoff limit',
    });
    const pods = await api<{ items: Pod[] }>(
      'GET',
      '/api/v1/namespaces/default/pods?labelSelector=job-name%3Dmigrate-bad',
    );
    expect(
      pods.body.items.map((p) => [
        p.status?.phase,
        p.status?.containerStatuses?.[0]?.state.terminated?.exitCode,
      ]),
    ).toEqual([
      ['Failed', 3],
      ['Failed', 3],
    ]);
  });
});

describe('services on loopback', () => {
  const dep = (name: string, image: string, replicas: number): KObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'web', image, ports: [{ containerPort: 8080 }] }] },
      },
    },
  });
  const svc = (name: string): KObject => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] },
  });

  it('round-robins over ready pods; 500 for a degraded release; 503 without endpoints', async () => {
    expect((await api('POST', '/api/v1/namespaces/default/services', svc('shop'))).status).toBe(201);
    const url = (await ks.admin.serviceUrl('default', 'shop'))!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await httpStatus(url)).status).toBe(503);

    expect(
      (await api('POST', '/apis/apps/v1/namespaces/default/deployments', dep('shop', img.healthy!, 2)))
        .status,
    ).toBe(201);
    await eventually(
      async () =>
        (
          await api<{ status?: { availableReplicas?: number } }>(
            'GET',
            '/apis/apps/v1/namespaces/default/deployments/shop',
          )
        ).body.status?.availableReplicas === 2,
    );
    const pods = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const r = await httpStatus(url);
      expect(r.status).toBe(200);
      pods.add(r.pod!);
    }
    expect(pods.size).toBe(2);
    expect(await ks.admin.serviceUrls()).toMatchObject({ 'default/shop': url });

    // roll out a degraded image: same URL, now 500s once the new pods took over
    const patch = await fetch(`${ks.url}/apis/apps/v1/namespaces/default/deployments/shop`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/strategic-merge-patch+json' },
      body: JSON.stringify({
        spec: { template: { spec: { containers: [{ name: 'web', image: img.degraded }] } } },
      }),
    });
    expect(patch.status).toBe(200);
    await eventually(
      async () => {
        const codes = await Promise.all([httpStatus(url), httpStatus(url)]);
        return codes.every((c) => c.status === 500);
      },
      15_000,
      'degraded pods behind the service',
    );
  });
});
