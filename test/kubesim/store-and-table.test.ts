import { describe, expect, it } from 'vitest';
import { R } from '../../sandbox/kubesim/resources.js';
import { Store, type StoreEvent } from '../../sandbox/kubesim/store.js';
import { humanDuration, podStatusReason, toTable } from '../../sandbox/kubesim/table.js';
import type { KObject, Pod } from '../../sandbox/kubesim/types.js';

const dep = (name: string, image = 'a'): KObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'default' },
  spec: { replicas: 1, template: { spec: { containers: [{ name: 'c', image }] } } },
});

describe('store', () => {
  it('stamps uid/rv/generation; bumps generation only on spec changes; skips no-op writes', () => {
    const s = new Store();
    const events: StoreEvent[] = [];
    s.subscribe((e) => events.push(e));
    const a = s.create(R.deployments, dep('a'));
    expect(a.metadata).toMatchObject({ generation: 1, resourceVersion: String(s.currentRv()) });
    expect(a.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    const b = s.update(R.deployments, { ...a, metadata: { ...a.metadata, labels: { x: 'y' } } });
    expect(b.metadata.generation).toBe(1);
    expect(Number(b.metadata.resourceVersion)).toBeGreaterThan(Number(a.metadata.resourceVersion));
    const c = s.update(R.deployments, { ...b, spec: { replicas: 2 } });
    expect(c.metadata.generation).toBe(2);
    const same = s.update(R.deployments, structuredClone(c));
    expect(same).toBe(c);
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'MODIFIED']);
    s.remove(R.deployments, 'default', 'a');
    expect(events.at(-1)?.type).toBe('DELETED');
    expect(s.get(R.deployments, 'default', 'a')).toBeUndefined();
  });

  it('serves watch history from a resourceVersion and expires what it no longer holds', () => {
    const s = new Store({ historySize: 3 });
    const first = s.create(R.deployments, dep('a'));
    s.create(R.deployments, dep('b'));
    s.create(R.pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'default' },
      spec: { containers: [] },
    });
    const since = s.eventsSince(Number(first.metadata.resourceVersion), R.deployments);
    expect(since !== 'expired' && since.map((e) => e.object.metadata.name)).toEqual(['b']);
    s.create(R.deployments, dep('c'));
    s.create(R.deployments, dep('d'));
    expect(s.eventsSince(Number(first.metadata.resourceVersion), R.deployments)).toBe('expired');
  });

  it('finds dependents by owner uid', () => {
    const s = new Store();
    const owner = s.create(R.deployments, dep('a'));
    s.create(R.replicasets, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'a-1',
        namespace: 'default',
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: 'a',
            uid: owner.metadata.uid!,
            controller: true,
          },
        ],
      },
      spec: {},
    });
    expect(s.dependentsOf(owner.metadata.uid!).map((d) => d.object.metadata.name)).toEqual(['a-1']);
  });
});

describe('table output', () => {
  it.each([
    [0, '0s'],
    [-1500, '0s'],
    [-3000, '<invalid>'],
    [119_000, '119s'],
    [125_000, '2m5s'],
    [600_000, '10m'],
    [3 * 3600_000 + 60_000, '3h1m'],
    [10 * 3600_000, '10h'],
    [3 * 86400_000 + 3600_000, '3d1h'],
    [20 * 86400_000, '20d'],
    [3 * 365 * 86400_000, '3y'],
  ])('humanDuration(%i) = %s', (ms, want) => {
    expect(humanDuration(ms)).toBe(want);
  });

  const pod = (waiting?: string, terminated?: { exitCode: number; reason?: string }): Pod => ({
    metadata: { name: 'p' },
    spec: { containers: [{ name: 'c' }] },
    status: {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'c',
          image: 'i',
          imageID: '',
          ready: false,
          restartCount: 2,
          state: {
            ...(waiting ? { waiting: { reason: waiting } } : {}),
            ...(terminated ? { terminated } : {}),
            ...(!waiting && !terminated ? { running: {} } : {}),
          },
          lastState: {},
        },
      ],
    },
  });

  it('derives the pod STATUS column like kubectl printers', () => {
    expect(podStatusReason(pod('CrashLoopBackOff'))).toBe('CrashLoopBackOff');
    expect(podStatusReason(pod('ImagePullBackOff'))).toBe('ImagePullBackOff');
    expect(podStatusReason(pod(undefined, { exitCode: 137, reason: 'OOMKilled' }))).toBe('OOMKilled');
    expect(podStatusReason(pod(undefined, { exitCode: 3 }))).toBe('ExitCode:3');
    expect(podStatusReason(pod())).toBe('Running');
  });

  it('renders Deployment rows with READY/UP-TO-DATE/AVAILABLE', () => {
    const now = Date.parse('2025-01-01T00:01:00Z');
    const t = toTable(
      'Deployment',
      [
        {
          metadata: { name: 'web', creationTimestamp: '2025-01-01T00:00:00Z' },
          spec: {
            replicas: 3,
            selector: { matchLabels: { app: 'web' } },
            template: { spec: { containers: [{ name: 'c', image: 'img' }] } },
          },
          status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
        },
      ],
      { now },
    ) as { columnDefinitions: { name: string; priority: number }[]; rows: { cells: unknown[] }[] };
    expect(t.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name)).toEqual([
      'Name',
      'Ready',
      'Up-to-date',
      'Available',
      'Age',
    ]);
    expect(t.rows[0]!.cells).toEqual(['web', '2/3', 3, 2, '60s', 'c', 'img', 'app=web']);
  });
});
