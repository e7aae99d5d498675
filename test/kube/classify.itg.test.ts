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

async function createRaw(name: string, image: string, replicas = 1): Promise<void> {
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
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }] } },
      },
    },
  });
}

async function capture(key: string, deployment: string): Promise<void> {
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
