/**
 * @kubernetes/client-node (1.x) against kubesim over HTTPS with a bearer token: create, patch
 * (strategic merge, as gantry sends it), list with a label selector, and a watch that kubesim
 * drops mid-rollout and the client resumes from its last resourceVersion without losing events.
 */
import * as k8s from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Kubesim } from '../../sandbox/kubesim/index.js';
import { startKubesim } from '../fixtures/kubesim.js';

let ks: Kubesim;
let kc: k8s.KubeConfig;
let apps: k8s.AppsV1Api;

beforeAll(async () => {
  ks = await startKubesim({ tls: true, clockSpeed: 20 });
  ks.admin.setImageBehavior('example.test/app:2', 'slow-start=2');
  kc = new k8s.KubeConfig();
  kc.loadFromFile(ks.kubeconfig);
  apps = kc.makeApiClient(k8s.AppsV1Api);
});

const deployment = (name: string): k8s.V1Deployment => ({
  metadata: { name, labels: { team: 'gantry', app: name } },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        containers: [
          {
            name: 'app',
            image: 'example.test/app:1',
            ports: [{ containerPort: 8080 }],
            env: [{ name: 'MODE', value: 'a' }],
          },
          { name: 'sidecar', image: 'example.test/sidecar:1' },
        ],
      },
    },
  },
});

describe('@kubernetes/client-node against kubesim (TLS + token)', () => {
  it('creates, strategic-merge patches and lists deployments', async () => {
    const created = await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('cn') });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.generation).toBe(1);
    expect(created.spec?.strategy?.rollingUpdate?.maxSurge).toBe('25%');

    const patched = await apps.patchNamespacedDeployment(
      {
        name: 'cn',
        namespace: 'default',
        body: {
          spec: {
            template: {
              spec: {
                containers: [
                  { name: 'app', image: 'example.test/app:2', env: [{ name: 'EXTRA', value: 'b' }] },
                ],
              },
            },
          },
        },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    const containers = patched.spec?.template.spec?.containers ?? [];
    // merged by name: the sidecar survives, ports survive, env merged by name
    expect(containers.map((c) => [c.name, c.image])).toEqual([
      ['app', 'example.test/app:2'],
      ['sidecar', 'example.test/sidecar:1'],
    ]);
    expect(containers[0]?.ports?.[0]?.containerPort).toBe(8080);
    expect(containers[0]?.env?.map((e) => e.name)).toEqual(['MODE', 'EXTRA']);
    expect(patched.metadata?.generation).toBe(2);

    await apps.createNamespacedDeployment({
      namespace: 'default',
      body: { ...deployment('other'), metadata: { name: 'other', labels: { team: 'else' } } },
    });
    const list = await apps.listNamespacedDeployment({ namespace: 'default', labelSelector: 'team=gantry' });
    expect(list.items.map((d) => d.metadata?.name)).toEqual(['cn']);
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThan(0);
    const byField = await apps.listNamespacedDeployment({
      namespace: 'default',
      fieldSelector: 'metadata.name=other',
    });
    expect(byField.items.map((d) => d.metadata?.name)).toEqual(['other']);
  });

  it('rejects a wrong token with 401', async () => {
    const bad = new k8s.KubeConfig();
    bad.loadFromString(ks.admin.kubeconfigFor('not-a-token'));
    const api = bad.makeApiClient(k8s.AppsV1Api);
    await expect(api.listNamespacedDeployment({ namespace: 'default' })).rejects.toMatchObject({ code: 401 });
  });

  it('watches a rollout through a dropped watch, resuming from the last resourceVersion', async () => {
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('w') });
    const initial = await apps.listNamespacedDeployment({
      namespace: 'default',
      fieldSelector: 'metadata.name=w',
    });
    let rv = initial.metadata!.resourceVersion!;
    // every watch on deployments is cut after 2 events, twice
    const faultId = ks.admin.injectFault({
      type: 'drop-watch',
      resource: 'deployments',
      afterEvents: 2,
      count: 2,
    });
    const watch = new k8s.Watch(kc);
    const seen: { type: string; rv: string; obj: k8s.V1Deployment }[] = [];
    let drops = 0;
    let complete = false;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`rollout not observed; ${seen.length} events, ${drops} drops`)),
        30_000,
      );
      const start = (): void => {
        void watch
          .watch(
            '/apis/apps/v1/namespaces/default/deployments',
            { fieldSelector: 'metadata.name=w', resourceVersion: rv, allowWatchBookmarks: true },
            (type: string, obj: k8s.V1Deployment) => {
              if (type === 'ERROR') return reject(new Error(`watch error ${JSON.stringify(obj)}`));
              rv = obj.metadata!.resourceVersion!;
              if (type === 'BOOKMARK') return;
              seen.push({ type, rv, obj });
              const s = obj.status;
              if (
                obj.metadata?.generation === s?.observedGeneration &&
                s?.updatedReplicas === 3 &&
                s?.availableReplicas === 3 &&
                s?.replicas === 3 &&
                obj.spec?.template.spec?.containers[0]?.image === 'example.test/app:2'
              ) {
                complete = true;
                clearTimeout(timer);
                resolve();
              }
            },
            () => {
              if (complete) return;
              drops++;
              start(); // what an informer does: re-watch from the last resourceVersion it saw
            },
          )
          .then((ctrl) => {
            void done.finally(() => ctrl.abort());
          });
      };
      start();
    });
    await apps.patchNamespacedDeployment(
      {
        name: 'w',
        namespace: 'default',
        body: {
          spec: { template: { spec: { containers: [{ name: 'app', image: 'example.test/app:2' }] } } },
        },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    await done;
    ks.admin.removeFault(faultId);
    expect(drops).toBe(2);
    const rvs = seen.map((e) => Number(e.rv));
    // resumed without gaps or repeats: strictly increasing resourceVersions
    expect(rvs).toEqual([...rvs].sort((a, b) => a - b));
    expect(new Set(rvs).size).toBe(rvs.length);
    expect(ks.admin.logs().some((l) => l.includes('dropping watch on deployments.apps after 2 events'))).toBe(
      true,
    );
  });
});
