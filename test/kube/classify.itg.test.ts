// Fail-fast classification on live kubesim pods, through `gantry rollout-status` (the CLI twin of
// the deploy's wait), next to kubectl's own rollout status for the healthy case. With
// GANTRY_CAPTURE=1 the failing pods are written to fixtures/kubesim-captured.json, which the unit
// tests classify offline.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { resourcePath } from '../../src/kube/client.js';
import type { KEvent, KList, Pod } from '../../src/kube/types.js';
import { hasKubectl, kubectlFor } from '../fixtures/kubesim.js';
import { startKubeEnv, type KubeEnv } from './harness.js';

let env: KubeEnv;
const captured: Record<string, { pod: Pod; events: KEvent[] }> = {};
beforeAll(async () => {
  env = await startKubeEnv();
  await env.namespace('cls');
  return async () => {
    if (process.env.GANTRY_CAPTURE === '1') {
      await writeFile(
        join(import.meta.dirname, 'fixtures', 'kubesim-captured.json'),
        JSON.stringify(captured, null, 2) + '\n',
      );
    }
  };
});

async function rolloutStatus(name: string): Promise<{ code: number; stdout: string; ms: number }> {
  let stdout = '';
  const t = Date.now();
  const code = await runCli(
    [
      'rollout-status',
      name,
      '--namespace',
      'cls',
      '--kubeconfig',
      env.kubesim.kubeconfig,
      '--timeout',
      '40s',
    ],
    {
      stdout: (s) => (stdout += s),
      stderr: () => undefined,
      env: {},
    },
  );
  return { code, stdout, ms: Date.now() - t };
}

/** Probes as a chart would write them, at the harness's clock (×10: kubesim's 1 s is 0.1 s here). */
const READINESS = { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1, failureThreshold: 3 };

async function createRaw(
  name: string,
  image: string,
  replicas = 1,
  probes: Record<string, unknown> = {},
): Promise<void> {
  await env.client.request({
    method: 'POST',
    path: resourcePath('deployments', 'cls'),
    body: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name },
      spec: {
        replicas,
        progressDeadlineSeconds: 600,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name: 'app', image, ports: [{ containerPort: 8080 }], ...probes }] },
        },
      },
    },
  });
}

async function capture(key: string, deployment: string): Promise<Pod> {
  const pods = await env.client.request<KList<Pod>>({
    path: resourcePath('pods', 'cls'),
    query: { labelSelector: `app=${deployment}` },
  });
  const pod = pods.items[0]!;
  const events = await env.client.request<KList<KEvent>>({
    path: resourcePath('events', 'cls'),
    query: { fieldSelector: `involvedObject.name=${pod.metadata.name ?? ''}` },
  });
  captured[key] = { pod, events: events.items };
  return pod;
}

describe('gantry rollout-status on live pods', () => {
  it('healthy: the same success line as kubectl rollout status', async () => {
    await createRaw('ok', await env.image('cls/ok', 'v1'));
    const r = await rolloutStatus('ok');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('deployment "ok" successfully rolled out\n');
    if (hasKubectl('dispatcher')) {
      const kubectl = await kubectlFor('dispatcher', env.kubesim.kubeconfig);
      const k = await kubectl('rollout', 'status', 'deployment/ok', '-n', 'cls', '--timeout=20s');
      expect(k.stdout.trim().split('\n').at(-1)).toBe(r.stdout.trim());
    }
  });

  it.each([
    [
      'missing image (not in the registry)',
      'pull',
      () => `${env.registry.host}/cls/missing@sha256:${'0'.repeat(64)}`,
      /ErrImagePull|ImagePullBackOff/,
    ],
    ['crashloop', 'crash', () => env.image('cls/crash', 'v1', 'crashloop'), /CrashLoopBackOff/],
    ['oom', 'oom', () => env.image('cls/oom', 'v1', 'oom'), /OOMKilled/],
  ])('%s: exit 1 with the cause, well before the progress deadline', async (_name, key, image, reason) => {
    await createRaw(key, await image());
    const r = await rolloutStatus(key);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toMatch(reason);
    expect(r.stdout).toContain(`deployment ${key}, pod ${key}-`);
    expect(r.ms).toBeLessThan(20_000); // the deadline is 600 s simulated = 60 s here
    await capture(key, key);
  });
});

describe('readiness probes on live pods', () => {
  it('never ready with a readinessProbe: ReadinessProbeFailed once the probe window has passed, quoting the probe', async () => {
    await createRaw('never', await env.image('cls/never', 'v1', 'never-ready'), 1, {
      readinessProbe: READINESS,
    });
    const r = await rolloutStatus('never');
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toContain('ReadinessProbeFailed');
    expect(r.stdout).toContain('deployment never, pod never-');
    expect(r.stdout).toContain('Readiness probe failed: HTTP probe failed with statuscode: 503');
    const verdictAt = Date.now();
    // the window is 3 s after the container started (wall clock, as gantry reads the spec;
    // timestamps have second precision); ready-grace is 2 min
    expect(r.ms).toBeLessThan(15_000);
    const pod = await capture('neverReady', 'never');
    const startedAt = Date.parse(pod.status?.containerStatuses?.[0]?.state?.running?.startedAt ?? '');
    expect(verdictAt - startedAt).toBeGreaterThanOrEqual(3_000);
  });

  it('slow starters inside their startup window: not failed, and Ready in the end', async () => {
    // httpGet startup probe: started=false while booting (kubesim allows 60 s = 6 s wall)
    await createRaw('boot', await env.image('cls/boot', 'v1', 'slow-start=40'), 1, {
      startupProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1, failureThreshold: 60 },
      readinessProbe: READINESS,
    });
    // tcpSocket startup probe: started at once, readiness fails until the app is up after 4 s
    await createRaw('warm', await env.image('cls/warm', 'v1', 'slow-start=40'), 1, {
      startupProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1, failureThreshold: 60 },
      readinessProbe: READINESS,
    });
    await new Promise((r) => setTimeout(r, 2_500));
    const boot = await capture('startupBooting', 'boot');
    expect(boot.status?.containerStatuses?.[0]).toMatchObject({ started: false, ready: false });
    const warm = await capture('startupWarming', 'warm');
    expect(warm.status?.containerStatuses?.[0]).toMatchObject({ started: true, ready: false });
    expect(captured.startupWarming!.events.some((e) => e.message?.startsWith('Readiness probe failed'))).toBe(
      true,
    );
    const [b, w] = await Promise.all([rolloutStatus('boot'), rolloutStatus('warm')]);
    expect(b.code, b.stdout).toBe(0);
    expect(w.code, w.stdout).toBe(0);
  });
});
