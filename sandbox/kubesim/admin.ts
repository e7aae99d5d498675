/**
 * The test/operator control surface of kubesim: a typed in-process API (`KubesimAdmin`) and
 * the same operations over HTTP under `/_kubesim/…` (admin token required when TLS is on),
 * for faults, lost nodes, paused controllers, raw object writes (to stage exact Deployment
 * states), image behaviour overrides, Service/pod URLs, extra tokens and the log.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TokenAuthenticator, TokenGrant } from './auth.js';
import type { ControllerName } from './controller-runtime.js';
import type { Fault, FaultInjector, FaultSpec } from './faults.js';
import { parseBehavior, type Behavior } from './image-resolver.js';
import type { Kubelet } from './kubelet.js';
import type { KubesimLogger } from './logger.js';
import { RESOURCE_TYPES, apiVersionOf } from './resources.js';
import type { ServiceProxy } from './service-proxy.js';
import { ApiError, badRequest, notFoundPath, statusBody } from './status-errors.js';
import type { Store } from './store.js';
import type { KObject } from './types.js';
import { sendJson } from './api-server.js';

export interface KubesimAdmin {
  injectFault(spec: FaultSpec): string;
  removeFault(id: string): boolean;
  clearFaults(): void;
  faults(): Fault[];
  nodes(): readonly string[];
  /** Marks a node lost (default: the first); its pods go NotReady and are evicted after 5 simulated minutes. */
  loseNode(node?: string): string;
  restoreNode(node?: string): void;
  pauseController(name: ControllerName): void;
  resumeController(name: ControllerName): void;
  /** Writes an object verbatim (status, generation …): bumps resourceVersion and notifies watches. */
  setObject(obj: KObject): KObject;
  getObject(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
  ): KObject | undefined;
  /** Makes `image` behave as given (`healthy`, `crashloop`, `slow-start=5` …) without a registry lookup. */
  setImageBehavior(image: string, behavior: string): void;
  serviceUrls(): Promise<Record<string, string>>;
  serviceUrl(namespace: string, name: string): Promise<string | undefined>;
  podUrl(namespace: string, name: string): string | undefined;
  /** Registers a bearer token (random when omitted) and returns it. */
  addToken(grant: TokenGrant, token?: string): string;
  /** A kubeconfig YAML for this server using `token`. */
  kubeconfigFor(token: string, namespace?: string): string;
  logs(): string[];
  /** Object count, resourceVersion and this process's CPU time and memory. */
  stats(): KubesimStats;
}

export interface KubesimStats {
  objects: number;
  resourceVersion: number;
  cpu: NodeJS.CpuUsage;
  memory: NodeJS.MemoryUsage;
}

export interface AdminDeps {
  store: Store;
  faults: FaultInjector;
  kubelet: Kubelet;
  services: ServiceProxy;
  logger: KubesimLogger;
  auth: TokenAuthenticator;
  imageOverrides: Map<string, Behavior>;
  pause(name: ControllerName, paused: boolean): void;
  kubeconfigFor(token: string, namespace?: string): string;
}

export function createAdmin(d: AdminDeps): KubesimAdmin {
  const rtOf = (apiVersion: string | undefined, kind: string | undefined) => {
    const rt = RESOURCE_TYPES.find((r) => r.kind === kind && apiVersionOf(r) === apiVersion);
    if (!rt) throw new Error(`kubesim admin: unknown kind ${apiVersion}/${kind}`);
    return rt;
  };
  const node = (n?: string): string => n ?? d.kubelet.nodes[0]!;
  return {
    injectFault: (spec) => d.faults.add(spec),
    removeFault: (id) => d.faults.remove(id),
    clearFaults: () => d.faults.clear(),
    faults: () => d.faults.list(),
    nodes: () => d.kubelet.nodes,
    loseNode(n) {
      const name = node(n);
      d.kubelet.loseNode(name);
      return name;
    },
    restoreNode: (n) => d.kubelet.restoreNode(node(n)),
    pauseController(name) {
      d.logger.log('warn', 'faults', `controller ${name} paused`);
      d.pause(name, true);
    },
    resumeController(name) {
      d.logger.log('warn', 'faults', `controller ${name} resumed`);
      d.pause(name, false);
    },
    setObject(obj) {
      const rt = rtOf(obj.apiVersion, obj.kind);
      d.logger.log(
        'info',
        'admin',
        `raw write ${obj.kind} ${obj.metadata.namespace ?? ''}/${obj.metadata.name}`,
      );
      return d.store.put(rt, obj);
    },
    getObject: (apiVersion, kind, ns, name) => d.store.get(rtOf(apiVersion, kind), ns, name),
    setImageBehavior(image, behavior) {
      d.imageOverrides.set(image, parseBehavior(behavior));
      d.logger.log('info', 'admin', `image ${image} behaves as ${behavior}`);
    },
    serviceUrls: () => d.services.urls(),
    serviceUrl: (ns, name) => d.services.url(ns, name),
    podUrl: (ns, name) => d.kubelet.podUrl(ns, name),
    addToken(grant, token) {
      const t = token ?? randomBytes(24).toString('base64url');
      d.auth.add(t, grant);
      d.logger.log('info', 'admin', `token added for user ${grant.user}${grant.admin ? ' (admin)' : ''}`);
      return t;
    },
    kubeconfigFor: (token, ns) => d.kubeconfigFor(token, ns),
    logs: () => d.logger.lines(),
    stats: () => ({
      objects: d.store.namespacedTypes().reduce((n, t) => n + d.store.list(t).length, 0),
      resourceVersion: d.store.currentRv(),
      cpu: process.cpuUsage(),
      memory: process.memoryUsage(),
    }),
  };
}

