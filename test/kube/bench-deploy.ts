/**
 * The k3s-deploy measurements of `npm run bench` (DESIGN.md "Performance"), on kubesim at real
 * clock speed (×1) with a real registry, each against its peer in the same run:
 *
 *   crashloop verdict   release applied → verdict: gantry (fail fast) vs `kubectl rollout status`
 *                       with progressDeadlineSeconds 30; the 600 s default is extrapolated as
 *                       kubectl(30) + 570 s (kubectl waits for the deadline; gantry does not)
 *   never-ready verdict a release whose readiness probe never passes (periodSeconds 5,
 *                       failureThreshold 3: a 15 s window) → verdict, gantry (ReadinessProbeFailed)
 *                       vs `kubectl rollout status` with progressDeadlineSeconds 30 (600 extrapolated
 *                       the same way); also the verdict's lag behind the moment the pod showed it
 *                       (its container's start + the probe window)
 *   success lag         Deployment complete (seen by an independent watcher) → process exit:
 *                       `gantry rollout-status` vs `kubectl rollout status`, started together
 *   fan-out             deploy() of 30 Deployments at once vs one (healthy, same images)
 *
 * Bundled and run by test/kube/bench-section.mjs.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLogger } from '../../src/core/logging.js';
import { HttpKubeClient, PATCH_TYPES, resourcePath } from '../../src/kube/client.js';
import { deploy } from '../../src/kube/deploy.js';
import { registryClient, registryResolver } from '../../src/kube/images.js';
import { runInformer } from '../../src/kube/informer.js';
import { loadClusterConnection } from '../../src/kube/kubeconfig.js';
import { rolloutStatus } from '../../src/kube/rollout-status.js';
import { parseDeployTargets } from '../../src/kube/targets.js';
import type { Deployment, Pod } from '../../src/kube/types.js';
import { startKubesim } from '../../sandbox/kubesim/index.js';
import { startRegistry } from '../../sandbox/registry.js';
import { pushTestImage } from '../fixtures/oci-images.js';

export interface DeployBenchResult {
  crashloop: {
    gantryVerdictMs: number;
    gantryTotalMs: number;
    gantryReason: string;
    kubectl30Ms: number;
    kubectlMessage: string;
  };
  neverReady: {
    gantryVerdictMs: number;
    /** verdict − (container startedAt + probe window); startedAt has second precision. */
    afterWindowMs: number;
    windowMs: number;
    gantryReason: string;
    gantryMessage: string;
    kubectl30Ms: number;
    kubectlMessage: string;
  };
  success: { gantryLagMs: number[]; kubectlLagMs: number[] };
  fanout: { oneMs: number; thirtyMs: number; oneWaitMs: number; thirtyWaitMs: number };
}

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string; endedAt: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, endedAt: performance.now() }));
  });
}

