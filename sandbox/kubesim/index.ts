/**
 * kubesim — a Kubernetes API simulator that unmodified kubectl and @kubernetes/client-node
 * talk to, with Deployment/ReplicaSet/Job controllers and a kubelet whose pods behave as
 * their images say. `startKubesim()` wires the store, controllers, kubelet, Service proxy,
 * fault injector and HTTP(S) server together and writes a kubeconfig.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdmin, createAdminHttpHandler, type KubesimAdmin, type KubesimStats } from './admin.js';
import { createApiHandler } from './api-server.js';
import { TokenAuthenticator, type TokenGrant } from './auth.js';
import { createSimClock } from './clock.js';
import type { ClusterContext, ControllerName } from './controller-runtime.js';
import { DeploymentController } from './deployment-controller.js';
import { createEventRecorder } from './events.js';
import { FaultInjector } from './faults.js';
import { ImageResolver, type Behavior } from './image-resolver.js';
import { JobController } from './job-controller.js';
import { Kubelet } from './kubelet.js';
import { kubeconfigYaml } from './kubeconfig.js';
import { createLogger } from './logger.js';
import { ReplicaSetController } from './replicaset-controller.js';
import { R } from './resources.js';
import { ServiceProxy } from './service-proxy.js';
import { Store } from './store.js';
import { ensureServerTls } from './tls.js';

export type { KubesimAdmin, KubesimStats } from './admin.js';
export type { TokenGrant, PolicyRule } from './auth.js';
export type { FaultSpec, Fault } from './faults.js';
export type { ControllerName } from './controller-runtime.js';
export { BEHAVIOR_LABEL } from './image-resolver.js';
export { POD_URL_ANNOTATION } from './kubelet.js';

export interface KubesimOptions {
  /** host:port of the OCI registry the kubelet pulls from (e.g. the sandbox registry). */
  registry?: string;
  registryAuth?: { username: string; password: string };
  /** Images not in `registry`: 'healthy' (default, handy for kubectl tests) or 'pull-error' (realistic offline). */
  foreignImages?: 'healthy' | 'pull-error';
  /** Simulated seconds per wall second for delays, back-offs and deadlines (default 1). */
  clockSpeed?: number;
  /** Serve HTTPS with a self-signed CA and require bearer tokens (default false: plain HTTP, no auth). */
  tls?: boolean;
  /** Require tokens even over plain HTTP (kubectl will not send them; client libraries may). Default: same as tls. */
  auth?: boolean;
  port?: number;
  /** Where the kubeconfig, TLS material and log go; a temp dir (removed on stop) when omitted. */
  stateDir?: string;
  /** Extra tokens: token → grant. An admin token is always created. */
  tokens?: Record<string, TokenGrant>;
  /** Use this admin token instead of a random one. */
  adminToken?: string;
  /** Server minor version reported on /version (the kubectl dispatcher picks kubectl.1.<minor>). Default 31. */
  serverMinor?: number;
  nodes?: number;
  /** Simulated seconds between watch bookmarks (default 60). */
  bookmarkIntervalSeconds?: number;
  /** Watch history length (events); older resourceVersions get 410 Expired. */
  historySize?: number;
  /** Receives every log line (in addition to `<stateDir>/kubesim.log`). */
  onLog?: (line: string) => void;
  debug?: boolean;
}

export interface Kubesim {
  /** http(s)://127.0.0.1:<port> */
  url: string;
  /** Path of the kubeconfig written for the admin token. */
  kubeconfig: string;
  kubeconfigYaml: string;
  /** The admin bearer token. */
  token: string;
  /** PEM of the CA that signed the server certificate (TLS only). */
  caPem?: string;
  stateDir: string;
  admin: KubesimAdmin;
  /** Process resource figures, for benchmarks. */
  stats(): KubesimStats;
  stop(): Promise<void>;
}

