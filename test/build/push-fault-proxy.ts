/**
 * A loopback HTTP proxy in front of a registry that answers the first `failures` matching requests
 * with an error status (default: 503 on manifest PUTs, i.e. the push itself) and forwards
 * everything else byte for byte. Used to show that transient push failures are retried.
 * (A narrow stand-in until the OCI engineer's general fault proxy fixture is available.)
 */
import { request, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';

export interface PushFaultProxy {
  host: string;
  url: string;
  /** Requests answered with the injected error so far. */
  injected: string[];
  /** Requests forwarded. */
  forwarded: number;
  stop(): Promise<void>;
}

export async function startPushFaultProxy(options: {
  upstream: string;
  failures: number;
  status?: number;
  match?: (req: IncomingMessage) => boolean;
}): Promise<PushFaultProxy> {
  const upstream = new URL(options.upstream);
  const match = options.match ?? ((req) => req.method === 'PUT' && /\/manifests\//.test(req.url ?? ''));
  let remaining = options.failures;
  const state = { injected: [] as string[], forwarded: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (remaining > 0 && match(req)) {
      remaining--;
      state.injected.push(`${req.method} ${req.url}`);
      req.resume();
      const status = options.status ?? 503;
      res.writeHead(status, { 'content-type': 'application/json' });
      // distribution's error codes for these statuses
      const code = status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE';
      res.end(JSON.stringify({ errors: [{ code, message: 'injected fault' }] }));
      return;
    }
    state.forwarded++;
    const up = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (ures) => {
        const headers = { ...ures.headers };
        // Location headers point at the upstream; rewrite so the client keeps talking to us
        if (typeof headers.location === 'string')
          headers.location = headers.location.replace(upstream.host, `${req.headers.host}`);
        res.writeHead(ures.statusCode ?? 502, headers);
        ures.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const proxy: PushFaultProxy = {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    get injected() {
      return state.injected;
    },
    get forwarded() {
      return state.forwarded;
    },
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  afterAll(() => proxy.stop());
  return proxy;
}
