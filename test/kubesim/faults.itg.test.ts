/**
 * Fault injection through the admin API (typed and HTTP): injected errors, Retry-After,
 * 409 storms and real optimistic-concurrency conflicts, latency, a lost node whose pods are
 * evicted and rescheduled, and a paused controller — each visible to real clients and logged.
 */
import http from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Kubesim } from '../../sandbox/kubesim/index.js';
import type { Deployment, KObject, Pod } from '../../sandbox/kubesim/types.js';
import { eventually, hasKubectl, kubectlFor, startKubesim, type Kubectl } from '../fixtures/kubesim.js';

async function call<T = KObject>(
  ks: Kubesim,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(ks.url + path, {
    method,
    headers: { 'Content-Type': contentType },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: (text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text) as T,
    headers: res.headers,
  };
}

const deployment = (name: string, replicas: number, image = 'example.test/app:1'): KObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }] } },
  },
});

const DEPLOYMENTS = '/apis/apps/v1/namespaces/default/deployments';

describe('request faults', () => {
  let ks: Kubesim;
  let k: Kubectl | undefined;
  beforeAll(async () => {
    ks = await startKubesim({ clockSpeed: 20 });
    if (hasKubectl(31)) k = await kubectlFor(31, ks.kubeconfig);
    expect((await call(ks, 'POST', DEPLOYMENTS, deployment('api', 1))).status).toBe(201);
  });

  it('fails a verb on a resource with the injected status, a fixed number of times', async () => {
    ks.admin.injectFault({ type: 'error', verbs: ['get'], resource: 'deployments', code: 503, count: 1 });
    const r = await call<{ kind: string; reason: string; code: number }>(ks, 'GET', `${DEPLOYMENTS}/api`);
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable', code: 503 });
    expect((await call(ks, 'GET', `${DEPLOYMENTS}/api`)).status).toBe(200);
    // list is another verb: untouched
    ks.admin.injectFault({ type: 'error', verbs: ['get'], resource: 'deployments', code: 500, count: 1 });
    expect((await call(ks, 'GET', DEPLOYMENTS)).status).toBe(200);
    if (k) {
      const out = await k('get', 'deployment', 'api');
      expect(out.code).toBe(1);
      expect(out.stderr).toContain('Error from server (InternalError)');
    }
    ks.admin.clearFaults();
  });

  it('answers 429 with Retry-After', async () => {
    const id = ks.admin.injectFault({
      type: 'error',
      resource: 'deployments',
      code: 429,
      retryAfterSeconds: 2,
      count: 1,
    });
    const r = await call<{ reason: string; details: { retryAfterSeconds: number } }>(ks, 'GET', DEPLOYMENTS);
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('2');
    expect(r.body).toMatchObject({ reason: 'TooManyRequests', details: { retryAfterSeconds: 2 } });
    expect(ks.admin.faults().find((f) => f.id === id)?.hits).toBe(1);
  });

  it('injects errors at a rate', async () => {
    ks.admin.injectFault({ type: 'error', verbs: ['list'], resource: 'configmaps', code: 500, rate: 0.5 });
    const codes = await Promise.all(
      Array.from({ length: 200 }, () =>
        call(ks, 'GET', '/api/v1/namespaces/default/configmaps').then((r) => r.status),
      ),
    );
    const failed = codes.filter((c) => c === 500).length;
    expect(failed).toBeGreaterThan(50);
    expect(failed).toBeLessThan(150);
    ks.admin.clearFaults();
  });

  it('stale resourceVersions conflict; a 409 storm rejects writes that would otherwise succeed', async () => {
    const cur = (await call<Deployment>(ks, 'GET', `${DEPLOYMENTS}/api`)).body;
    const stale = { ...cur, metadata: { ...cur.metadata, resourceVersion: '1' } };
    const r = await call<{ reason: string; message: string }>(ks, 'PUT', `${DEPLOYMENTS}/api`, stale);
    expect(r.status).toBe(409);
    expect(r.body.message).toBe(
      'Operation cannot be fulfilled on deployments.apps "api": the object has been modified; please apply your changes to the latest version and try again',
    );

    ks.admin.injectFault({ type: 'conflict', resource: 'deployments', count: 3 });
    const body = { metadata: { labels: { touched: 'yes' } } };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push(
        (await call(ks, 'PATCH', `${DEPLOYMENTS}/api`, body, 'application/merge-patch+json')).status,
      );
    expect(statuses).toEqual([409, 409, 409, 200]);
    // reads are not affected by a conflict storm
    ks.admin.injectFault({ type: 'conflict', resource: 'deployments', count: 1 });
    expect((await call(ks, 'GET', `${DEPLOYMENTS}/api`)).status).toBe(200);
    ks.admin.clearFaults();
  });

  it('adds latency', async () => {
    ks.admin.injectFault({ type: 'latency', verbs: ['list'], resource: 'pods', ms: 300 });
    const t0 = Date.now();
    expect((await call(ks, 'GET', '/api/v1/namespaces/default/pods')).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    ks.admin.clearFaults();
  });

  it('a watch dropped after N events delivers those N events, then ends', async () => {
    const list = await call<{ metadata: { resourceVersion: string } }>(ks, 'GET', DEPLOYMENTS);
    ks.admin.injectFault({ type: 'drop-watch', resource: 'deployments', afterEvents: 1 });
    // node:http rather than fetch: a cut chunked stream still hands over the bytes that arrived
    const received = new Promise<string>((resolve) => {
      const req = http.get(
        `${ks.url}${DEPLOYMENTS}?watch=true&resourceVersion=${list.body.metadata.resourceVersion}`,
        (res) => {
          let data = '';
          res.on('data', (d: Buffer) => (data += d.toString()));
          res.on('close', () => resolve(data));
          res.on('error', () => resolve(data));
        },
      );
      req.on('error', () => resolve(''));
    });
    await new Promise((r) => setTimeout(r, 100));
    expect((await call(ks, 'POST', DEPLOYMENTS, deployment('dropped-watch', 1))).status).toBe(201);
    const text = await received;
    ks.admin.clearFaults();
    // the one event the fault promises arrives whole before the connection is cut
    const events = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; object: KObject });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'dropped-watch' } } });
  });

  it('is controllable over HTTP and every fault is logged', async () => {
    const armed = await call<{ id: string }>(ks, 'POST', '/_kubesim/faults', {
      type: 'error',
      verbs: ['delete'],
      resource: 'deployments',
      code: 500,
    });
    expect(armed.status).toBe(201);
    expect((await call(ks, 'DELETE', `${DEPLOYMENTS}/api`)).status).toBe(500);
    const listed = await call<{ id: string; hits: number }[]>(ks, 'GET', '/_kubesim/faults');
    expect(listed.body).toEqual([expect.objectContaining({ id: armed.body.id, hits: 1 })]);
    expect((await call(ks, 'DELETE', `/_kubesim/faults/${armed.body.id}`)).status).toBe(200);
    const log = (await call<string>(ks, 'GET', '/_kubesim/logs')).body;
    expect(log).toContain(`fault ${armed.body.id} armed`);
    expect(log).toContain(
      `fault ${armed.body.id} (error) injected on delete deployments ns=default name=api: 500 InternalError`,
    );
  });
});

