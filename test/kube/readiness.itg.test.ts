// Never-ready vs slow-start on kubesim (clock ×10) through deploy(): a release whose readiness
// probe keeps failing is reported as soon as its probe window has passed — not at ready-grace
// (2 min) or the progress deadline — and everything is restored; slow starters that their probes
// (or, without probes, ready-grace) allow are not failed. Probe times are read off the pod spec in
// wall-clock seconds; kubesim runs them 10× faster, which only makes gantry more patient.
import { beforeAll, describe, expect, it } from 'vitest';
import { resourcePath } from '../../src/kube/client.js';
import type { KList, Pod } from '../../src/kube/types.js';
import { startKubeEnv, type KubeEnv } from './harness.js';

/** 0 + 3 × 1 s = 3 s window (kubesim probes every 0.1 s wall). */
const READINESS = { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1, failureThreshold: 3 };

let env: KubeEnv;
beforeAll(async () => {
  env = await startKubeEnv();
});

async function podsOf(ns: string, app: string): Promise<Pod[]> {
  return (
    await env.client.request<KList<Pod>>({
      path: resourcePath('pods', ns),
      query: { labelSelector: `app=${app}` },
    })
  ).items;
}

describe('never ready', () => {
  it('a release whose readiness probe keeps failing is reported within seconds, with its cause, and both deployments restored', async () => {
    await env.namespace('nr');
    const api1 = await env.image('nr/api', 'v1');
    const w1 = await env.image('nr/worker', 'v1');
    const apiBefore = await env.createDeployment('nr', {
      name: 'api',
      image: api1,
      replicas: 2,
      probes: { readinessProbe: READINESS },
    });
    const workerBefore = await env.createDeployment('nr', { name: 'worker', image: w1, replicas: 1 });
    const api2 = await env.image('nr/api', 'v2', 'never-ready');
    const w2 = await env.image('nr/worker', 'v2');
    const { report, logger } = await env.deploy({
      namespace: 'nr',
      lines: [`api=${api2}`, `worker=${w2}`],
      // ready-grace stays at its 2 min default; a verdict must not wait for it
      timeoutMs: 60_000,
    });
    expect(report.result, logger.text()).toBe('rolled-back');
    expect(report.failure).toMatchObject({
      reason: 'ReadinessProbeFailed',
      deployment: 'api',
      container: 'api',
    });
    expect(report.failure?.pod).toMatch(/^api-/);
    expect(report.failure?.message).toContain(
      'Readiness probe failed: HTTP probe failed with statuscode: 503',
    );
    expect(report.failure?.message).toContain('periodSeconds 1, failureThreshold 3; allowed 3s');
    expect(report.failure?.events.some((e) => e.includes('Unhealthy'))).toBe(true);
    // window 3 s after the container started; then one evaluation tick and an events request
    expect(report.timings.waitMs).toBeGreaterThanOrEqual(2_000);
    expect(report.timings.waitMs).toBeLessThan(10_000);
    expect(logger.text()).toContain('ReadinessProbeFailed');
    const api = await env.getDeployment('nr', 'api');
    const worker = await env.getDeployment('nr', 'worker');
    expect(api.spec?.template).toEqual(apiBefore.spec?.template);
    expect(worker.spec?.template).toEqual(workerBefore.spec?.template);
    expect(api.status?.availableReplicas).toBe(2);
    expect(worker.status?.availableReplicas).toBe(1);
  });
});

describe('slow starters', () => {
  it('a slow start that its startupProbe allows completes (not killed by the kubelet, not failed by gantry)', async () => {
    await env.namespace('boot');
    // boot: an httpGet startup probe (60 s) holds started=false for the 4 s the app takes;
    // warm: a tcpSocket startup probe passes at once, and readiness fails for 4 s — longer than
    // the readiness window (3 s), inside the startup allowance (60 s + 3 s)
    const boot1 = await env.image('boot/boot', 'v1');
    const warm1 = await env.image('boot/warm', 'v1');
    const startup = (kind: 'httpGet' | 'tcpSocket') => ({
      ...(kind === 'httpGet' ? { httpGet: { path: '/healthz', port: 8080 } } : { tcpSocket: { port: 8080 } }),
      periodSeconds: 1,
      failureThreshold: 60,
    });
    await env.createDeployment('boot', {
      name: 'boot',
      image: boot1,
      replicas: 1,
      probes: { readinessProbe: READINESS, startupProbe: startup('httpGet') },
    });
    await env.createDeployment('boot', {
      name: 'warm',
      image: warm1,
      replicas: 1,
      probes: { readinessProbe: READINESS, startupProbe: startup('tcpSocket') },
    });
    const boot2 = await env.image('boot/boot', 'v2', 'slow-start=40');
    const warm2 = await env.image('boot/warm', 'v2', 'slow-start=40');
    const { report, logger } = await env.deploy({
      namespace: 'boot',
      lines: [`boot=${boot2}`, `warm=${warm2}`],
      timeoutMs: 60_000,
    });
    expect(report.result, logger.text()).toBe('succeeded');
    const warm = report.deployments.find((d) => d.name === 'warm');
    // it really was unready past its readiness window, with readiness failures on record
    expect(warm?.readyMs).toBeGreaterThan(3_000);
    // the kubelet never killed a container for failing its startup probe
    for (const app of ['boot', 'warm'])
      for (const p of await podsOf('boot', app))
        expect(p.status?.containerStatuses?.[0]?.restartCount, p.metadata.name).toBe(0);
  });

  it('a slow starter without probes succeeds within ready-grace (the fallback)', async () => {
    await env.namespace('bare');
    const v1 = await env.image('bare/api', 'v1');
    await env.createDeployment('bare', { name: 'api', image: v1, replicas: 1 });
    const v2 = await env.image('bare/api', 'v2', 'slow-start=40');
    const { report, logger } = await env.deploy({
      namespace: 'bare',
      lines: [`api=${v2}`],
      classify: { readyGraceMs: 10_000 },
      timeoutMs: 60_000,
    });
    expect(report.result, logger.text()).toBe('succeeded');
    expect(report.deployments[0]?.readyMs).toBeGreaterThan(3_000);
  });
});