export async function measureDeploy(o: {
  cli: string;
  kubectl: string;
  successIterations: number;
  log?: (l: string) => void;
}): Promise<DeployBenchResult> {
  const log = o.log ?? (() => undefined);
  const reg = await startRegistry();
  const ks = await startKubesim({ registry: reg.host, clockSpeed: 1 });
  const client = new HttpKubeClient(await loadClusterConnection({ kubeconfig: ks.kubeconfig }));
  const registry = registryClient({ env: {} });
  const resolver = registryResolver(registry);
  const cacheDir = mkdtempSync(join(tmpdir(), 'bench-kubectl-'));
  const kenv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cacheDir, KUBECONFIG: ks.kubeconfig };
  const kubectl = (...args: string[]) => run(o.kubectl, ['--cache-dir', cacheDir, ...args], kenv);
  let n = 0;
  const image = async (repo: string, behavior: string): Promise<string> => {
    const tag = `t${++n}`;
    await pushTestImage(reg.url, repo, tag, {
      labels: { 'dev.gantry.sim/behavior': behavior },
      content: `${repo}:${tag}:${behavior}`,
    });
    return `${reg.host}/${repo}:${tag}`;
  };
  const ns = async (name: string): Promise<void> => {
    await client.request({
      method: 'POST',
      path: resourcePath('namespaces', undefined),
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
    });
  };
  const create = async (
    namespace: string,
    name: string,
    img: string,
    extra: { replicas?: number; deadline?: number; probes?: Record<string, unknown> } = {},
  ): Promise<void> => {
    await client.request({
      method: 'POST',
      path: resourcePath('deployments', namespace),
      body: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name },
        spec: {
          replicas: extra.replicas ?? 1,
          progressDeadlineSeconds: extra.deadline ?? 600,
          selector: { matchLabels: { app: name } },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          template: {
            metadata: { labels: { app: name } },
            spec: {
              containers: [
                {
                  name: 'app',
                  image: img,
                  ...(extra.probes ? { ports: [{ containerPort: 8080 }], ...extra.probes } : {}),
                },
              ],
            },
          },
        },
      },
    });
  };
  const until = async (namespace: string, names: string[]): Promise<void> => {
    for (;;) {
      const ds = await Promise.all(
        names.map((x) => client.request<Deployment>({ path: resourcePath('deployments', namespace, x) })),
      );
      if (ds.every((d) => rolloutStatus(d).done)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const runDeploy = (namespace: string, lines: string[], logger = new MemoryLogger()) =>
    deploy(
      {
        namespace,
        targets: parseDeployTargets(lines),
        timeoutMs: 300_000,
        atomic: true,
        lock: true,
        dryRun: false,
        changeCause: 'bench',
        checkPermissions: true,
      },
      { client, resolver, logger },
    );
  try {
    // --- (a) crashloop verdict ---------------------------------------------------------------------------
    const v1 = await image('bench/crash', 'healthy');
    const bad = await image('bench/crash', 'crashloop');
    await ns('crash-g');
    await ns('crash-k');
    await create('crash-g', 'api', v1, { deadline: 30 });
    await create('crash-k', 'api', v1, { deadline: 30 });
    await Promise.all([until('crash-g', ['api']), until('crash-k', ['api'])]);
    log('crashloop: gantry and kubectl side by side (kubectl waits for progressDeadlineSeconds 30)');
    const kubectlRun = (async () => {
      const set = await kubectl('set', 'image', 'deployment/api', `app=${bad}`, '-n', 'crash-k');
      if (set.code !== 0) throw new Error(`kubectl set image: ${set.stderr}`);
      const applied = performance.now();
      const st = await kubectl('rollout', 'status', 'deployment/api', '-n', 'crash-k', '--timeout=300s');
      return { ms: st.endedAt - applied, message: (st.stderr || st.stdout).trim().split('\n').at(-1) ?? '' };
    })();
    const g0 = performance.now();
    const report = await runDeploy('crash-g', [`api=${bad}`]);
    const gTotal = performance.now() - g0;
    const k = await kubectlRun;
    const crashloop = {
      gantryVerdictMs: report.timings.waitMs ?? NaN,
      gantryTotalMs: gTotal - (report.timings.restoreMs ?? 0),
      gantryReason: `${report.result}: ${report.failure?.reason ?? '?'}`,
      kubectl30Ms: k.ms,
      kubectlMessage: k.message,
    };
    log(
      `crashloop: gantry ${Math.round(crashloop.gantryVerdictMs)} ms (${crashloop.gantryReason}), kubectl ${Math.round(k.ms)} ms (${k.message})`,
    );

    // --- (a') never-ready verdict -------------------------------------------------------------------------------
    const probe = {
      readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 5, failureThreshold: 3 },
    };
    const windowMs = 15_000;
    const nr1 = await image('bench/never', 'healthy');
    const nrBad = await image('bench/never', 'never-ready');
    await ns('never-g');
    await ns('never-k');
    await create('never-g', 'api', nr1, { deadline: 30, probes: probe });
    await create('never-k', 'api', nr1, { deadline: 30, probes: probe });
    await Promise.all([until('never-g', ['api']), until('never-k', ['api'])]);
    log('never-ready: gantry and kubectl side by side (readiness probe window 15 s; deadline 30 s)');
    const kubectlNever = (async () => {
      const set = await kubectl('set', 'image', 'deployment/api', `app=${nrBad}`, '-n', 'never-k');
      if (set.code !== 0) throw new Error(`kubectl set image: ${set.stderr}`);
      const applied = performance.now();
      const st = await kubectl('rollout', 'status', 'deployment/api', '-n', 'never-k', '--timeout=300s');
      return { ms: st.endedAt - applied, message: (st.stderr || st.stdout).trim().split('\n').at(-1) ?? '' };
    })();
    // the pods are gone after the restore: note each container's start while they run
    const startedOf = new Map<string, string>();
    const podWatch = new AbortController();
    const podWatcher = runInformer<Pod>({
      client,
      path: resourcePath('pods', 'never-g'),
      signal: podWatch.signal,
      onChange: (items) => {
        for (const [name, p] of items) {
          const at = p.status?.containerStatuses?.[0]?.state?.running?.startedAt;
          if (at && !startedOf.has(name)) startedOf.set(name, at);
        }
      },
    }).catch(() => undefined);
    let verdictWall = 0;
    const nrLogger = new (class extends MemoryLogger {
      override error(m: string): void {
        if (!verdictWall) verdictWall = Date.now();
        super.error(m);
      }
    })();
    const nrReport = await runDeploy('never-g', [`api=${nrBad}`], nrLogger);
    const kn = await kubectlNever;
    podWatch.abort();
    await podWatcher;
    const startedAt = Date.parse(startedOf.get(nrReport.failure?.pod ?? '') ?? '');
    const neverReady = {
      gantryVerdictMs: nrReport.timings.waitMs ?? NaN,
      afterWindowMs: verdictWall - (startedAt + windowMs),
      windowMs,
      gantryReason: `${nrReport.result}: ${nrReport.failure?.reason ?? '?'}`,
      gantryMessage: nrReport.failure?.message ?? '',
      kubectl30Ms: kn.ms,
      kubectlMessage: kn.message,
    };
    log(
      `never-ready: gantry ${Math.round(neverReady.gantryVerdictMs)} ms (${neverReady.gantryReason}, ${Math.round(neverReady.afterWindowMs)} ms after the probe window), kubectl ${Math.round(kn.ms)} ms (${kn.message})`,
    );

    // --- (b) success-detection lag -------------------------------------------------------------------------
    await ns('lag');
    const l1 = await image('bench/lag', 'healthy');
    await create('lag', 'api', l1, { replicas: 2 });
    await until('lag', ['api']);
    const success = { gantryLagMs: [] as number[], kubectlLagMs: [] as number[] };
    for (let i = 0; i < o.successIterations; i++) {
      const next = await image('bench/lag', 'slow-start=2');
      const controller = new AbortController();
      let completeAt = 0;
      const state: { current?: Deployment } = {};
      const watcher = runInformer<Deployment>({
        client,
        path: resourcePath('deployments', 'lag'),
        signal: controller.signal,
        onChange: (items) => {
          const d = items.get('api');
          const cur = state.current;
          if (
            d &&
            cur &&
            (d.metadata.generation ?? 0) >= (cur.metadata.generation ?? 0) &&
            rolloutStatus(d).done &&
            !completeAt
          )
            completeAt = performance.now();
        },
      }).catch(() => undefined);
      state.current = await client.request<Deployment>({
        method: 'PATCH',
        path: resourcePath('deployments', 'lag', 'api'),
        body: { spec: { template: { spec: { containers: [{ name: 'app', image: next }] } } } },
        contentType: PATCH_TYPES.strategic,
      });
      const [g, kk] = await Promise.all([
        run('node', [o.cli, 'rollout-status', 'api', '--namespace', 'lag', '--kubeconfig', ks.kubeconfig], {
          PATH: kenv.PATH,
        }),
        kubectl('rollout', 'status', 'deployment/api', '-n', 'lag', '--timeout=120s'),
      ]);
      controller.abort();
      await watcher;
      if (g.code !== 0 || kk.code !== 0)
        throw new Error(
          `rollout status failed: gantry ${g.code} ${g.stderr} / kubectl ${kk.code} ${kk.stderr}`,
        );
      success.gantryLagMs.push(g.endedAt - completeAt);
      success.kubectlLagMs.push(kk.endedAt - completeAt);
      log(
        `success lag #${i + 1}: gantry ${Math.round(g.endedAt - completeAt)} ms, kubectl ${Math.round(kk.endedAt - completeAt)} ms`,
      );
    }

    // --- (c) fan-out -----------------------------------------------------------------------------------------
    const f1 = await image('bench/fan', 'healthy');
    const f2 = await image('bench/fan', 'healthy');
    await ns('fan-one');
    await ns('fan-thirty');
    await create('fan-one', 'svc-0', f1);
    const names = Array.from({ length: 30 }, (_, i) => `svc-${i}`);
    for (const name of names) await create('fan-thirty', name, f1);
    await Promise.all([until('fan-one', ['svc-0']), until('fan-thirty', names)]);
    const one = await runDeploy('fan-one', [`svc-0=${f2}`]);
    const thirty = await runDeploy(
      'fan-thirty',
      names.map((x) => `${x}=${f2}`),
    );
    if (one.result !== 'succeeded' || thirty.result !== 'succeeded')
      throw new Error(`fan-out deploys: ${one.result} / ${thirty.result}`);
    const fanout = {
      oneMs: one.durationMs,
      thirtyMs: thirty.durationMs,
      oneWaitMs: one.timings.waitMs ?? NaN,
      thirtyWaitMs: thirty.timings.waitMs ?? NaN,
    };
    log(`fan-out: one ${one.durationMs} ms, thirty ${thirty.durationMs} ms`);
    return { crashloop, neverReady, success, fanout };
  } finally {
    registry.close();
    client.close();
    await ks.stop();
    await reg.stop();
  }
}