const CONTROLLERS: ControllerName[] = ['deployment', 'replicaset', 'job', 'kubelet', 'garbage-collector'];

/** `/_kubesim/…` over HTTP; JSON in, JSON out. */
export function createAdminHttpHandler(admin: KubesimAdmin) {
  return async (req: IncomingMessage, res: ServerResponse, path: string, body: string): Promise<void> => {
    const m = req.method ?? 'GET';
    const parts = path.split('/').filter(Boolean).slice(1);
    const json = (): unknown => {
      try {
        return JSON.parse(body || '{}') as unknown;
      } catch {
        throw badRequest('admin: body must be JSON');
      }
    };
    const [a, b, c, e] = parts;
    if (a === 'faults') {
      if (m === 'GET') return sendJson(res, 200, admin.faults());
      if (m === 'POST') return sendJson(res, 201, { id: admin.injectFault(json() as FaultSpec) });
      if (m === 'DELETE' && b) return sendJson(res, admin.removeFault(b) ? 200 : 404, { id: b });
      if (m === 'DELETE') {
        admin.clearFaults();
        return sendJson(res, 200, {});
      }
    }
    if (a === 'nodes') {
      if (m === 'GET' && !b) return sendJson(res, 200, admin.nodes());
      if (m === 'POST' && b && c === 'lose') return sendJson(res, 200, { node: admin.loseNode(b) });
      if (m === 'POST' && b && c === 'restore') {
        admin.restoreNode(b);
        return sendJson(res, 200, { node: b });
      }
    }
    if (a === 'controllers' && m === 'POST' && b && (c === 'pause' || c === 'resume')) {
      if (!CONTROLLERS.includes(b as ControllerName))
        throw badRequest(`unknown controller ${b}; one of ${CONTROLLERS.join(', ')}`);
      if (c === 'pause') admin.pauseController(b as ControllerName);
      else admin.resumeController(b as ControllerName);
      return sendJson(res, 200, { controller: b, paused: c === 'pause' });
    }
    if (a === 'objects' && (m === 'PUT' || m === 'POST'))
      return sendJson(res, 200, admin.setObject(json() as KObject));
    if (a === 'images' && m === 'POST') {
      const { image, behavior } = json() as { image?: string; behavior?: string };
      if (!image) throw badRequest('admin: image is required');
      admin.setImageBehavior(image, behavior ?? 'healthy');
      return sendJson(res, 200, { image, behavior });
    }
    if (a === 'services' && m === 'GET') return sendJson(res, 200, await admin.serviceUrls());
    if (a === 'pods' && m === 'GET' && b && c && e === 'url') {
      const url = admin.podUrl(b, c);
      if (!url) throw new ApiError(statusBody(404, 'NotFound', `pod ${b}/${c} has no endpoint`));
      return sendJson(res, 200, { url });
    }
    if (a === 'tokens' && m === 'POST') {
      const { token, ...grant } = json() as TokenGrant & { token?: string };
      const t = admin.addToken(grant, token);
      return sendJson(res, 201, { token: t, kubeconfig: admin.kubeconfigFor(t) });
    }
    if (a === 'stats' && m === 'GET') return sendJson(res, 200, admin.stats());
    if (a === 'logs' && m === 'GET') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(admin.logs().join('\n') + '\n');
      return;
    }
    throw notFoundPath();
  };
}
