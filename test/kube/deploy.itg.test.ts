// k3s-deploy against kubesim + a real registry: the core flow, fail-fast and the atomic restore.
import { beforeAll, describe, expect, it } from 'vitest';
import { imagesOf, startKubeEnv, type KubeEnv } from './harness.js';

let env: KubeEnv;
beforeAll(async () => {
  env = await startKubeEnv();
});

describe('deploy', () => {
  it('rolls out two deployments, pinned by digest, with change-cause', async () => {
    await env.namespace('healthy');
    const v1 = await env.image('shop/api', 'v1');
    const w1 = await env.image('shop/worker', 'v1');
    await env.createDeployment('healthy', { name: 'api', image: v1 });
    await env.createDeployment('healthy', { name: 'worker', image: w1, replicas: 1 });
    const v2 = await env.image('shop/api', 'v2');
    const w2 = await env.image('shop/worker', 'v2');
    const { report, logger } = await env.deploy({
      namespace: 'healthy',
      lines: [`api=${v2}`, `worker=${w2}`],
      changeCause: 'release 2',
    });
    expect(report.result, logger.text()).toBe('succeeded');
    const api = await env.getDeployment('healthy', 'api');
    expect(imagesOf(api)[0]).toMatch(new RegExp(`^${env.registry.host}/shop/api@sha256:[0-9a-f]{64}$`));
    expect(api.metadata.annotations?.['kubernetes.io/change-cause']).toBe('release 2');
    expect(report.deployments.map((d) => [d.name, d.result])).toEqual([
      ['api', 'succeeded'],
      ['worker', 'succeeded'],
    ]);
  });
});

describe('fail fast and restore', () => {
  it('detects a crashloop well before the progress deadline, names the cause, and restores both deployments', async () => {
    await env.namespace('crash');
    const a1 = await env.image('crash/api', 'v1');
    const w1 = await env.image('crash/worker', 'v1');
    const apiBefore = await env.createDeployment('crash', {
      name: 'api',
      image: a1,
      progressDeadlineSeconds: 600,
    });
    const workerBefore = await env.createDeployment('crash', { name: 'worker', image: w1, replicas: 1 });
    const a2 = await env.image('crash/api', 'v2', 'crashloop');
    const w2 = await env.image('crash/worker', 'v2');
    const started = Date.now();
    const { report, logger } = await env.deploy({ namespace: 'crash', lines: [`api=${a2}`, `worker=${w2}`] });
    const elapsed = Date.now() - started;
    console.log(logger.text());
    expect(report.result, logger.text()).toBe('rolled-back');
    expect(report.failure).toMatchObject({ deployment: 'api', reason: 'CrashLoopBackOff', container: 'api' });
    expect(report.failure?.pod).toMatch(/^api-/);
    expect(report.failure?.logs.length).toBeGreaterThan(0);
    expect(report.failure?.events.join('\n')).toContain('Started container api');
    // progressDeadlineSeconds 600 at clock ×10 is 60 s of wall time: the verdict comes far earlier
    expect(elapsed).toBeLessThan(30_000);
    const api = await env.getDeployment('crash', 'api');
    const worker = await env.getDeployment('crash', 'worker');
    expect(api.spec?.template).toEqual(apiBefore.spec?.template);
    expect(worker.spec?.template).toEqual(workerBefore.spec?.template);
    expect(report.deployments.map((d) => [d.name, d.result])).toEqual([
      ['api', 'rolled-back'],
      ['worker', 'rolled-back'],
    ]);
  });
});
