/**
 * Load figure for kubesim (reported, never asserted): 50 Deployments × 3 replicas created at
 * once and then all rolled to a new image, while four watch clients follow deployments,
 * replicasets, pods and events in all namespaces. kubesim runs in its own process (the
 * bundled `sandbox serve`), so its CPU time and memory are measured alone.
 */
import { request, type IncomingMessage } from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubesimStats } from '../../sandbox/kubesim/index.js';
import { buildSandboxBundle } from '../fixtures/kubesim.js';

const N = 50;
const REPLICAS = 3;
let dir: string;
let bundle: string;
let server = '';

function cli(...args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout }));
  });
}

interface WatchClient {
  events: number;
  bytes: number;
  close(): void;
}

function watchAll(path: string, onObject?: (type: string, obj: DeploymentLike) => void): WatchClient {
  const client: WatchClient = { events: 0, bytes: 0, close: () => undefined };
  const req = request(`${server}${path}?watch=true&allowWatchBookmarks=true`, (res: IncomingMessage) => {
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      client.bytes += chunk.length;
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        client.events++;
        if (onObject) {
          const e = JSON.parse(line) as { type: string; object: DeploymentLike };
          onObject(e.type, e.object);
        }
      }
    });
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined);
  req.end();
  client.close = () => req.destroy();
  return client;
}

interface DeploymentLike {
  metadata: { name?: string; namespace?: string; generation?: number };
  spec?: { template?: { spec?: { containers?: { image?: string }[] } } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
  };
}

const rolledOut = (d: DeploymentLike, image: string): boolean =>
  d.spec?.template?.spec?.containers?.[0]?.image === image &&
  d.metadata.generation === d.status?.observedGeneration &&
  d.status?.replicas === REPLICAS &&
  d.status.updatedReplicas === REPLICAS &&
  d.status.availableReplicas === REPLICAS;

async function stats(): Promise<KubesimStats> {
  return (await (await fetch(`${server}/_kubesim/stats`)).json()) as KubesimStats;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubesim-perf-'));
  bundle = await buildSandboxBundle(dir);
  const up = await cli('up', '--json', '--state-dir', join(dir, 'state'), '--clock-speed', '10');
  expect(up.code).toBe(0);
  server = (JSON.parse(up.stdout) as { server: string }).server;
});

afterAll(async () => {
  if (bundle) await cli('down', '--state-dir', join(dir, 'state'));
  await rm(dir, { recursive: true, force: true });
});

describe('kubesim under load', () => {
  it(`rolls out ${N} deployments × ${REPLICAS} replicas concurrently, twice, with 4 watch clients`, async () => {
    const latest = new Map<string, DeploymentLike>();
    const watches = [
      watchAll('/apis/apps/v1/deployments', (type, d) => {
        if (type !== 'BOOKMARK' && d.metadata.name)
          latest.set(`${d.metadata.namespace}/${d.metadata.name}`, d);
      }),
      watchAll('/apis/apps/v1/replicasets'),
      watchAll('/api/v1/pods'),
      watchAll('/api/v1/events'),
    ];
    const waitAll = async (image: string, what: string): Promise<number> => {
      const t0 = Date.now();
      for (;;) {
        const done = [...latest.values()].filter((d) => rolledOut(d, image)).length;
        if (done === N) return Date.now() - t0;
        if (Date.now() - t0 > 90_000) throw new Error(`${what}: only ${done}/${N} rolled out`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      const before = await stats();
      const t0 = Date.now();
      await Promise.all(
        Array.from({ length: N }, (_, i) =>
          fetch(`${server}/apis/apps/v1/namespaces/default/deployments`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({
              metadata: { name: `load-${i}` },
              spec: {
                replicas: REPLICAS,
                selector: { matchLabels: { app: `load-${i}` } },
                template: {
                  metadata: { labels: { app: `load-${i}` } },
                  spec: {
                    containers: [
                      { name: 'app', image: 'example.test/load:1', ports: [{ containerPort: 8080 }] },
                    ],
                  },
                },
              },
            }),
          }).then(async (r) => {
            await r.arrayBuffer();
            expect(r.status).toBe(201);
          }),
        ),
      );
      const createMs = await waitAll('example.test/load:1', 'initial rollout');
      await Promise.all(
        Array.from({ length: N }, (_, i) =>
          fetch(`${server}/apis/apps/v1/namespaces/default/deployments/load-${i}`, {
            method: 'PATCH',
            headers: { 'Content-Type': 'application/strategic-merge-patch+json' },
            body: JSON.stringify({
              spec: { template: { spec: { containers: [{ name: 'app', image: 'example.test/load:2' }] } } },
            }),
          }).then(async (r) => {
            await r.arrayBuffer();
            expect(r.status).toBe(200);
          }),
        ),
      );
      const rollMs = await waitAll('example.test/load:2', 'rolling update');
      const after = await stats();
      const cpuMs = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000;
      const figures = {
        deployments: N,
        replicas: REPLICAS,
        watchClients: watches.length,
        watchEvents: watches.reduce((n, w) => n + w.events, 0),
        watchMiB: +(watches.reduce((n, w) => n + w.bytes, 0) / 2 ** 20).toFixed(1),
        initialRolloutWallMs: createMs,
        rollingUpdateWallMs: rollMs,
        totalWallMs: Date.now() - t0,
        kubesimCpuMs: Math.round(cpuMs),
        kubesimRssMiB: +(after.memory.rss / 2 ** 20).toFixed(1),
        kubesimHeapUsedMiB: +(after.memory.heapUsed / 2 ** 20).toFixed(1),
        objects: after.objects,
        resourceVersions: after.resourceVersion - before.resourceVersion,
      };
      console.log(`kubesim perf (clock ×10): ${JSON.stringify(figures)}`);
      const log = await readFile(join(dir, 'state', 'kubesim', 'kubesim.log'), 'utf8');
      expect(log).toContain('serving Kubernetes');
    } finally {
      for (const w of watches) w.close();
    }
  });
});
