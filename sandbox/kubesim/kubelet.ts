/**
 * The simulated kubelet (plus a round-robin scheduler and the node lifecycle controller):
 * gives each pod a node, "pulls" its images from the sandbox registry and runs a per-container
 * state machine chosen by the image's behaviour label — ErrImagePull/ImagePullBackOff,
 * CrashLoopBackOff with the kubelet's back-off, OOMKilled, never-ready, slow start, exit codes
 * for Jobs. It writes container statuses, pod conditions and kubelet-style events, and serves
 * every running pod that declares a containerPort on its own loopback HTTP port.
 *
 * Probes follow the pod spec as the kubelet runs them (times in simulated seconds; defaults of
 * the Kubernetes API: initialDelaySeconds 0, periodSeconds 10, failureThreshold 3,
 * successThreshold 1). A probe first runs 1 s after `initialDelaySeconds`, then every
 * `periodSeconds`; each failure is an `Unhealthy` Warning event worded like the kubelet's
 * (`Readiness probe failed: HTTP probe failed with statuscode: 503`).
 * - startupProbe: the container reports `started: false` until it succeeds; while it has not,
 *   readiness is not probed. `failureThreshold` consecutive failures kill the container
 *   (`Killing: Container x failed startup probe, will be restarted`, exit 137) and it restarts
 *   with the usual back-off.
 * - readinessProbe: probed once started; Ready after `successThreshold` consecutive successes.
 * - What a probe sees: `tcpSocket` succeeds as soon as the container runs (the port is open);
 *   `httpGet`, `exec` and `grpc` follow the behaviour — `healthy`/`degraded` pass, `slow-start=<s>`
 *   passes from `<s>` seconds after the container started, `never-ready` never passes.
 * - Without a readinessProbe, Ready follows the behaviour alone (as before): at once, after
 *   `<s>` for slow-start, never for never-ready (with an implicit probe's `Unhealthy` event every
 *   10 s).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isoTime } from './clock.js';
import type { ClusterContext } from './controller-runtime.js';
import type { Behavior, ImageResolver } from './image-resolver.js';
import { R } from './resources.js';
import type { Condition, ContainerState, ContainerStatus, KObject, Pod, PodStatus } from './types.js';

export const POD_URL_ANNOTATION = 'dev.gantry.sim/url';

/** Simulated durations (ms of simulated time). */
const PULL_MS = 500;
const START_MS = 300;
const RUN_BEFORE_EXIT_MS = 1500;
const SHOW_TERMINATED_MS = 800;
const BACKOFF_BASE_MS = 10_000;
const BACKOFF_MAX_MS = 300_000;
const UNHEALTHY_EVERY_MS = 10_000;
/** A probe's first run comes this long after its initialDelaySeconds (the kubelet's jitter). */
const PROBE_FIRST_AFTER_MS = 1000;
const EVICTION_AFTER_MS = 300_000;

type Phase =
  | 'waiting'
  | 'pulling'
  | 'pull-error'
  | 'pull-backoff'
  | 'starting'
  | 'running'
  | 'terminated'
  | 'crash-backoff';

interface ContainerRuntime {
  name: string;
  image: string;
  phase: Phase;
  behavior?: Behavior;
  imageID: string;
  ready: boolean;
  everStarted: boolean;
  restartCount: number;
  startedAt?: string;
  /** Clock reading (ms, unrounded) when the current instance started. */
  startedMs: number;
  waiting?: { reason: string; message?: string };
  terminated?: NonNullable<ContainerState['terminated']>;
  lastTerminated?: NonNullable<ContainerState['terminated']>;
  pullFailures: number;
  crashes: number;
  timers: (() => void)[];
  containerId: string;
  readiness?: ProbeSpec;
  startup?: ProbeSpec;
  /** The startup probe has succeeded (true at once without one). */
  started: boolean;
  logs: string[];
  previousLogs: string[];
}

interface PodRuntime {
  ns: string;
  name: string;
  uid: string;
  node: string;
  podIP: string;
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  containers: ContainerRuntime[];
  server?: Server;
  url?: string;
  lost: boolean;
  stopped: boolean;
  startTime: string;
  evictionTimer?: () => void;
  requests: number;
}

