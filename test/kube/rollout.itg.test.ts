// Rollout behaviour against kubesim + a real registry: Recreate singletons, the deploy lock,
// cancellation, injected API faults, and the migration Job.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/core/logging.js';
import { resourcePath } from '../../src/kube/client.js';
import { fetchHistory } from '../../src/kube/history.js';
import type { Job, KList } from '../../src/kube/types.js';
import { eventually, imagesOf, startKubeEnv, type KubeEnv } from './harness.js';

let env: KubeEnv;
beforeAll(async () => {
  env = await startKubeEnv();
});

describe('strategies', () => {
  it('a Recreate singleton (replicas 1) rolls out', async () => {
    await env.namespace('recreate');
    const w1 = await env.image('rc/worker', 'v1');
    await env.createDeployment('recreate', { name: 'worker', image: w1, replicas: 1, strategy: 'Recreate' });
    const w2 = await env.image('rc/worker', 'v2', 'slow-start=3');
    const { report, logger } = await env.deploy({ namespace: 'recreate', lines: [`worker=${w2}`] });
    expect(report.result, logger.text()).toBe('succeeded');
    expect(report.deployments[0]?.readyMs).toBeGreaterThan(200); // slow-start=3 at ×10
    const d = await env.getDeployment('recreate', 'worker');
    expect(d.status?.availableReplicas).toBe(1);
    expect(imagesOf(d)[0]).toContain('rc/worker@sha256:');
  });

  it('a Recreate singleton that crashloops is restored', async () => {
    const before = await env.getDeployment('recreate', 'worker');
    const bad = await env.image('rc/worker', 'v3', 'crashloop');
    const { report, logger } = await env.deploy({ namespace: 'recreate', lines: [`worker=${bad}`] });
    expect(report.result, logger.text()).toBe('rolled-back');
    expect(report.failure?.reason).toBe('CrashLoopBackOff');
    const after = await env.getDeployment('recreate', 'worker');
    expect(after.spec?.template).toEqual(before.spec?.template);
    expect(after.status?.availableReplicas).toBe(1);
  });
});

describe('deploy lock', () => {
  it('a second concurrent deploy waits for the first, says who holds the lock, then runs', async () => {
    await env.namespace('lock');
    const a1 = await env.image('l/api', 'v1');
    await env.createDeployment('lock', { name: 'api', image: a1, replicas: 1 });
    const slow = await env.image('l/api', 'v2', 'slow-start=20');
    const fast = await env.image('l/api', 'v3');
    const firstLog = new MemoryLogger();
    const secondLog = new MemoryLogger();
    const first = env.deploy(
      { namespace: 'lock', lines: [`api=${slow}`], changeCause: 'first', actor: 'alice' },
      { logger: firstLog },
    );
    await eventually(
      () => firstLog.text().includes('deploy lock lock/gantry-deploy-lock taken'),
      10_000,
      'first lock',
    );
    const second = env.deploy(
      { namespace: 'lock', lines: [`api=${fast}`], changeCause: 'second' },
      { logger: secondLog },
    );
    await eventually(
      () => secondLog.text().includes('deploy lock held by gantry/'),
      10_000,
      'second waiting',
    );
    expect(secondLog.text()).toContain('(alice: first)');
    const r1 = await first;
    const r2 = await second;
    expect(r1.report.result, firstLog.text()).toBe('succeeded');
    expect(r2.report.result, secondLog.text()).toBe('succeeded');
    expect(r2.report.timings.lockWaitMs).toBeGreaterThan(500);
    // the second ran after the first finished: it saw the first's image as "before"
    expect(r2.report.deployments[0]?.images[0]?.before).toBe(r1.report.deployments[0]?.images[0]?.after);
    const history = await fetchHistory(env.client, 'lock');
    expect(history.map((h) => h.changeCause)).toEqual(['first', 'second']);
  });
});

describe('cancellation', () => {
  it('SIGTERM (abort) during the wait restores the deployments and releases the lock', async () => {
    await env.namespace('cancel');
    const a1 = await env.image('c/api', 'v1');
    const before = await env.createDeployment('cancel', { name: 'api', image: a1, replicas: 2 });
    const never = await env.image('c/api', 'v2', 'never-ready');
    const controller = new AbortController();
    const logger = new MemoryLogger();
    const run = env.deploy(
      { namespace: 'cancel', lines: [`api=${never}`] },
      { signal: controller.signal, logger },
    );
    await eventually(() => logger.text().includes('wait for 1 rollout'), 10_000, 'waiting');
    await new Promise((r) => setTimeout(r, 300));
    controller.abort(new Error('received SIGTERM'));
    const { report } = await run;
    expect(report.cancelled).toBe(true);
    expect(report.result, logger.text()).toBe('rolled-back');
    const after = await env.getDeployment('cancel', 'api');
    expect(after.spec?.template).toEqual(before.spec?.template);
    const lease = await env.client.request<{ spec?: { holderIdentity?: string | null } }>({
      path: resourcePath('leases', 'cancel', 'gantry-deploy-lock'),
    });
    expect(lease.spec?.holderIdentity ?? null).toBeNull();
    const history = await fetchHistory(env.client, 'cancel');
    expect(history.at(-1)).toMatchObject({ result: 'rolled-back', cancelled: true });
  });
});