export async function startKubesim(opts: KubesimOptions = {}): Promise<Kubesim> {
  const ownState = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? (await mkdtemp(join(tmpdir(), 'kubesim-')));
  await mkdir(stateDir, { recursive: true });
  const logger = createLogger({ file: join(stateDir, 'kubesim.log'), sink: opts.onLog, debug: opts.debug });
  const clock = createSimClock(opts.clockSpeed ?? 1);
  const store = new Store({ historySize: opts.historySize, now: clock.now });
  const events = createEventRecorder(store, clock.now);
  const paused = new Set<ControllerName>();
  const ctx: ClusterContext = { store, clock, events, logger, isPaused: (c) => paused.has(c) };
  const serverMinor = opts.serverMinor ?? 31;

  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    store.create(R.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
  }

  const imageOverrides = new Map<string, Behavior>();
  const images = new ImageResolver({
    registry: opts.registry,
    username: opts.registryAuth?.username,
    password: opts.registryAuth?.password,
    foreignImages: opts.foreignImages,
    overrides: imageOverrides,
  });
  const deployments = new DeploymentController(ctx);
  const replicasets = new ReplicaSetController(ctx);
  const jobs = new JobController(ctx);
  const kubelet = new Kubelet(ctx, images, { nodes: opts.nodes, kubeletVersion: `v1.${serverMinor}.0` });
  const services = new ServiceProxy(ctx, kubelet);
  const faults = new FaultInjector(logger);

  const auth = new TokenAuthenticator();
  const token = opts.adminToken ?? randomBytes(24).toString('base64url');
  auth.add(token, { user: 'kubesim-admin', groups: ['system:masters'], admin: true });
  for (const [t, grant] of Object.entries(opts.tokens ?? {})) auth.add(t, grant);
  const authEnabled = opts.auth ?? opts.tls ?? false;

  const tls = opts.tls ? await ensureServerTls(join(stateDir, 'tls')) : undefined;
  let url = '';
  const kubeconfigFor = (t: string, ns?: string): string =>
    kubeconfigYaml({ server: url, caPem: tls?.caPem, token: t, namespace: ns });

  const admin = createAdmin({
    store,
    faults,
    kubelet,
    services,
    logger,
    auth,
    imageOverrides,
    kubeconfigFor,
    pause(name, p) {
      if (p) paused.add(name);
      else paused.delete(name);
      if (name === 'deployment') deployments.queue.setPaused(p);
      else if (name === 'replicaset') replicasets.queue.setPaused(p);
      else if (name === 'job') jobs.queue.setPaused(p);
      else if (name === 'kubelet') kubelet.setPaused(p);
    },
  });

  const handler = createApiHandler({
    store,
    clock,
    logger,
    faults,
    auth: authEnabled ? auth : undefined,
    kubelet,
    serverMinor,
    serverAddress: () => url.replace(/^https?:\/\//, ''),
    bookmarkIntervalMs: (opts.bookmarkIntervalSeconds ?? 60) * 1000,
    admin: createAdminHttpHandler(admin),
  });
  const listener = (req: IncomingMessage, res: ServerResponse): void => handler(req, res);
  const server: Server = tls
    ? createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, listener)
    : createHttpServer(listener);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const yaml = kubeconfigFor(token);
  const kubeconfig = join(stateDir, 'kubeconfig');
  await writeFile(kubeconfig, yaml, { mode: 0o600 });
  logger.log(
    'info',
    'kubesim',
    `serving Kubernetes v1.${serverMinor} API at ${url} (clock ×${clock.speed}, registry ${opts.registry ?? 'none'}, auth ${authEnabled ? 'on' : 'off'})`,
  );

  let stopped = false;
  return {
    url,
    kubeconfig,
    kubeconfigYaml: yaml,
    token,
    caPem: tls?.caPem,
    stateDir,
    admin,
    stats: () => admin.stats(),
    async stop() {
      if (stopped) return;
      stopped = true;
      deployments.stop();
      replicasets.stop();
      jobs.stop();
      await Promise.all([
        kubelet.stop(),
        services.stop(),
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
      ]);
      logger.log('info', 'kubesim', 'stopped');
      if (ownState) await rm(stateDir, { recursive: true, force: true });
    },
  };
}
