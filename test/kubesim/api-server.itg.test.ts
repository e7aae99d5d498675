/**
 * API-server semantics over plain HTTP, as client libraries rely on them: watch resume,
 * bookmarks, 410 Expired, selector transitions and timeouts; pagination; dry-run;
 * generateName; validation, immutability and namespace errors; delete cascades.
 */
import { request, type IncomingMessage } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Kubesim } from '../../sandbox/kubesim/index.js';
import type { KObject } from '../../sandbox/kubesim/types.js';
import { eventually, startKubesim } from '../fixtures/kubesim.js';

let ks: Kubesim;

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
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

interface WatchEvent {
  type: string;
  object: KObject & { code?: number; reason?: string };
}

/** Opens a watch and collects events; `ended` resolves when the server ends the stream. */
function openWatch(path: string): { events: WatchEvent[]; ended: Promise<void>; close(): void } {
  const events: WatchEvent[] = [];
  let close = (): void => undefined;
  const ended = new Promise<void>((resolve) => {
    const req = request(ks.url + path, (res: IncomingMessage) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, nl)) as WatchEvent);
          buf = buf.slice(nl + 1);
        }
      });
      res.on('end', () => resolve());
      res.on('close', () => resolve());
    });
    req.on('error', () => resolve());
    req.end();
    close = () => req.destroy();
  });
  return { events, ended, close };
}

const cm = (name: string, labels: Record<string, string> = {}): KObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, labels },
  data: { k: name },
});
const CMS = '/api/v1/namespaces/default/configmaps';

beforeAll(async () => {
  ks = await startKubesim({ clockSpeed: 20, historySize: 50, bookmarkIntervalSeconds: 2 });
});

