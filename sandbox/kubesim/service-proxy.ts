/**
 * Services on loopback: each Service gets one stable `http://127.0.0.1:<port>` for its whole
 * life, which round-robins requests over the Ready pods its selector matches (like kube-proxy
 * over the Endpoints), answering 503 when there are none.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClusterContext } from './controller-runtime.js';
import type { Kubelet } from './kubelet.js';
import { isPodReady } from './replicaset-controller.js';
import { R } from './resources.js';
import { matchesLabelSelector } from './selectors.js';
import type { Pod, Service } from './types.js';

interface ServiceRuntime {
  server: Server;
  url?: string;
  next: number;
  ready: Promise<void>;
}

export class ServiceProxy {
  private readonly services = new Map<string, ServiceRuntime>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly ctx: ClusterContext,
    private readonly kubelet: Kubelet,
  ) {
    this.unsubscribe = ctx.store.subscribe((e) => {
      if (e.rt !== R.services) return;
      const key = `${e.object.metadata.namespace}/${e.object.metadata.name}`;
      if (e.type === 'ADDED') this.open(key);
      else if (e.type === 'DELETED') this.close(key);
    });
  }

  /** `{ "<ns>/<name>": url }` for every Service. */
  async urls(): Promise<Record<string, string>> {
    await Promise.all([...this.services.values()].map((s) => s.ready));
    const out: Record<string, string> = {};
    for (const [k, s] of this.services) if (s.url) out[k] = s.url;
    return out;
  }

  async url(ns: string, name: string): Promise<string | undefined> {
    const s = this.services.get(`${ns}/${name}`);
    await s?.ready;
    return s?.url;
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    await Promise.all([...this.services.keys()].map((k) => this.close(k)));
  }

  private endpoints(ns: string, name: string): { pod: string; url: string }[] {
    const svc = this.ctx.store.get(R.services, ns, name) as Service | undefined;
    if (!svc?.spec.selector || Object.keys(svc.spec.selector).length === 0) return [];
    const out: { pod: string; url: string }[] = [];
    for (const p of this.ctx.store.list(R.pods, ns) as Pod[]) {
      if (!isPodReady(p) || !matchesLabelSelector(p.metadata.labels, { matchLabels: svc.spec.selector }))
        continue;
      const url = this.kubelet.podUrl(ns, p.metadata.name!);
      if (url) out.push({ pod: p.metadata.name!, url });
    }
    return out;
  }

  private open(key: string): void {
    if (this.services.has(key)) return;
    const [ns, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
    const rt: ServiceRuntime = { server: undefined as unknown as Server, next: 0, ready: Promise.resolve() };
    rt.server = createServer((req, res) => {
      const eps = this.endpoints(ns, name);
      if (eps.length === 0) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'no endpoints', service: key }));
        return;
      }
      const ep = eps[rt.next++ % eps.length]!;
      const target = new URL(req.url ?? '/', ep.url);
      const up = request(target, { method: req.method, headers: req.headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'bad gateway', pod: ep.pod }));
      });
      req.pipe(up);
    });
    rt.server.keepAliveTimeout = 1000;
    rt.ready = new Promise((resolve) =>
      rt.server.listen(0, '127.0.0.1', () => {
        rt.url = `http://127.0.0.1:${(rt.server.address() as AddressInfo).port}`;
        this.ctx.logger.log('info', 'service-proxy', `service ${key} at ${rt.url}`);
        resolve();
      }),
    );
    this.services.set(key, rt);
  }

  private close(key: string): Promise<void> {
    const s = this.services.get(key);
    if (!s) return Promise.resolve();
    this.services.delete(key);
    return new Promise((resolve) => {
      s.server.close(() => resolve());
      s.server.closeAllConnections();
    });
  }
}
