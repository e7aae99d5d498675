/**
 * Deployment controller behaviours beyond the kubectl flows: the Recreate strategy (no old and
 * new pods at once), revisionHistoryLimit pruning, a paused Deployment holding its rollout,
 * surge limits during a RollingUpdate, and kubelet Killing events for deleted pods.
 */
import { request, type IncomingMessage } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Kubesim } from '../../sandbox/kubesim/index.js';
import type { Deployment, KObject, Pod, ReplicaSet } from '../../sandbox/kubesim/types.js';
import { eventually, startKubesim } from '../fixtures/kubesim.js';

let ks: Kubesim;
const DEPLOYMENTS = '/apis/apps/v1/namespaces/default/deployments';

async function call<T = KObject>(
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; body: T }> {
  const res = await fetch(ks.url + path, {
    method,
    headers: { 'Content-Type': contentType },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

function deployment(name: string, replicas: number, spec: Record<string, unknown> = {}): KObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'example.test/app:1' }] },
      },
      ...spec,
    },
  };
}

const setImage = (name: string, image: string) =>
  call(
    'PATCH',
    `${DEPLOYMENTS}/${name}`,
    { spec: { template: { spec: { containers: [{ name: 'app', image }] } } } },
    'application/strategic-merge-patch+json',
  );

const get = async (name: string): Promise<Deployment> =>
  (await call<Deployment>('GET', `${DEPLOYMENTS}/${name}`)).body;

const complete = (d: Deployment, image: string): boolean =>
  d.spec.template.spec?.containers[0]?.image === image &&
  d.status?.observedGeneration === d.metadata.generation &&
  d.status?.updatedReplicas === d.spec.replicas &&
  d.status?.availableReplicas === d.spec.replicas &&
  d.status?.replicas === d.spec.replicas;

/** Follows pod ADDED/DELETED events for one app and tracks the live set over time. */
function trackPods(app: string): { maxLive: () => number; overlap: () => boolean; stop(): void } {
  const live = new Map<string, string>();
  let maxLive = 0;
  let overlap = false;
  const req = request(
    `${ks.url}/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3D${app}`,
    (res: IncomingMessage) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const e = JSON.parse(buf.slice(0, nl)) as { type: string; object: Pod };
          buf = buf.slice(nl + 1);
          const name = e.object.metadata.name!;
          if (e.type === 'DELETED') live.delete(name);
          else live.set(name, e.object.spec.containers[0]!.image!);
          maxLive = Math.max(maxLive, live.size);
          if (new Set(live.values()).size > 1) overlap = true;
        }
      });
    },
  );
  req.on('error', () => undefined);
  req.end();
  return { maxLive: () => maxLive, overlap: () => overlap, stop: () => req.destroy() };
}

beforeAll(async () => {
  ks = await startKubesim({ clockSpeed: 20 });
});

describe('deployment controller', () => {
  it('Recreate: all old pods are gone before new ones start', async () => {
    expect(
      (await call('POST', DEPLOYMENTS, deployment('rc', 3, { strategy: { type: 'Recreate' } }))).status,
    ).toBe(201);
    await eventually(async () => complete(await get('rc'), 'example.test/app:1'));
    const t = trackPods('rc');
    await new Promise((r) => setTimeout(r, 100));
    await setImage('rc', 'example.test/app:2');
    await eventually(async () => complete(await get('rc'), 'example.test/app:2'));
    t.stop();
    expect(t.overlap()).toBe(false);
    expect((await get('rc')).spec.strategy).toEqual({ type: 'Recreate' });
  });

  it('RollingUpdate: never more than replicas + maxSurge pods', async () => {
    expect(
      (
        await call(
          'POST',
          DEPLOYMENTS,
          deployment('ru', 4, {
            strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          }),
        )
      ).status,
    ).toBe(201);
    await eventually(async () => complete(await get('ru'), 'example.test/app:1'));
    const t = trackPods('ru');
    await new Promise((r) => setTimeout(r, 100));
    await setImage('ru', 'example.test/app:2');
    await eventually(async () => complete(await get('ru'), 'example.test/app:2'));
    t.stop();
    expect(t.overlap()).toBe(true);
    expect(t.maxLive()).toBe(5);
  });

  it('prunes old ReplicaSets beyond revisionHistoryLimit', async () => {
    expect((await call('POST', DEPLOYMENTS, deployment('hist', 1, { revisionHistoryLimit: 1 }))).status).toBe(
      201,
    );
    for (const v of [2, 3, 4]) {
      await setImage('hist', `example.test/app:${v}`);
      await eventually(async () => complete(await get('hist'), `example.test/app:${v}`));
    }
    const rs = await eventually(async () => {
      const items = (
        await call<{ items: ReplicaSet[] }>(
          'GET',
          '/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dhist',
        )
      ).body.items;
      return items.length === 2 ? items : undefined;
    });
    expect(rs.map((r) => r.metadata.annotations?.['deployment.kubernetes.io/revision']).sort()).toEqual([
      '3',
      '4',
    ]);
  });

  it('a paused Deployment does not roll out until resumed', async () => {
    expect((await call('POST', DEPLOYMENTS, deployment('pz', 2))).status).toBe(201);
    await eventually(async () => complete(await get('pz'), 'example.test/app:1'));
    await call(
      'PATCH',
      `${DEPLOYMENTS}/pz`,
      { spec: { paused: true } },
      'application/strategic-merge-patch+json',
    );
    await setImage('pz', 'example.test/app:2');
    const paused = await eventually(async () => {
      const d = await get('pz');
      return d.status?.observedGeneration === d.metadata.generation ? d : undefined;
    });
    expect(paused.status?.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({
      status: 'Unknown',
      reason: 'DeploymentPaused',
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(
      (
        await call<{ items: ReplicaSet[] }>(
          'GET',
          '/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dpz',
        )
      ).body.items,
    ).toHaveLength(1);
    await call(
      'PATCH',
      `${DEPLOYMENTS}/pz`,
      { spec: { paused: null } },
      'application/strategic-merge-patch+json',
    );
    const done = await eventually(async () => {
      const d = await get('pz');
      return complete(d, 'example.test/app:2') ? d : undefined;
    });
    expect(done.status?.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe(
      'NewReplicaSetAvailable',
    );
  });

  it('the kubelet records Killing for pods deleted while running', async () => {
    const pods = (
      await call<{ items: Pod[] }>('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dpz')
    ).body.items;
    const victim = pods[0]!.metadata.name!;
    expect((await call('DELETE', `/api/v1/namespaces/default/pods/${victim}`)).status).toBe(200);
    const events = (
      await call<{ items: { reason: string; message: string }[] }>(
        'GET',
        `/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D${victim}`,
      )
    ).body.items;
    expect(events.some((e) => e.reason === 'Killing' && e.message === 'Stopping container app')).toBe(true);
    // and the ReplicaSet replaces it
    await eventually(async () => (await get('pz')).status?.availableReplicas === 2);
  });
});
