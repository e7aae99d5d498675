import { describe, expect, it } from 'vitest';
import { KubeApiError, type KubeClient, type KubeRequest, type WatchEvent } from '../../src/kube/client.js';
import { runInformer } from '../../src/kube/informer.js';
import { migrationJobFromDeployment, parseMigrationInput } from '../../src/kube/migration.js';
import { sameTemplate } from '../../src/kube/restore.js';
import { evaluateRollout, podsOfTemplate, type RolloutTarget } from '../../src/kube/rollout-wait.js';
import type { Deployment, KObject, Pod } from '../../src/kube/types.js';
import { crashLoop, healthy, runningNotReady, unhealthy, withProbes } from './fixtures/pods.js';

const IMAGE = 'registry.example/app@sha256:' + 'a'.repeat(64);

function deployment(status: Deployment['status'], generation = 5): Deployment {
  return {
    metadata: { name: 'api', namespace: 'prod', generation },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'api' } },
      template: {
        metadata: { labels: { app: 'api' } },
        spec: { containers: [{ name: 'api', image: IMAGE }] },
      },
    },
    status,
  };
}
const target: RolloutTarget = { name: 'api', generation: 5, images: { api: IMAGE }, startedAt: 0 };
const NOW = Date.parse('2025-01-10T10:01:00Z');

describe('evaluateRollout', () => {
  it('done only when kubectl would say so for our generation', () => {
    const done = deployment({ observedGeneration: 5, replicas: 1, updatedReplicas: 1, availableReplicas: 1 });
    expect(evaluateRollout(target, done, [healthy], NOW)).toEqual({
      state: 'done',
      message: 'deployment "api" successfully rolled out\n',
    });
    const stale = deployment({
      observedGeneration: 4,
      replicas: 1,
      updatedReplicas: 1,
      availableReplicas: 1,
    });
    expect(evaluateRollout(target, stale, [healthy], NOW).state).toBe('waiting');
  });
  it('fails fast on a new pod, naming it', () => {
    const ev = evaluateRollout(
      target,
      deployment({ observedGeneration: 5, replicas: 2, updatedReplicas: 1, availableReplicas: 1 }),
      [crashLoop(3)],
      NOW,
    );
    expect(ev).toMatchObject({
      state: 'failed',
      failure: { reason: 'CrashLoopBackOff', pod: 'api-7d9c6b5f4-crash3' },
    });
  });
  it('ignores crashing pods of another template (the old ReplicaSet)', () => {
    const other = {
      ...crashLoop(5),
      spec: { containers: [{ name: 'api', image: 'registry.example/app:old' }] },
    } as Pod;
    expect(
      podsOfTemplate(deployment({}), target.images, [other, healthy]).map((p) => p.metadata.name),
    ).toEqual(['api-7d9c6b5f4-ok']);
    expect(evaluateRollout(target, deployment({ observedGeneration: 5 }), [other], NOW).state).toBe(
      'waiting',
    );
  });
  it('asks for the events of a pod past its readiness window, and fails on them (ReadinessProbeFailed)', () => {
    const pod = withProbes(runningNotReady('2025-01-10T10:00:00Z', true), {
      readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
    });
    const d = deployment({ observedGeneration: 5, replicas: 2, updatedReplicas: 1, availableReplicas: 1 });
    const early = evaluateRollout(target, d, [pod], Date.parse('2025-01-10T10:00:20Z'));
    expect(early.state).toBe('waiting');
    expect(early.wantEvents).toBeUndefined();
    const late = evaluateRollout(target, d, [pod], NOW);
    expect(late).toMatchObject({ state: 'waiting', wantEvents: ['api-7d9c6b5f4-slow'] });
    const events = [
      unhealthy(
        pod,
        'Readiness probe failed: HTTP probe failed with statuscode: 503',
        '2025-01-10T10:00:50Z',
      ),
    ];
    expect(evaluateRollout(target, d, [pod], NOW, {}, () => events)).toMatchObject({
      state: 'failed',
      failure: { reason: 'ReadinessProbeFailed', pod: 'api-7d9c6b5f4-slow', container: 'api' },
    });
  });
  it('a deleted deployment fails', () => {
    expect(evaluateRollout(target, undefined, [], NOW).failure?.reason).toBe('Deleted');
  });
});

