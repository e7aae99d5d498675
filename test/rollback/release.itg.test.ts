/**
 * The automatic chain end to end through `gantry release`, on kubesim + a real registry: pods
 * serve HTTP on loopback according to their image's behaviour label, behind a Service URL that
 * stays the same across versions — so the smoke test hits a real socket whose answer depends on
 * what is deployed. v1 healthy → v2 degraded (Ready, but HTTP 500 everywhere): the deploy
 * succeeds, the smoke test fails, the automatic rollback restores v1's exact digests and the
 * smoke test passes again; exit 1 with a report saying both.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { resourcePath } from '../../src/kube/client.js';
import { fetchHistory } from '../../src/kube/history.js';
import type { ReleaseReport } from '../../src/kube/release.js';
import type { Deployment } from '../../src/kube/types.js';
import { eventually, imagesOf, startKubeEnv, type KubeEnv } from '../kube/harness.js';

let env: KubeEnv;
let serviceUrl: string;
const NS = 'release';

beforeAll(async () => {
  env = await startKubeEnv();
  await env.namespace(NS);
  const v1 = await env.image('rel/api', 'v1');
  const body: Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'api', namespace: NS, labels: { app: 'api' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'api' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: 'api' } },
        spec: { containers: [{ name: 'api', image: v1, ports: [{ containerPort: 8080 }] }] },
      },
    },
  };
  await env.client.request({ method: 'POST', path: resourcePath('deployments', NS), body });
  await env.client.request({
    method: 'POST',
    path: `/api/v1/namespaces/${NS}/services`,
    body: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'api' },
      spec: { selector: { app: 'api' }, ports: [{ port: 80, targetPort: 8080 }] },
    },
  });
  serviceUrl = (await env.kubesim.admin.serviceUrl(NS, 'api'))!;
  await eventually(async () => (await fetch(`${serviceUrl}/healthz`)).status === 200, 30_000, 'v1 serving');
});

async function gantryRelease(
  image: string,
): Promise<{ code: number; report: ReleaseReport; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    [
      'release',
      `api=${image}`,
      '--kubeconfig',
      env.kubesim.kubeconfig,
      '--namespace',
      NS,
      '--check-permissions=false',
      '--smoke-url',
      `${serviceUrl}/api/health/`,
      '--smoke-interval',
      '200ms',
      '--smoke-deadline',
      '3s',
      '--smoke-timeout',
      '1s',
      '--json',
    ],
    {
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      env: { GITHUB_SHA: image.endsWith('v1') ? 'c1'.padEnd(40, '1') : 'c2'.padEnd(40, '2') },
    },
  );
  return { code, report: JSON.parse(out.join('')) as ReleaseReport, stderr: err.join('') };
}

describe('gantry release', () => {
  it('v1 healthy is released; v2 degraded passes the deploy, fails the smoke test and is rolled back to v1 exactly', async () => {
    const first = await gantryRelease(`${env.registry.host}/rel/api:v1`);
    expect(first.code, first.stderr).toBe(0);
    expect(first.report.result).toBe('released');
    const v1Pinned = first.report.deploy.deployments[0]!.images[0]!.after;
    expect(v1Pinned).toMatch(/@sha256:[0-9a-f]{64}$/);

    const v2 = await env.image('rel/api', 'v2', 'degraded');
    const second = await gantryRelease(v2);
    expect(second.code, second.stderr).toBe(1);
    const r = second.report;
    expect(r.result).toBe('rolled-back');
    // the deploy itself succeeded: degraded pods are Ready
    expect(r.deploy.result).toBe('succeeded');
    expect(r.smoke?.passed).toBe(false);
    expect(r.smoke?.checks[0]?.lastStatus).toBe(500);
    // back to v1's exact digest, healthy, and serving 200 again
    expect(r.rollback?.result).toBe('succeeded');
    expect(r.rollback?.deployments[0]?.images[0]).toMatchObject({
      before: r.deploy.deployments[0]!.images[0]!.after,
      after: v1Pinned,
    });
    expect(r.smokeAfterRollback?.passed).toBe(true);
    expect(imagesOf(await env.getDeployment(NS, 'api'))).toEqual([v1Pinned]);
    expect((await fetch(`${serviceUrl}/api/health/`)).status).toBe(200);
    // the report says both: the release failed, the recovery succeeded
    expect(r.summary).toMatch(
      /The release FAILED its smoke test .*Recovery succeeded: rolled back to the previous version/,
    );
    expect(second.stderr).toContain('Recovery succeeded');
    expect(r.timings.recoveryMs).toBeGreaterThan(0);

    // history: the failed release is marked, so last-good never picks it
    const history = await fetchHistory(env.client, NS);
    expect(history.map((h) => `${h.kind ?? 'deploy'}:${h.result}`)).toEqual([
      'deploy:succeeded',
      'deploy:rolled-back',
      'rollback:succeeded',
    ]);
    expect(history[2]?.rollbackOf).toEqual([r.deploy.runId]);
    expect(history[2]?.reason).toMatch(/^smoke test failed/);
  });
});
