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
    const { report, logger } = await env.deploy({ namespace: 'healthy', lines: [`api=${v2}`, `worker=${w2}`], changeCause: 'release 2' });
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