describe('runInformer', () => {
  it('resumes after a dropped watch from the last resourceVersion, and relists on 410 Gone', async () => {
    const calls: string[] = [];
    let watchNo = 0;
    const pod = (name: string, rv: string): KObject => ({ metadata: { name, resourceVersion: rv } });
    const client: KubeClient = {
      server: 'fake',
      async request<T>(req: KubeRequest): Promise<T> {
        calls.push(`list ${String(req.query?.resourceVersion ?? '')}`);
        return {
          metadata: { resourceVersion: calls.length === 1 ? '10' : '30' },
          items: [pod('a', '10')],
        } as T;
      },
      requestText: () => Promise.resolve(''),
      async watch<T>(req: KubeRequest, onEvent: (e: WatchEvent<T>) => void): Promise<void> {
        watchNo++;
        calls.push(`watch ${String(req.query?.resourceVersion)}`);
        if (watchNo === 1) {
          onEvent({ type: 'ADDED', object: pod('b', '11') as T });
          throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        }
        if (watchNo === 2) throw new KubeApiError('infrastructure', 'too old', 410, 'Expired', undefined);
        onEvent({ type: 'DELETED', object: pod('a', '31') as T });
      },
    };
    const controller = new AbortController();
    const seen: string[][] = [];
    const run = runInformer({
      client,
      path: '/api/v1/namespaces/x/pods',
      signal: controller.signal,
      clock: { now: () => 0, sleep: () => Promise.resolve() },
      onChange: (items) => {
        seen.push([...items.keys()]);
        if (watchNo >= 3) controller.abort(new Error('done'));
      },
    });
    await expect(run).rejects.toThrow('done');
    expect(calls).toEqual(['list ', 'watch 10', 'watch 11', 'list ', 'watch 30']);
    expect(seen).toEqual([['a'], ['a', 'b'], ['a'], []]);
  });
});

describe('restore and migration helpers', () => {
  it('sameTemplate ignores key order and pod-template-hash', () => {
    expect(
      sameTemplate(
        {
          metadata: { labels: { app: 'x', 'pod-template-hash': 'abc' } },
          spec: { containers: [{ name: 'c', image: 'i' }] },
        },
        { spec: { containers: [{ image: 'i', name: 'c' }] }, metadata: { labels: { app: 'x' } } },
      ),
    ).toBe(true);
    expect(
      sameTemplate(
        { spec: { containers: [{ name: 'c', image: 'i' }] } },
        { spec: { containers: [{ name: 'c', image: 'j' }] } },
      ),
    ).toBe(false);
  });
  it('parses the migration input', () => {
    expect(parseMigrationInput('api', ['--migrate-only'])).toEqual({
      kind: 'deployment',
      deployment: 'api',
      args: ['--migrate-only'],
    });
    expect(parseMigrationInput('api/web', [])).toEqual({
      kind: 'deployment',
      deployment: 'api',
      container: 'web',
      args: [],
    });
    expect(parseMigrationInput('deploy/migrate.yaml', [])).toEqual({
      kind: 'manifest',
      path: 'deploy/migrate.yaml',
    });
    expect(parseMigrationInput(undefined, [])).toBeUndefined();
    expect(() => parseMigrationInput('Bad Name', [])).toThrow(/neither a deployment name nor a Job manifest/);
  });
  it('builds the Job from the template: new image, args, no labels, no probes, never restarted', () => {
    const d: Deployment = {
      metadata: { name: 'api', namespace: 'prod' },
      spec: {
        template: {
          metadata: { labels: { app: 'api' } },
          spec: {
            serviceAccountName: 'api',
            volumes: [{ name: 'cfg', secret: { secretName: 'api' } }],
            containers: [
              {
                name: 'api',
                image: 'old',
                env: [{ name: 'DB', value: 'x' }],
                readinessProbe: { httpGet: { path: '/' } },
                livenessProbe: {},
              },
              { name: 'sidecar', image: 'envoy' },
            ],
          },
        },
      },
    };
    const job = migrationJobFromDeployment(
      d,
      { kind: 'deployment', deployment: 'api', container: 'api', args: ['--migrate-only'] },
      { api: 'new@sha256:1' },
      'api-migrate-1',
    );
    const spec = job.spec!.template!.spec!;
    expect(spec.containers).toEqual([
      { name: 'api', image: 'new@sha256:1', env: [{ name: 'DB', value: 'x' }], args: ['--migrate-only'] },
    ]);
    expect(spec.restartPolicy).toBe('Never');
    expect(spec.serviceAccountName).toBe('api');
    expect(spec.volumes).toEqual(d.spec!.template!.spec!.volumes);
    expect(job.spec!.backoffLimit).toBe(0);
    expect(job.spec!.template!.metadata!.labels).toEqual({ 'gantry.dev/migration': 'api-migrate-1' });
    expect(() =>
      migrationJobFromDeployment(d, { kind: 'deployment', deployment: 'api', args: [] }, {}, 'x'),
    ).toThrow(/2 containers/);
  });
});
