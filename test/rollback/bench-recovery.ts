/**
 * The time-to-recovery measurement of `npm run bench` (DESIGN.md "Performance"): on kubesim
 * (clock ×1, so times are the simulator's real behaviour) and a real registry, per iteration in a
 * fresh namespace —
 *
 *   peer      deploy v1 (slow-start): its ReplicaSet's own readiness time (patch → rollout complete)
 *   measured  deploy v2 `degraded` (Ready, HTTP 500) → the smoke test fails → rollback to previous;
 *             recovery = smoke failure detected → v1's rollout complete (rollback() returns), and
 *             → the Service answering only 200s again (polled from outside every 20 ms)
 *
 * Target: recovery ≤ the previous ReplicaSet's readiness + 2 s. Bundled and run by
 * test/rollback/bench-section.mjs (one bundle, so coded-error classes are shared).
 */
import { MemoryLogger } from '../../src/core/logging.js';
import { HttpKubeClient, resourcePath } from '../../src/kube/client.js';
import { deploy } from '../../src/kube/deploy.js';
import { registryClient, registryResolver } from '../../src/kube/images.js';
import { loadClusterConnection } from '../../src/kube/kubeconfig.js';
import { rollback } from '../../src/kube/rollback.js';
import { parseDeployTargets } from '../../src/kube/targets.js';
import type { Deployment } from '../../src/kube/types.js';
import { parseSmokeChecks, runSmokeTest } from '../../src/smoke/index.js';
import { startKubesim } from '../../sandbox/kubesim/index.js';
import { startRegistry } from '../../sandbox/registry.js';
import { pushTestImage } from '../fixtures/oci-images.js';

export interface RecoverySample {
  /** v1's rollout: patch → complete (the deploy's readyMs). */
  readinessMs: number;
  /** smoke failure → rollback() returned with v1's rollout complete. */
  recoveryMs: number;
  /** smoke failure → the Service answers only 200 (first of the final run of 200s). */
  servingMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function measureRecovery(o: {
  iterations: number;
  log?: (line: string) => void;
}): Promise<RecoverySample[]> {
  const reg = await startRegistry();
  const ks = await startKubesim({ registry: reg.host, clockSpeed: 1 });
  const client = new HttpKubeClient(await loadClusterConnection({ kubeconfig: ks.kubeconfig }));
  const registry = registryClient({ env: {} });
  const resolver = registryResolver(registry);
  const samples: RecoverySample[] = [];
  try {
    const push = async (tag: string, behavior: string): Promise<string> => {
      await pushTestImage(reg.url, 'bench/api', tag, {
        labels: { 'dev.gantry.sim/behavior': behavior },
        content: `${tag}:${behavior}`,
      });
      return `${reg.host}/bench/api:${tag}`;
    };
    const v0 = await push('v0', 'healthy');
    const v1 = await push('v1', 'slow-start=1');
    const v2 = await push('v2', 'degraded');
    for (let i = 0; i < o.iterations; i++) {
      const ns = `recovery-${i}`;
      await client.request({
        method: 'POST',
        path: resourcePath('namespaces', undefined),
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
      });
      const body: Deployment = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'api', namespace: ns, labels: { app: 'api' } },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'api' } },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          template: {
            metadata: { labels: { app: 'api' } },
            spec: { containers: [{ name: 'api', image: v0, ports: [{ containerPort: 8080 }] }] },
          },
        },
      };
      await client.request({ method: 'POST', path: resourcePath('deployments', ns), body });
      await client.request({
        method: 'POST',
        path: `/api/v1/namespaces/${ns}/services`,
        body: {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'api' },
          spec: { selector: { app: 'api' }, ports: [{ port: 80, targetPort: 8080 }] },
        },
      });
      const url = (await ks.admin.serviceUrl(ns, 'api'))!;
      const logger = new MemoryLogger();
      const run = (image: string) =>
        deploy(
          {
            namespace: ns,
            targets: parseDeployTargets([`api=${image}`]),
            timeoutMs: 120_000,
            atomic: true,
            lock: true,
            dryRun: false,
            changeCause: 'bench',
            checkPermissions: false,
          },
          { client, resolver, logger },
        );
      const first = await run(v1);
      if (first.result !== 'succeeded') throw new Error(`bench: deploy v1 ${first.result}\n${logger.text()}`);
      const readinessMs = first.deployments[0]?.readyMs ?? NaN;
      const second = await run(v2);
      if (second.result !== 'succeeded')
        throw new Error(`bench: deploy v2 ${second.result}\n${logger.text()}`);
      const smoke = await runSmokeTest(
        {
          checks: parseSmokeChecks([
            { url: `${url}/api/health/`, interval: '100ms', timeout: '1s', 'consecutive-successes': 1 },
          ]),
          deadlineMs: 1_000,
        },
        { logger },
      );
      if (smoke.passed) throw new Error('bench: the degraded release passed the smoke test');
      const failedAt = performance.now();
      // outside observer: the last moment the Service answered anything but 200
      let lastBad = failedAt;
      let polling = true;
      const poller = (async () => {
        while (polling) {
          try {
            const res = await fetch(`${url}/api/health/`);
            await res.arrayBuffer();
            if (res.status !== 200) lastBad = performance.now();
          } catch {
            lastBad = performance.now();
          }
          await sleep(20);
        }
      })();
      const rb = await rollback(
        {
          namespace: ns,
          deployments: ['api'],
          to: { kind: 'previous' },
          reason: 'bench: smoke failed',
          timeoutMs: 120_000,
          dryRun: false,
          lock: true,
        },
        { client, resolver, logger },
      );
      const recoveredAt = performance.now();
      if (rb.result !== 'succeeded') throw new Error(`bench: rollback ${rb.result}\n${logger.text()}`);
      await sleep(500); // keep watching: a stray 500 after "healthy" would count
      polling = false;
      await poller;
      const sample = { readinessMs, recoveryMs: recoveredAt - failedAt, servingMs: lastBad - failedAt };
      samples.push(sample);
      o.log?.(
        `recovery #${i + 1}: v1 readiness ${Math.round(readinessMs)} ms, recovery ${Math.round(sample.recoveryMs)} ms, serving 200s after ${Math.round(sample.servingMs)} ms`,
      );
    }
    return samples;
  } finally {
    registry.close();
    client.close();
    await ks.stop();
    await reg.stop();
  }
}