describe('API faults do not change the verdict', () => {
  it('409 storms on deployment writes and dropped watches: still succeeded', async () => {
    await env.namespace('faults');
    const a1 = await env.image('f/api', 'v1');
    await env.createDeployment('faults', { name: 'api', image: a1, replicas: 2 });
    const a2 = await env.image('f/api', 'v2');
    const ids = [
      env.kubesim.admin.injectFault({
        type: 'conflict',
        verbs: ['patch', 'update'],
        resource: 'deployments',
        namespace: 'faults',
        count: 4,
      }),
      env.kubesim.admin.injectFault({
        type: 'drop-watch',
        resource: 'pods',
        namespace: 'faults',
        afterEvents: 2,
      }),
      env.kubesim.admin.injectFault({
        type: 'drop-watch',
        resource: 'deployments',
        namespace: 'faults',
        afterEvents: 1,
      }),
      env.kubesim.admin.injectFault({
        type: 'error',
        code: 503,
        verbs: ['get'],
        resource: 'deployments',
        namespace: 'faults',
        count: 2,
      }),
    ];
    try {
      const { report, logger } = await env.deploy({ namespace: 'faults', lines: [`api=${a2}`] });
      expect(report.result, logger.text()).toBe('succeeded');
      const hits = env.kubesim.admin
        .faults()
        .filter((f) => ids.includes(f.id))
        .map((f) => f.hits);
      expect(hits[0]).toBe(4); // the storm really hit the patch
      expect(hits[1]).toBeGreaterThan(0); // and watches really dropped
    } finally {
      for (const id of ids) env.kubesim.admin.removeFault(id);
    }
  });

  it('409 storms and dropped watches: a crashloop is still caught and restored', async () => {
    const before = await env.getDeployment('faults', 'api');
    const bad = await env.image('f/api', 'v3', 'crashloop');
    const ids = [
      env.kubesim.admin.injectFault({
        type: 'conflict',
        verbs: ['patch', 'update'],
        resource: 'deployments',
        namespace: 'faults',
        count: 3,
      }),
      env.kubesim.admin.injectFault({
        type: 'drop-watch',
        resource: 'pods',
        namespace: 'faults',
        afterEvents: 3,
      }),
    ];
    try {
      const { report, logger } = await env.deploy({ namespace: 'faults', lines: [`api=${bad}`] });
      expect(report.result, logger.text()).toBe('rolled-back');
      expect(report.failure?.reason).toBe('CrashLoopBackOff');
      expect((await env.getDeployment('faults', 'api')).spec?.template).toEqual(before.spec?.template);
    } finally {
      for (const id of ids) env.kubesim.admin.removeFault(id);
    }
  });
});

describe('migration Job', () => {
  it('a failing migration stops the deploy before any deployment changes, with the Job log', async () => {
    await env.namespace('migrate');
    const a1 = await env.image('mg/api', 'v1');
    const before = await env.createDeployment('migrate', { name: 'api', image: a1, replicas: 1 });
    const failing = await env.image('mg/api', 'v2', 'exit=3');
    const { report, logger } = await env.deploy({
      namespace: 'migrate',
      lines: [`api=${failing}`],
      migration: { kind: 'deployment', deployment: 'api', args: ['--migrate-only'] },
    });
    expect(report.result, logger.text()).toBe('failed');
    expect(report.failure?.reason).toBe('MigrationFailed');
    expect(report.failure?.message).toMatch(/exit code 3/);
    expect(report.failure?.logs.length).toBeGreaterThan(0);
    expect(report.deployments[0]?.result).toBe('not-started');
    const after = await env.getDeployment('migrate', 'api');
    expect(after.metadata.generation).toBe(before.metadata.generation);
    const jobs = await env.client.request<KList<Job>>({ path: resourcePath('jobs', 'migrate') });
    const job = jobs.items[0]!;
    expect(job.spec?.template?.spec?.containers[0]?.args).toEqual(['--migrate-only']);
    expect(job.spec?.template?.spec?.containers[0]?.image).toContain('mg/api@sha256:');
    expect(job.spec?.template?.metadata?.labels?.app).toBeUndefined();
  });

  it('a Job manifest migration that succeeds runs first, then the rollout', async () => {
    // kubesim's behaviour comes from the image alone (not from args), so the migration that exits 0
    // is its own image here, given as a Job manifest file
    const migrateImage = await env.image('mg/migrate', 'v3', 'exit=0');
    const dir = await mkdtemp(join(tmpdir(), 'gantry-job-'));
    const manifest = join(dir, 'migrate.yaml');
    await writeFile(
      manifest,
      [
        'apiVersion: batch/v1',
        'kind: Job',
        'metadata:',
        '  name: db-migrate',
        'spec:',
        '  backoffLimit: 0',
        '  template:',
        '    spec:',
        '      restartPolicy: Never',
        '      containers:',
        '        - name: migrate',
        `          image: ${migrateImage}`,
        '          args: ["--migrate-only"]',
        '',
      ].join('\n'),
    );
    const good = await env.image('mg/api', 'v3');
    const { report, logger } = await env.deploy({
      namespace: 'migrate',
      lines: [`api=${good}`],
      migration: { kind: 'manifest', path: manifest },
    });
    expect(report.result, logger.text()).toBe('succeeded');
    expect(report.migration?.status).toBe('succeeded');
    expect(report.migration?.job).toMatch(/^db-migrate-migrate-/);
    expect(logger.text().indexOf('migration Job')).toBeLessThan(logger.text().indexOf('group: patch'));
  });
});