/** A container's probe, times in simulated ms, defaults applied. */
export interface ProbeSpec {
  handler: 'httpGet' | 'tcpSocket' | 'exec' | 'grpc';
  initialDelayMs: number;
  periodMs: number;
  failureThreshold: number;
  successThreshold: number;
  /** For messages: `GET http://ip:port/path`, the port, or the command. */
  target: string;
}

/** Reads a probe from a container spec with the Kubernetes API's defaults; undefined if none. */
export function probeSpec(probe: unknown): ProbeSpec | undefined {
  if (!probe || typeof probe !== 'object') return undefined;
  const p = probe as {
    httpGet?: { path?: string; port?: number | string };
    tcpSocket?: { port?: number | string };
    exec?: { command?: string[] };
    grpc?: { port?: number };
    initialDelaySeconds?: number;
    periodSeconds?: number;
    failureThreshold?: number;
    successThreshold?: number;
  };
  const num = (v: number | undefined, d: number, min: number): number =>
    typeof v === 'number' && Number.isFinite(v) && v >= min ? v : d;
  const handler = p.tcpSocket ? 'tcpSocket' : p.exec ? 'exec' : p.grpc ? 'grpc' : 'httpGet';
  const target =
    handler === 'httpGet'
      ? `${p.httpGet?.port ?? 80}${p.httpGet?.path ?? '/'}`
      : handler === 'tcpSocket'
        ? String(p.tcpSocket?.port ?? '')
        : handler === 'grpc'
          ? String(p.grpc?.port ?? '')
          : (p.exec?.command ?? []).join(' ');
  return {
    handler,
    initialDelayMs: num(p.initialDelaySeconds, 0, 0) * 1000,
    periodMs: num(p.periodSeconds, 10, 1) * 1000,
    failureThreshold: num(p.failureThreshold, 3, 1),
    successThreshold: num(p.successThreshold, 1, 1),
    target,
  };
}

export interface KubeletOptions {
  nodes?: number;
  kubeletVersion?: string;
}

let ipCounter = 10;

