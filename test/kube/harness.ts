/**
 * Integration harness for k3s-deploy: a real registry and kubesim (clock ×10 by default), tiny
 * images whose config label tells kubesim's kubelet how to behave, Deployments created through
 * gantry's own client, and `deploy()` wired exactly as the action wires it.
 */
import { MemoryLogger } from '../../src/core/logging.js';
import { HttpKubeClient, resourcePath, type KubeClient } from '../../src/kube/client.js';
import { deploy, type DeployOptions, type DeployReport } from '../../src/kube/deploy.js';
import { registryClient, registryResolver, type ImageVerifier } from '../../src/kube/images.js';
import { loadClusterConnection } from '../../src/kube/kubeconfig.js';
import { parseDeployTargets } from '../../src/kube/targets.js';
import type { Deployment } from '../../src/kube/types.js';
import { startKubesim, eventually, type Kubesim, type KubesimOptions } from '../fixtures/kubesim.js';
import { pushTestImage } from '../fixtures/oci-images.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';

export { eventually };

export interface KubeEnv {
  registry: RunningRegistry;
  kubesim: Kubesim;
  /** Admin client (kubesim's admin token). */
  client: HttpKubeClient;
  /** Pushes `<registry>/<repo>:<tag>` behaving as `behavior`; returns the tag reference. */
  image(repo: string, tag: string, behavior?: string): Promise<string>;
  namespace(name: string): Promise<void>;
  createDeployment(ns: string, spec: DeploymentSpecLite): Promise<Deployment>;
  getDeployment(ns: string, name: string): Promise<Deployment>;
  /** deploy() with test defaults (lock on, atomic on, 2 min timeout). */
  deploy(
    options: Partial<DeployOptions> & { namespace: string; lines: string[] },
    extra?: { client?: KubeClient; verifier?: ImageVerifier; signal?: AbortSignal; logger?: MemoryLogger },
  ): Promise<{ report: DeployReport; logger: MemoryLogger }>;
}

export interface DeploymentSpecLite {
  name: string;
  image: string;
  container?: string;
  replicas?: number;
  strategy?: 'RollingUpdate' | 'Recreate';
  progressDeadlineSeconds?: number;
  extraContainers?: { name: string; image: string }[];
  /** readinessProbe / startupProbe of the main container (which then listens on 8080). */
  probes?: { readinessProbe?: Record<string, unknown>; startupProbe?: Record<string, unknown> };
}

let counter = 0;

export async function startKubeEnv(opts: KubesimOptions = {}): Promise<KubeEnv> {
  const registry = await startRegistry();
  const kubesim = await startKubesim({ registry: registry.host, clockSpeed: 10, tls: true, ...opts });
  const conn = await loadClusterConnection({ kubeconfig: kubesim.kubeconfig });
  const client = new HttpKubeClient(conn);
  const env: KubeEnv = {
    registry,
    kubesim,
    client,
    async image(repo, tag, behavior = 'healthy') {
      await pushTestImage(registry.url, repo, tag, {
        labels: { 'dev.gantry.sim/behavior': behavior },
        content: `${repo}:${tag}:${behavior}:${++counter}`,
      });
      return `${registry.host}/${repo}:${tag}`;
    },
    async namespace(name) {
      await client.request({
        method: 'POST',
        path: resourcePath('namespaces', undefined),
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
      });
    },
    async createDeployment(ns, s) {
      const container = s.container ?? s.name;
      const body: Deployment = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: s.name, namespace: ns, labels: { app: s.name } },
        spec: {
          replicas: s.replicas ?? 2,
          selector: { matchLabels: { app: s.name } },
          strategy:
            s.strategy === 'Recreate'
              ? { type: 'Recreate' }
              : { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          progressDeadlineSeconds: s.progressDeadlineSeconds ?? 600,
          template: {
            metadata: { labels: { app: s.name } },
            spec: {
              containers: [
                {
                  name: container,
                  image: s.image,
                  ...(s.probes ? { ports: [{ containerPort: 8080 }], ...s.probes } : {}),
                },
                ...(s.extraContainers ?? []),
              ],
            },
          },
        },
      };
      await client.request({ method: 'POST', path: resourcePath('deployments', ns), body });
      // wait for the first version to be available, as a running service would be
      return eventually(
        async () => {
          const d = await client.request<Deployment>({ path: resourcePath('deployments', ns, s.name) });
          const st = d.status ?? {};
          return (st.availableReplicas ?? 0) === (s.replicas ?? 2) &&
            (st.updatedReplicas ?? 0) === (s.replicas ?? 2) &&
            (st.replicas ?? 0) === (s.replicas ?? 2)
            ? d
            : undefined;
        },
        30_000,
        `deployment ${s.name} available`,
      );
    },
    getDeployment(ns, name) {
      return client.request<Deployment>({ path: resourcePath('deployments', ns, name) });
    },
    async deploy(options, extra = {}) {
      const logger = extra.logger ?? new MemoryLogger();
      const { lines, ...rest } = options;
      const reg = registryClient({ env: {} });
      try {
        const report = await deploy(
          {
            targets: parseDeployTargets(lines),
            timeoutMs: 120_000,
            atomic: true,
            lock: true,
            dryRun: false,
            changeCause: 'itg test',
            ...rest,
          },
          {
            client: extra.client ?? client,
            resolver: registryResolver(reg),
            logger,
            ...(extra.verifier ? { verifier: extra.verifier } : {}),
            ...(extra.signal ? { signal: extra.signal } : {}),
          },
        );
        return { report, logger };
      } finally {
        reg.close();
      }
    },
  };
  return env;
}

export function imagesOf(d: Deployment): string[] {
  return (d.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? '');
}