describe('watch', () => {
  it('resumes from a resourceVersion, sends bookmarks, and maps selector transitions to ADDED/DELETED', async () => {
    const list = await call<{ metadata: { resourceVersion: string } }>('GET', CMS);
    const w = openWatch(
      `${CMS}?watch=true&resourceVersion=${list.body.metadata.resourceVersion}&labelSelector=tier%3Dweb&allowWatchBookmarks=true`,
    );
    await call('POST', CMS, cm('a', { tier: 'web' }));
    await call('POST', CMS, cm('b', { tier: 'db' }));
    await call(
      'PATCH',
      `${CMS}/b`,
      { metadata: { labels: { tier: 'web' } } },
      'application/merge-patch+json',
    );
    await call('PATCH', `${CMS}/a`, { metadata: { labels: { tier: 'db' } } }, 'application/merge-patch+json');
    await call('DELETE', `${CMS}/b`);
    // bookmarks every 2 simulated seconds = 100 ms at speed 20
    await eventually(() => w.events.some((e) => e.type === 'BOOKMARK'), 5000, 'a bookmark');
    w.close();
    const changes = w.events
      .filter((e) => e.type !== 'BOOKMARK')
      .map((e) => `${e.type} ${e.object.metadata.name}`);
    expect(changes).toEqual(['ADDED a', 'ADDED b', 'DELETED a', 'DELETED b']);
    const bm = w.events.find((e) => e.type === 'BOOKMARK')!;
    expect(bm.object).toEqual({
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { resourceVersion: expect.stringMatching(/^\d+$/) },
    });
  });

  it('without a resourceVersion starts with the current state; timeoutSeconds ends the stream', async () => {
    await call('POST', CMS, cm('present'));
    const t0 = Date.now();
    const w = openWatch(`${CMS}?watch=true&fieldSelector=metadata.name%3Dpresent&timeoutSeconds=1`);
    await w.ended;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(w.events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED present']);
  });

  it('answers a too-old resourceVersion with an ERROR event carrying 410 Expired', async () => {
    const start = await call<{ metadata: { resourceVersion: string } }>('GET', CMS);
    // history holds 50 events: overflow it
    for (let i = 0; i < 60; i++) await call('POST', CMS, cm(`filler-${i}`));
    const w = openWatch(`${CMS}?watch=true&resourceVersion=${start.body.metadata.resourceVersion}`);
    await w.ended;
    expect(w.events).toHaveLength(1);
    expect(w.events[0]).toMatchObject({
      type: 'ERROR',
      object: { kind: 'Status', code: 410, reason: 'Expired' },
    });
    expect(String((w.events[0]!.object as { message?: string }).message)).toMatch(
      /^too old resource version: \d+ \(\d+\)$/,
    );
  });
});

describe('requests', () => {
  it('paginates with limit and continue', async () => {
    for (const n of ['p1', 'p2', 'p3'])
      await call('POST', '/api/v1/namespaces/default/secrets', {
        metadata: { name: n },
        stringData: { a: 'b' },
      });
    const page1 = await call<{
      items: KObject[];
      metadata: { continue?: string; remainingItemCount?: number };
    }>('GET', '/api/v1/namespaces/default/secrets?limit=2');
    expect(page1.body.items.map((i) => i.metadata.name)).toEqual(['p1', 'p2']);
    expect(page1.body.metadata.remainingItemCount).toBe(1);
    const page2 = await call<{ items: KObject[]; metadata: { continue?: string } }>(
      'GET',
      `/api/v1/namespaces/default/secrets?limit=2&continue=${page1.body.metadata.continue}`,
    );
    expect(page2.body.items.map((i) => i.metadata.name)).toEqual(['p3']);
    expect(page2.body.metadata.continue).toBeUndefined();
    expect((page1.body.items[0] as { type?: string }).type).toBe('Opaque');
  });

  it('dryRun=All validates and answers without storing', async () => {
    const r = await call('POST', `${CMS}?dryRun=All`, cm('dry'));
    expect(r.status).toBe(201);
    expect((await call('GET', `${CMS}/dry`)).status).toBe(404);
    await call('POST', CMS, cm('wet'));
    const p = await call<KObject>(
      'PATCH',
      `${CMS}/wet?dryRun=All`,
      { data: { k: 'changed' } },
      'application/merge-patch+json',
    );
    expect(p.body.data).toEqual({ k: 'changed' });
    expect((await call('GET', `${CMS}/wet`)).body.data).toEqual({ k: 'wet' });
  });

  it('generateName gives a random suffix; AlreadyExists, NotFound and Invalid are Status bodies', async () => {
    const g = await call('POST', CMS, { metadata: { generateName: 'gen-' }, data: {} });
    expect(g.body.metadata.name).toMatch(/^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    const dup = await call<{ reason: string; message: string; code: number }>('POST', CMS, cm('wet'));
    expect(dup.body).toMatchObject({
      kind: 'Status',
      reason: 'AlreadyExists',
      message: 'configmaps "wet" already exists',
      code: 409,
    });
    const nsMissing = await call<{ message: string }>('POST', '/api/v1/namespaces/nope/configmaps', cm('x'));
    expect(nsMissing).toMatchObject({ status: 404, body: { message: 'namespaces "nope" not found' } });
    const bad = await call<{ reason: string; message: string }>(
      'POST',
      '/apis/apps/v1/namespaces/default/deployments',
      {
        metadata: { name: 'bad' },
        spec: {
          selector: { matchLabels: { app: 'x' } },
          template: { metadata: { labels: { app: 'y' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
        },
      },
    );
    expect(bad.status).toBe(422);
    expect(bad.body.message).toBe(
      'Deployment.apps "bad" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"y"}: `selector` does not match template `labels`',
    );
  });

  it('rejects changing an immutable Deployment selector', async () => {
    const d = {
      metadata: { name: 'imm' },
      spec: {
        selector: { matchLabels: { app: 'imm' } },
        template: {
          metadata: { labels: { app: 'imm', v: '1' } },
          spec: { containers: [{ name: 'c', image: 'i' }] },
        },
      },
    };
    expect((await call('POST', '/apis/apps/v1/namespaces/default/deployments', d)).status).toBe(201);
    const r = await call<{ reason: string; message: string }>(
      'PATCH',
      '/apis/apps/v1/namespaces/default/deployments/imm',
      { spec: { selector: { matchLabels: { app: 'imm', v: '1' } } } },
      'application/merge-patch+json',
    );
    expect(r.status).toBe(422);
    expect(r.body.message).toContain('spec.selector: Invalid value');
    expect(r.body.message).toContain('field is immutable');
  });

  it('deleting a namespace deletes what is in it; Orphan keeps dependents', async () => {
    expect((await call('POST', '/api/v1/namespaces', { metadata: { name: 'tmp' } })).status).toBe(201);
    expect((await call('POST', '/api/v1/namespaces/tmp/configmaps', cm('inside'))).status).toBe(201);
    expect((await call('DELETE', '/api/v1/namespaces/tmp')).status).toBe(200);
    expect((await call('GET', '/api/v1/namespaces/tmp/configmaps/inside')).status).toBe(404);

    const d = {
      metadata: { name: 'orph' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'orph' } },
        template: {
          metadata: { labels: { app: 'orph' } },
          spec: { containers: [{ name: 'c', image: 'i' }] },
        },
      },
    };
    expect((await call('POST', '/apis/apps/v1/namespaces/default/deployments', d)).status).toBe(201);
    await eventually(
      async () =>
        (
          await call<{ items: KObject[] }>(
            'GET',
            '/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dorph',
          )
        ).body.items.length === 1,
    );
    expect(
      (
        await call('DELETE', '/apis/apps/v1/namespaces/default/deployments/orph', {
          propagationPolicy: 'Orphan',
        })
      ).status,
    ).toBe(200);
    const rs = (
      await call<{ items: KObject[] }>(
        'GET',
        '/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dorph',
      )
    ).body.items;
    expect(rs).toHaveLength(1);
    expect(rs[0]!.metadata.ownerReferences).toBeUndefined();
  });

  it('serves the scale subresource', async () => {
    const d = {
      metadata: { name: 'sc' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'sc' } },
        template: { metadata: { labels: { app: 'sc' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      },
    };
    expect((await call('POST', '/apis/apps/v1/namespaces/default/deployments', d)).status).toBe(201);
    const s = await call<{ kind: string; spec: { replicas: number }; status: { selector: string } }>(
      'GET',
      '/apis/apps/v1/namespaces/default/deployments/sc/scale',
    );
    expect(s.body).toMatchObject({ kind: 'Scale', spec: { replicas: 1 }, status: { selector: 'app=sc' } });
    const p = await call<{ spec: { replicas: number } }>(
      'PATCH',
      '/apis/apps/v1/namespaces/default/deployments/sc/scale',
      { spec: { replicas: 4 } },
      'application/merge-patch+json',
    );
    expect(p.body.spec.replicas).toBe(4);
    const after = await call<{ spec: { replicas: number } }>(
      'GET',
      '/apis/apps/v1/namespaces/default/deployments/sc',
    );
    expect(after.body.spec.replicas).toBe(4);
  });
});