export class Kubelet {
  private readonly pods = new Map<string, PodRuntime>();
  private readonly nodeNames: string[];
  private readonly lostNodes = new Set<string>();
  private readonly pulledOnNode = new Set<string>();
  private rr = 0;
  private paused = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly ctx: ClusterContext,
    private readonly images: ImageResolver,
    opts: KubeletOptions = {},
  ) {
    this.nodeNames = Array.from({ length: opts.nodes ?? 2 }, (_, i) => `kubesim-node-${i + 1}`);
    for (const n of this.nodeNames) this.writeNode(n, true, opts.kubeletVersion ?? 'v1.31.0');
    this.unsubscribe = ctx.store.subscribe((e) => {
      if (e.rt !== R.pods) return;
      const key = `${e.object.metadata.namespace}/${e.object.metadata.name}`;
      if (e.type === 'DELETED') {
        const rt = this.pods.get(key);
        // the kubelet stops what still runs; the event outlives the pod, as in a real cluster
        for (const c of rt?.containers ?? []) {
          if (c.phase === 'running' && !rt!.lost)
            this.ctx.events.record(
              e.object,
              'Normal',
              'Killing',
              `Stopping container ${c.name}`,
              'kubelet',
              `spec.containers{${c.name}}`,
            );
        }
        void this.stopPod(key, 'deleted');
      } else if (e.type === 'ADDED' && !this.paused) setImmediate(() => this.startPod(key));
    });
  }

  get nodes(): readonly string[] {
    return this.nodeNames;
  }

  setPaused(p: boolean): void {
    this.paused = p;
    if (!p)
      for (const pod of this.ctx.store.list(R.pods))
        this.startPod(`${pod.metadata.namespace}/${pod.metadata.name}`);
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    await Promise.all([...this.pods.keys()].map((k) => this.stopPod(k, 'shutdown')));
  }

  podUrl(ns: string, name: string): string | undefined {
    return this.pods.get(`${ns}/${name}`)?.url;
  }

  /** Whether the pod's HTTP endpoint currently answers 200 (ready, running, not degraded). */
  isServingPod(ns: string, name: string): boolean {
    const p = this.pods.get(`${ns}/${name}`);
    return !!p && !p.lost && p.containers.every((c) => c.ready);
  }

  logs(ns: string, name: string, container: string | undefined, previous: boolean): string[] | undefined {
    const p = this.pods.get(`${ns}/${name}`);
    if (!p) return undefined;
    const c = container ? p.containers.find((x) => x.name === container) : p.containers[0];
    if (!c) return undefined;
    return previous ? c.previousLogs : c.logs;
  }

  // ------------------------------------------------------------------ nodes

  private writeNode(name: string, ready: boolean, kubeletVersion?: string): void {
    const nowIso = isoTime(this.ctx.clock.now());
    const existing = this.ctx.store.get(R.nodes, undefined, name);
    const cond: Condition = ready
      ? {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'kubelet is posting ready status',
          lastTransitionTime: nowIso,
        }
      : {
          type: 'Ready',
          status: 'Unknown',
          reason: 'NodeStatusUnknown',
          message: 'Kubelet stopped posting node status.',
          lastTransitionTime: nowIso,
        };
    const node: KObject = existing
      ? structuredClone(existing)
      : {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: {
            name,
            labels: {
              'kubernetes.io/hostname': name,
              'kubernetes.io/os': 'linux',
              'kubernetes.io/arch': 'amd64',
              'node-role.kubernetes.io/control-plane': '',
            },
          },
          spec: {},
          status: {
            capacity: { cpu: '2', memory: '4Gi', pods: '110' },
            allocatable: { cpu: '2', memory: '4Gi', pods: '110' },
            addresses: [
              { type: 'InternalIP', address: '127.0.0.1' },
              { type: 'Hostname', address: name },
            ],
            nodeInfo: {
              kubeletVersion: kubeletVersion ?? '',
              osImage: 'kubesim',
              operatingSystem: 'linux',
              architecture: 'amd64',
              containerRuntimeVersion: 'kubesim://1',
            },
          },
        };
    const status = node.status as { conditions?: Condition[] };
    status.conditions = [cond];
    (node.spec as Record<string, unknown>).taints = ready
      ? undefined
      : [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: nowIso }];
    if (existing) this.ctx.store.update(R.nodes, node);
    else this.ctx.store.create(R.nodes, node);
  }

  /** Node lost: its pods turn NotReady, their endpoints stop answering; eviction after 5 min. */
  loseNode(node: string): void {
    if (!this.nodeNames.includes(node))
      throw new Error(`unknown node ${node}; nodes: ${this.nodeNames.join(', ')}`);
    this.lostNodes.add(node);
    this.writeNode(node, false);
    for (const p of this.pods.values()) {
      if (p.node !== node || p.stopped) continue;
      p.lost = true;
      for (const c of p.containers) this.clearTimers(c);
      void p.server?.close();
      p.server?.closeAllConnections();
      this.syncStatus(p);
      p.evictionTimer = this.ctx.clock.after(EVICTION_AFTER_MS, () => {
        const pod = this.ctx.store.get(R.pods, p.ns, p.name);
        if (!pod || !p.lost) return;
        this.ctx.events.record(
          pod,
          'Normal',
          'TaintManagerEviction',
          `Marking for deletion Pod ${p.ns}/${p.name}`,
          'taint-eviction-controller',
        );
        this.ctx.logger.log('info', 'node-lifecycle', `evicting ${p.ns}/${p.name} from lost node ${node}`);
        this.ctx.store.remove(R.pods, p.ns, p.name);
      });
    }
    this.ctx.logger.log('warn', 'node-lifecycle', `node ${node} lost`);
  }

  restoreNode(node: string): void {
    if (!this.lostNodes.delete(node)) return;
    this.writeNode(node, true);
    for (const [key, p] of this.pods) {
      if (p.node !== node || !p.lost) continue;
      p.evictionTimer?.();
      this.stopPod(key, 'node restored');
      this.startPod(key);
    }
    for (const pod of this.ctx.store.list(R.pods) as Pod[])
      if (!pod.spec.nodeName) this.startPod(`${pod.metadata.namespace}/${pod.metadata.name}`);
    this.ctx.logger.log('info', 'node-lifecycle', `node ${node} restored`);
  }

  // ------------------------------------------------------------------ pod lifecycle

  private startPod(key: string): void {
    if (this.pods.has(key) || this.paused) return;
    const [ns, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
    let pod = this.ctx.store.get(R.pods, ns, name) as Pod | undefined;
    if (!pod || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    let node = pod.spec.nodeName;
    if (!node) {
      const ready = this.nodeNames.filter((n) => !this.lostNodes.has(n));
      if (ready.length === 0) {
        const msg = `0/${this.nodeNames.length} nodes are available: ${this.nodeNames.length} node(s) had untolerated taint {node.kubernetes.io/unreachable: }.`;
        const conds: Condition[] = [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: msg,
            lastProbeTime: null,
            lastTransitionTime: isoTime(this.ctx.clock.now()),
          },
        ];
        this.ctx.store.update(R.pods, {
          ...pod,
          status: { ...pod.status, phase: 'Pending', conditions: conds },
        });
        this.ctx.events.record(pod, 'Warning', 'FailedScheduling', msg, 'default-scheduler');
        return;
      }
      node = ready[this.rr++ % ready.length]!;
      pod = this.ctx.store.update(R.pods, { ...pod, spec: { ...pod.spec, nodeName: node } }) as Pod;
      this.ctx.events.record(
        pod,
        'Normal',
        'Scheduled',
        `Successfully assigned ${ns}/${name} to ${node}`,
        'default-scheduler',
      );
    }
    const rt: PodRuntime = {
      ns,
      name,
      uid: pod.metadata.uid!,
      node,
      podIP: `10.42.${this.nodeNames.indexOf(node) + 1}.${(ipCounter = (ipCounter % 250) + 1)}`,
      restartPolicy: pod.spec.restartPolicy ?? 'Always',
      containers: pod.spec.containers.map((c) => {
        const readiness = probeSpec(c.readinessProbe);
        const startup = probeSpec(c.startupProbe);
        return {
          name: c.name,
          image: c.image ?? '',
          phase: 'waiting' as Phase,
          imageID: '',
          ready: false,
          everStarted: false,
          restartCount: 0,
          waiting: { reason: 'ContainerCreating' },
          pullFailures: 0,
          crashes: 0,
          timers: [],
          containerId: '',
          ...(readiness ? { readiness } : {}),
          ...(startup ? { startup } : {}),
          started: false,
          startedMs: 0,
          logs: [],
          previousLogs: [],
        };
      }),
      lost: this.lostNodes.has(node),
      stopped: false,
      startTime: isoTime(this.ctx.clock.now()),
      requests: 0,
    };
    this.pods.set(key, rt);
    this.syncStatus(rt);
    if (rt.lost) return;
    for (const c of rt.containers) this.pull(rt, c);
  }

  private stopPod(key: string, why: string): Promise<void> {
    const p = this.pods.get(key);
    if (!p) return Promise.resolve();
    p.stopped = true;
    p.evictionTimer?.();
    for (const c of p.containers) this.clearTimers(c);
    this.pods.delete(key);
    this.ctx.logger.log('debug', 'kubelet', `${key} stopped (${why})`);
    const srv = p.server;
    if (!srv) return Promise.resolve();
    return new Promise((resolve) => {
      srv.close(() => resolve());
      srv.closeAllConnections();
    });
  }

  private clearTimers(c: ContainerRuntime): void {
    for (const t of c.timers) t();
    c.timers = [];
  }

  private later(p: PodRuntime, c: ContainerRuntime, simMs: number, fn: () => void): void {
    c.timers.push(
      this.ctx.clock.after(simMs, () => {
        if (p.stopped || p.lost || this.paused) return;
        fn();
      }),
    );
  }

  private podObject(p: PodRuntime): Pod | undefined {
    return this.ctx.store.get(R.pods, p.ns, p.name) as Pod | undefined;
  }

  private event(
    p: PodRuntime,
    c: ContainerRuntime | undefined,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): void {
    const pod = this.podObject(p);
    if (pod)
      this.ctx.events.record(
        pod,
        type,
        reason,
        message,
        'kubelet',
        c ? `spec.containers{${c.name}}` : undefined,
      );
  }

  private log(c: ContainerRuntime, line: string): void {
    c.logs.push(`${new Date().toISOString()} ${line}`);
    if (c.logs.length > 200) c.logs.splice(0, c.logs.length - 200);
  }

  private pull(p: PodRuntime, c: ContainerRuntime): void {
    c.phase = 'pulling';
    const nodeKey = `${p.node}|${c.image}`;
    const pod = this.podObject(p);
    const policy = pod?.spec.containers.find((x) => x.name === c.name)?.imagePullPolicy;
    const cached = policy !== 'Always' && this.pulledOnNode.has(nodeKey);
    if (!cached) this.event(p, c, 'Normal', 'Pulling', `Pulling image "${c.image}"`);
    const started = Date.now();
    this.later(p, c, cached ? 0 : PULL_MS, () => {
      void this.images.lookup(c.image).then((res) => {
        if (p.stopped || p.lost) return;
        if (!res.found) {
          this.pullFailed(p, c, res.message);
          return;
        }
        c.behavior = res.behavior;
        c.imageID = `${c.image.split('@')[0]!.replace(/:[^/:]+$/, '')}@${res.digest}`;
        c.pullFailures = 0;
        if (cached)
          this.event(p, c, 'Normal', 'Pulled', `Container image "${c.image}" already present on machine`);
        else {
          const took = ((Date.now() - started) * this.ctx.clock.speed) / 1000;
          this.event(
            p,
            c,
            'Normal',
            'Pulled',
            `Successfully pulled image "${c.image}" in ${took.toFixed(3)}s (${took.toFixed(3)}s including waiting). Image size: ${res.size} bytes.`,
          );
        }
        this.pulledOnNode.add(nodeKey);
        c.phase = 'starting';
        this.later(p, c, START_MS, () => this.run(p, c));
      });
    });
  }

  private pullFailed(p: PodRuntime, c: ContainerRuntime, message: string): void {
    c.pullFailures++;
    c.phase = 'pull-error';
    c.waiting = { reason: 'ErrImagePull', message };
    this.event(p, c, 'Warning', 'Failed', `Failed to pull image "${c.image}": ${message}`);
    this.event(p, c, 'Warning', 'Failed', 'Error: ErrImagePull');
    this.ctx.logger.log('info', 'kubelet', `${p.ns}/${p.name}: ErrImagePull ${c.image}`);
    this.syncStatus(p);
    const backoff = Math.min(BACKOFF_BASE_MS * 2 ** (c.pullFailures - 1), BACKOFF_MAX_MS);
    this.later(p, c, Math.min(1000, backoff), () => {
      c.phase = 'pull-backoff';
      c.waiting = { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` };
      this.event(p, c, 'Normal', 'BackOff', `Back-off pulling image "${c.image}"`);
      this.event(p, c, 'Warning', 'Failed', 'Error: ImagePullBackOff');
      this.syncStatus(p);
    });
    this.later(p, c, backoff, () => this.pull(p, c));
  }

  private run(p: PodRuntime, c: ContainerRuntime): void {
    const b = c.behavior ?? { kind: 'healthy' };
    const nowIso = isoTime(this.ctx.clock.now());
    c.phase = 'running';
    c.everStarted = true;
    c.startedMs = this.ctx.clock.now();
    c.started = false;
    c.ready = false;
    c.startedAt = nowIso;
    c.waiting = undefined;
    c.terminated = undefined;
    c.containerId = `containerd://${Math.random().toString(16).slice(2).padEnd(16, '0')}${p.uid.replace(/-/g, '').slice(0, 16)}`;
    this.event(p, c, 'Normal', 'Created', `Created container ${c.name}`);
    this.event(p, c, 'Normal', 'Started', `Started container ${c.name}`);
    this.log(c, `kubesim: started container ${c.name} from ${c.image} (behavior ${describe(b)})`);
    void this.ensureServer(p);
    switch (b.kind) {
      case 'healthy':
      case 'degraded':
      case 'slow-start':
      case 'never-ready':
        this.startProbing(p, c, b);
        break;
      default:
        c.started = !c.startup;
    }
    switch (b.kind) {
      case 'crashloop':
        this.later(p, c, RUN_BEFORE_EXIT_MS, () =>
          this.exit(p, c, 1, 'Error', 'panic: simulated crash (dev.gantry.sim/behavior=crashloop)'),
        );
        break;
      case 'exit':
        this.later(p, c, RUN_BEFORE_EXIT_MS, () =>
          this.exit(
            p,
            c,
            b.code,
            b.code === 0 ? 'Completed' : 'Error',
            b.code === 0 ? 'done' : `exiting with code ${b.code}`,
          ),
        );
        break;
      case 'oom':
        this.later(p, c, RUN_BEFORE_EXIT_MS, () =>
          this.exit(p, c, 137, 'OOMKilled', 'fatal error: runtime: out of memory'),
        );
        break;
    }
    this.syncStatus(p);
  }

  /** Whether the application answers a probe of `kind` right now (see the header). */
  private passes(c: ContainerRuntime, b: Behavior, handler: ProbeSpec['handler']): boolean {
    if (handler === 'tcpSocket') return true;
    if (b.kind === 'never-ready') return false;
    if (b.kind === 'slow-start') return this.ctx.clock.simElapsed(c.startedMs) >= b.seconds * 1000 - 5;
    return true;
  }

  private probeFailure(p: PodRuntime, probe: ProbeSpec): string {
    switch (probe.handler) {
      case 'tcpSocket':
        return `dial tcp ${p.podIP}:${probe.target}: connect: connection refused`;
      case 'exec':
        return `command "${probe.target}" exited with status 1`;
      case 'grpc':
        return 'service unhealthy (responded with "NOT_SERVING")';
      default:
        return 'HTTP probe failed with statuscode: 503';
    }
  }

  /** Runs `probe` at the kubelet's schedule until `step` returns false. */
  private schedule(p: PodRuntime, c: ContainerRuntime, probe: ProbeSpec, step: () => boolean): void {
    const instance = c.containerId;
    const tick = (): void => {
      if (c.phase !== 'running' || c.containerId !== instance) return;
      if (step()) this.later(p, c, probe.periodMs, tick);
    };
    this.later(p, c, probe.initialDelayMs + Math.min(PROBE_FIRST_AFTER_MS, probe.periodMs), tick);
  }

  /** Startup probe, then readiness (from the pod spec) — or the behaviour alone without one. */
  private startProbing(p: PodRuntime, c: ContainerRuntime, b: Behavior): void {
    const afterStart = (inRun: boolean): void => {
      c.started = true;
      if (c.readiness) this.probeReadiness(p, c, b, c.readiness);
      else this.readyByBehavior(p, c, b);
      if (!inRun) this.syncStatus(p);
    };
    const startup = c.startup;
    if (!startup) {
      afterStart(true);
      return;
    }
    let failures = 0;
    this.schedule(p, c, startup, () => {
      if (this.passes(c, b, startup.handler)) {
        afterStart(false);
        return false;
      }
      failures++;
      this.event(p, c, 'Warning', 'Unhealthy', `Startup probe failed: ${this.probeFailure(p, startup)}`);
      if (failures < startup.failureThreshold) return true;
      this.event(p, c, 'Normal', 'Killing', `Container ${c.name} failed startup probe, will be restarted`);
      this.exit(p, c, 137, 'Error', `kubesim: killed after ${failures} failed startup probes`);
      return false;
    });
  }

  private probeReadiness(p: PodRuntime, c: ContainerRuntime, b: Behavior, probe: ProbeSpec): void {
    let successes = 0;
    let failures = 0;
    this.schedule(p, c, probe, () => {
      if (this.passes(c, b, probe.handler)) {
        failures = 0;
        if (!c.ready && ++successes >= probe.successThreshold) this.setReady(p, c);
        return true;
      }
      successes = 0;
      failures++;
      this.event(p, c, 'Warning', 'Unhealthy', `Readiness probe failed: ${this.probeFailure(p, probe)}`);
      if (c.ready && failures >= probe.failureThreshold) {
        c.ready = false;
        this.syncStatus(p);
      }
      return true;
    });
  }

  /** No readinessProbe: Ready as the behaviour says (kubesim's stand-in for the app). */
  private readyByBehavior(p: PodRuntime, c: ContainerRuntime, b: Behavior): void {
    if (b.kind === 'slow-start') {
      const left = b.seconds * 1000 - this.ctx.clock.simElapsed(c.startedMs);
      this.later(p, c, Math.max(0, left), () => this.setReady(p, c));
    } else if (b.kind === 'never-ready') {
      const unhealthy = (): void => {
        this.event(
          p,
          c,
          'Warning',
          'Unhealthy',
          'Readiness probe failed: HTTP probe failed with statuscode: 503',
        );
        this.later(p, c, UNHEALTHY_EVERY_MS, unhealthy);
      };
      this.later(p, c, 1000, unhealthy);
    } else {
      // healthy, degraded: Ready with Running; the caller writes the status
      c.ready = true;
      this.log(c, 'ready');
    }
  }

  private setReady(p: PodRuntime, c: ContainerRuntime): void {
    c.ready = true;
    this.log(c, 'ready');
    this.syncStatus(p);
  }

  private exit(p: PodRuntime, c: ContainerRuntime, code: number, reason: string, line: string): void {
    this.log(c, line);
    const finishedIso = isoTime(this.ctx.clock.now());
    c.ready = false;
    c.phase = 'terminated';
    c.terminated = {
      exitCode: code,
      reason,
      startedAt: c.startedAt,
      finishedAt: finishedIso,
      containerID: c.containerId,
    };
    c.previousLogs = c.logs;
    c.logs = [];
    const restart = p.restartPolicy === 'Always' || (p.restartPolicy === 'OnFailure' && code !== 0);
    if (!restart) {
      this.ctx.logger.log(
        'info',
        'kubelet',
        `${p.ns}/${p.name}: container ${c.name} exited ${code} (${reason})`,
      );
      this.syncStatus(p);
      return;
    }
    c.crashes++;
    // the first restart is immediate; then 10s, 20s, 40s … capped at 5 minutes
    const backoff = c.crashes === 1 ? 0 : Math.min(BACKOFF_BASE_MS * 2 ** (c.crashes - 2), BACKOFF_MAX_MS);
    this.syncStatus(p);
    const restartNow = (): void => {
      c.lastTerminated = c.terminated;
      c.terminated = undefined;
      c.restartCount++;
      this.run(p, c);
    };
    if (backoff === 0) {
      this.later(p, c, Math.min(SHOW_TERMINATED_MS, 500), restartNow);
      return;
    }
    this.later(p, c, Math.min(SHOW_TERMINATED_MS, backoff), () => {
      c.phase = 'crash-backoff';
      c.lastTerminated = c.terminated;
      c.terminated = undefined;
      c.waiting = {
        reason: 'CrashLoopBackOff',
        message: `back-off ${backoff / 1000}s restarting failed container=${c.name} pod=${p.name}_${p.ns}(${p.uid})`,
      };
      this.event(
        p,
        c,
        'Warning',
        'BackOff',
        `Back-off restarting failed container ${c.name} in pod ${p.name}_${p.ns}(${p.uid})`,
      );
      this.syncStatus(p);
    });
    this.later(p, c, backoff, () => {
      c.restartCount++;
      this.run(p, c);
    });
  }

  private containerStatus(c: ContainerRuntime): ContainerStatus {
    let state: ContainerState;
    if (c.phase === 'running') state = { running: { startedAt: c.startedAt } };
    else if (c.phase === 'terminated' && c.terminated) state = { terminated: c.terminated };
    else state = { waiting: c.waiting ?? { reason: 'ContainerCreating' } };
    return {
      name: c.name,
      image: c.image,
      imageID: c.imageID,
      ...(c.containerId ? { containerID: c.containerId } : {}),
      ready: c.ready,
      started: c.phase === 'running' && c.started,
      restartCount: c.restartCount,
      state,
      lastState: c.lastTerminated ? { terminated: c.lastTerminated } : {},
    };
  }

  private syncStatus(p: PodRuntime): void {
    const pod = this.podObject(p);
    if (!pod || p.stopped) return;
    const nowIso = isoTime(this.ctx.clock.now());
    const prev = pod.status?.conditions ?? [];
    const statuses = p.containers.map((c) => this.containerStatus(c));
    const allReady = !p.lost && p.containers.every((c) => c.ready);
    const notReady = p.containers.filter((c) => !c.ready).map((c) => c.name);
    const terminal = p.containers.every(
      (c) =>
        c.phase === 'terminated' &&
        !(
          p.restartPolicy === 'Always' ||
          (p.restartPolicy === 'OnFailure' && (c.terminated?.exitCode ?? 0) !== 0)
        ),
    );
    let phase: PodStatus['phase'] = p.containers.some((c) => c.everStarted) ? 'Running' : 'Pending';
    if (terminal) phase = p.containers.every((c) => c.terminated?.exitCode === 0) ? 'Succeeded' : 'Failed';
    const cond = (type: string, ok: boolean, reason?: string, message?: string): Condition => {
      const status = ok ? 'True' : 'False';
      const old = prev.find((x) => x.type === type);
      return {
        type,
        status,
        lastProbeTime: null,
        lastTransitionTime: old && old.status === status ? old.lastTransitionTime : nowIso,
        ...(reason ? { reason } : {}),
        ...(message ? { message } : {}),
      };
    };
    const readyReason = p.lost ? 'NodeNotReady' : terminal ? 'PodCompleted' : 'ContainersNotReady';
    const readyMessage = p.lost
      ? `Node ${p.node} is not ready`
      : terminal
        ? undefined
        : `containers with unready status: [${notReady.join(' ')}]`;
    const conditions: Condition[] = [
      cond('PodReadyToStartContainers', !terminal),
      cond('Initialized', true),
      allReady ? cond('Ready', true) : cond('Ready', false, readyReason, readyMessage),
      allReady ? cond('ContainersReady', true) : cond('ContainersReady', false, readyReason, readyMessage),
      cond('PodScheduled', true),
    ];
    const status: PodStatus = {
      phase,
      conditions,
      hostIP: '127.0.0.1',
      podIP: p.podIP,
      podIPs: [{ ip: p.podIP }],
      startTime: p.startTime,
      containerStatuses: statuses,
      qosClass: 'BestEffort',
    };
    const annotations = p.url
      ? { ...pod.metadata.annotations, [POD_URL_ANNOTATION]: p.url }
      : pod.metadata.annotations;
    this.ctx.store.update(R.pods, {
      ...pod,
      metadata: { ...pod.metadata, ...(annotations ? { annotations } : {}) },
      status,
    });
    if (terminal) {
      void p.server?.close();
      p.server?.closeAllConnections();
    }
  }

  /** One loopback HTTP server per pod that declares a containerPort; answers by behaviour. */
  private async ensureServer(p: PodRuntime): Promise<void> {
    if (p.server) return;
    const pod = this.podObject(p);
    if (!pod || !pod.spec.containers.some((c) => (c.ports ?? []).length > 0)) return;
    const server = createServer((req, res) => {
      p.requests++;
      const runtime =
        p.containers.find((c) => pod.spec.containers.find((x) => x.name === c.name)?.ports?.length) ??
        p.containers[0]!;
      let code = 200;
      let body: Record<string, unknown> = { status: 'ok' };
      if (p.lost || runtime.phase !== 'running' || !runtime.ready) {
        code = 503;
        body = { status: 'not ready' };
      } else if (runtime.behavior?.kind === 'degraded') {
        code = 500;
        body = { status: 'degraded', error: 'simulated failure (dev.gantry.sim/behavior=degraded)' };
      }
      this.log(runtime, `${req.method} ${req.url} ${code}`);
      res.writeHead(code, {
        'content-type': 'application/json',
        'x-kubesim-pod': p.name,
        'x-kubesim-image': runtime.image,
      });
      res.end(JSON.stringify({ ...body, pod: p.name, image: runtime.image }));
    });
    server.keepAliveTimeout = 1000;
    p.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    if (p.stopped) {
      server.close();
      return;
    }
    p.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.syncStatus(p);
  }
}

function describe(b: Behavior): string {
  if (b.kind === 'slow-start') return `slow-start=${b.seconds}`;
  if (b.kind === 'exit') return `exit=${b.code}`;
  return b.kind;
}