describe('cluster faults', () => {
  let ks: Kubesim;
  beforeAll(async () => {
    // speed 100: the 5-minute eviction after a node loss takes 3 s
    ks = await startKubesim({ clockSpeed: 100 });
  });

  const pods = async (app: string): Promise<Pod[]> =>
    (await call<{ items: Pod[] }>(ks, 'GET', `/api/v1/namespaces/default/pods?labelSelector=app%3D${app}`))
      .body.items;
  const status = async (name: string) => (await call<Deployment>(ks, 'GET', `${DEPLOYMENTS}/${name}`)).body;

  it('a lost node: its pods turn NotReady, are evicted after 5 minutes and rescheduled elsewhere', async () => {
    expect((await call(ks, 'POST', DEPLOYMENTS, deployment('spread', 4))).status).toBe(201);
    await eventually(async () => (await status('spread')).status?.availableReplicas === 4);
    const nodes = new Set((await pods('spread')).map((p) => p.spec.nodeName));
    expect(nodes).toEqual(new Set(['kubesim-node-1', 'kubesim-node-2']));

    const lost = ks.admin.loseNode('kubesim-node-1');
    expect(lost).toBe('kubesim-node-1');
    const onLost = (await pods('spread')).filter((p) => p.spec.nodeName === lost);
    expect(onLost.length).toBe(2);
    for (const p of onLost)
      expect(p.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
        status: 'False',
        reason: 'NodeNotReady',
      });
    await eventually(
      async () => (await status('spread')).status?.availableReplicas === 2,
      5000,
      'availability drops to 2',
    );
    const node = (
      await call<{ status: { conditions: { type: string; status: string }[] } }>(
        ks,
        'GET',
        '/api/v1/nodes/kubesim-node-1',
      )
    ).body;
    expect(node.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('Unknown');

    // eviction (300 s simulated) and rescheduling on the remaining node
    await eventually(
      async () => {
        const ps = await pods('spread');
        return (
          ps.length === 4 &&
          ps.every((p) => p.spec.nodeName === 'kubesim-node-2') &&
          (await status('spread')).status?.availableReplicas === 4
        );
      },
      15_000,
      'pods rescheduled on kubesim-node-2',
    );
    ks.admin.restoreNode('kubesim-node-1');
    expect(ks.admin.logs().some((l) => l.includes('node kubesim-node-1 lost'))).toBe(true);
  });

  it('a paused deployment controller leaves a new generation unobserved until resumed', async () => {
    expect((await call(ks, 'POST', DEPLOYMENTS, deployment('held', 2))).status).toBe(201);
    await eventually(async () => (await status('held')).status?.availableReplicas === 2);
    const http = await call(ks, 'POST', '/_kubesim/controllers/deployment/pause');
    expect(http.status).toBe(200);
    const patch = {
      spec: { template: { spec: { containers: [{ name: 'app', image: 'example.test/app:2' }] } } },
    };
    expect(
      (await call(ks, 'PATCH', `${DEPLOYMENTS}/held`, patch, 'application/strategic-merge-patch+json'))
        .status,
    ).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    let d = await status('held');
    expect(d.metadata.generation).toBe(2);
    expect(d.status?.observedGeneration).toBe(1);
    ks.admin.resumeController('deployment');
    d = await eventually(async () => {
      const x = await status('held');
      return x.status?.observedGeneration === 2 &&
        x.status.updatedReplicas === 2 &&
        x.status.availableReplicas === 2 &&
        x.status.replicas === 2
        ? x
        : undefined;
    });
    expect(d.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
  });
});
