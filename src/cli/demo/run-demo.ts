/**
 * The demo: the real pipeline on the sample app (examples/app) against the local sandbox (a real
 * OCI registry + kubesim), chained exactly as a user's script or workflow would chain the gantry
 * commands — each step is a `gantry …` command run in-process with `--json`, so the demo exercises
 * the same code paths (and, from dist/, the same bundles) as the CLI and the actions:
 *
 *   sandbox up → generate-key-pair → build v1 → sign → bootstrap the app (by tag, as the old
 *   script left it) → deploy v1 (digest-pinned, signature-gated) → smoke → build+sign v2 with a
 *   degraded api → release (deploy → smoke fails → automatic rollback → smoke) → build+sign v3
 *   with a crashlooping worker → deploy (fails fast, atomic restore) → smoke → sandbox down.
 *
 * Steps that are meant to fail (v2, v3) count as successes of the demo when they fail the way
 * they should; the demo's exit code is 0 only when every step ended as expected.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { GantryError, errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logging.js';
import { HttpKubeClient } from '../../kube/client.js';
import { loadClusterConnection } from '../../kube/kubeconfig.js';
import type { CliIo } from '../command.js';

export interface DemoOptions {
  /** examples/app (the multi-target Dockerfile). */
  appDir: string;
  stateDir?: string;
  clockSpeed: number;
  builder: 'buildah' | 'buildx';
  keep: boolean;
  namespace: string;
}

export interface DemoDeps {
  logger: Logger;
  /** Runs a gantry command in-process. */
  invoke(argv: readonly string[], io: CliIo): Promise<number>;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  now?: () => number;
  /** Creates the app's starting state in the cluster; default: bootstrapApp (real API calls). */
  bootstrap?: (
    kubeconfig: string,
    namespace: string,
    images: BuiltImage[],
    env: NodeJS.ProcessEnv,
  ) => Promise<void>;
}

export interface DemoStep {
  id: string;
  title: string;
  /** ms since the demo started */
  startMs: number;
  durationMs: number;
  exitCode: number;
  expectedExit: number;
  ok: boolean;
  /** One line: what happened. */
  note: string;
  result?: unknown;
}

export interface DemoResult {
  ok: boolean;
  startedAt: string;
  durationMs: number;
  stateDir: string;
  registry?: string;
  server?: string;
  serviceUrl?: string;
  steps: DemoStep[];
}

/** Lines of sub-command logs worth showing: builder chatter is left out (it is in --verbose). */
const NOISE =
  /^(\[\d+\/\d+\] |Getting image source signatures|Copying (blob|config)|Writing manifest|Storing signatures|--> |Successfully tagged|\[Warning\] one or more build args|[0-9a-f]{64}$|#\d+ )/;

interface LogRecord {
  level?: string;
  msg?: string;
}

/** Finds examples/app from the bundle's or the sources' location, or the working directory. */
export function findAppDir(start: string, cwd: string): string | undefined {
  for (const base of [start, cwd]) {
    let dir = resolve(base);
    for (let i = 0; i < 6; i++) {
      const candidate = join(dir, 'examples', 'app');
      if (existsSync(join(candidate, 'Dockerfile'))) return candidate;
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return undefined;
}

export async function runDemo(options: DemoOptions, deps: DemoDeps): Promise<DemoResult> {
  const now = deps.now ?? (() => performance.now());
  const t0 = now();
  const { logger } = deps;
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'gantry-demo-')));
  await mkdir(stateDir, { recursive: true });
  const keyPassword = randomBytes(18).toString('base64url');
  logger.mask(keyPassword);
  const env: NodeJS.ProcessEnv = { ...deps.env, COSIGN_PASSWORD: keyPassword };
  const result: DemoResult = {
    ok: false,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    stateDir,
    steps: [],
  };

  /** Runs one gantry command as a demo step; returns its parsed --json output. */
  async function step(
    id: string,
    title: string,
    argv: string[],
    expect: { exit?: number; note: (json: unknown, code: number) => string },
  ): Promise<unknown> {
    const start = now();
    let stdout = '';
    let partial = '';
    const onStderr = (text: string): void => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) showLog(line);
    };
    const showLog = (line: string): void => {
      if (!line.trim()) return;
      let rec: LogRecord;
      try {
        rec = JSON.parse(line) as LogRecord;
      } catch {
        logger.info(`  │ ${line}`);
        return;
      }
      const msg = rec.msg ?? '';
      if (rec.level === 'debug' || (rec.level === 'info' && NOISE.test(msg))) return;
      const prefix = rec.level === 'warning' || rec.level === 'error' ? `${rec.level}: ` : '';
      logger.info(`${prefix}${msg}`.replace(/^/gm, '  │ '));
    };
    const code = await logger.group(title, () =>
      deps.invoke([...argv, '--json'], {
        stdout: (t) => (stdout += t),
        stderr: onStderr,
        env,
        signal: deps.signal,
      }),
    );
    if (partial) showLog(partial);
    let json: unknown;
    try {
      json = stdout.trim() ? JSON.parse(stdout) : undefined;
    } catch {
      json = undefined;
    }
    const expectedExit = expect.exit ?? 0;
    const s: DemoStep = {
      id,
      title,
      startMs: Math.round(start - t0),
      durationMs: Math.round(now() - start),
      exitCode: code,
      expectedExit,
      ok: code === expectedExit,
      note: '',
      result: json,
    };
    const error = (json as { error?: { message?: string } } | undefined)?.error;
    try {
      s.note = error?.message ?? expect.note(json, code);
    } catch (e) {
      s.note = `(no report: ${errorMessage(e)})`;
    }
    result.steps.push(s);
    const verdict = s.ok
      ? expectedExit === 0
        ? 'ok'
        : `failed as it should (exit ${code})`
      : `UNEXPECTED exit ${code}`;
    logger.info(
      `${s.ok ? '✔' : '✘'} ${title}: ${verdict} in ${(s.durationMs / 1000).toFixed(1)}s — ${s.note}`,
    );
    if (!s.ok) {
      throw new GantryError(
        'check-failed',
        `demo step "${title}" ended with exit ${code}, expected ${expectedExit}`,
      );
    }
    return json;
  }

  const sandboxArgs = ['--state-dir', join(stateDir, 'sandbox')];
  let sandboxUp = false;
  try {
    const sandbox = (await step(
      'sandbox',
      'start the sandbox (registry + kubesim)',
      ['sandbox', 'up', ...sandboxArgs, '--clock-speed', String(options.clockSpeed)],
      { note: (j) => `registry ${(j as SandboxInfo).registry}, cluster ${(j as SandboxInfo).server}` },
    )) as SandboxInfo;
    sandboxUp = true;
    result.registry = sandbox.registry;
    result.server = sandbox.server;
    const kube = ['--kubeconfig', sandbox.kubeconfig, '--namespace', options.namespace];
    const image = `${sandbox.registry}/demo/app-{target}`;
    const keyPrefix = join(stateDir, 'cosign');

    await step(
      'keys',
      'generate a cosign signing key',
      ['generate-key-pair', '--output-key-prefix', keyPrefix],
      {
        note: () => `${keyPrefix}.key (encrypted, 0600) and ${keyPrefix}.pub`,
      },
    );

    const build = async (version: string, buildArgs: string[]): Promise<BuiltImage[]> =>
      (await step(
        `build-${version}`,
        `build ${version}${buildArgs.length ? ` (${buildArgs.join(', ')})` : ''}`,
        [
          'build',
          '--builder',
          options.builder,
          '--context',
          options.appDir,
          '--targets',
          'api,worker,admin',
          '--image',
          image,
          '--cache',
          'none',
          '--tags',
          version,
          '--build-args',
          `VERSION=${version}`,
          ...buildArgs.flatMap((a) => ['--build-args', a]),
        ],
        { note: (j) => (j as BuiltImage[]).map((i) => `${i.target} ${short(i.digest)}`).join(', ') },
      )) as BuiltImage[];

    const sign = async (version: string, images: BuiltImage[]): Promise<void> => {
      await step(
        `sign-${version}`,
        `sign ${version}`,
        ['sign', '--key', `${keyPrefix}.key`, ...images.map((i) => i.ref)],
        {
          note: () => `${images.length} signatures pushed as sha256-<digest>.sig, read back and verified`,
        },
      );
    };

    const v1 = await build('v1', []);
    await sign('v1', v1);

    // The starting point: the app as the team's hand-run script left it — images by tag.
    const boot = now();
    await logger.group(
      'create the app in the cluster (images by tag, as the old script left them)',
      async () => {
        await (deps.bootstrap ?? bootstrapApp)(sandbox.kubeconfig, options.namespace, v1, env);
      },
    );
    const status = await captureJson(deps, ['sandbox', 'status', ...sandboxArgs], env);
    const serviceUrl = (status as SandboxInfo | undefined)?.services?.[`${options.namespace}/api`];
    if (!serviceUrl)
      throw new GantryError('infrastructure', 'the sandbox did not report a URL for the api Service');
    result.serviceUrl = serviceUrl;
    result.steps.push({
      id: 'bootstrap',
      title: 'create the app in the cluster',
      startMs: Math.round(boot - t0),
      durationMs: Math.round(now() - boot),
      exitCode: 0,
      expectedExit: 0,
      ok: true,
      note: `namespace ${options.namespace}: Deployments api, worker, admin and Service api (${serviceUrl})`,
    });
    const healthUrl = `${serviceUrl}/api/health/`;
    const deployments = ['api=api', 'worker=worker', 'admin=admin'];
    const verify = ['--verify-key', `${keyPrefix}.pub`];

    await step(
      'deploy-v1',
      'deploy v1 (pinned by digest, signatures verified first)',
      [
        'deploy',
        ...kube,
        ...verify,
        '--images',
        JSON.stringify(v1),
        ...deployments.flatMap((d) => ['--deployments', d]),
        '--change-cause',
        'demo: v1',
      ],
      { note: deployNote },
    );

    await step(
      'smoke-v1',
      'smoke-test v1',
      ['smoke', '--url', healthUrl, '--interval', '1s', '--deadline', '30s'],
      {
        note: smokeNote,
      },
    );

    const v2 = await build('v2', ['API_BEHAVIOR=degraded']);
    await sign('v2', v2);
    await step(
      'release-v2',
      'release v2: deploy → smoke test → automatic rollback',
      [
        'release',
        ...kube,
        ...verify,
        '--images',
        JSON.stringify(v2),
        ...deployments.flatMap((d) => ['--deployments', d]),
        '--change-cause',
        'demo: v2 (api answers 500)',
        '--smoke-url',
        healthUrl,
        '--smoke-interval',
        '1s',
        '--smoke-deadline',
        '8s',
      ],
      { exit: 1, note: releaseNote },
    );

    const v3 = await build('v3', ['WORKER_BEHAVIOR=crashloop']);
    await sign('v3', v3);
    await step(
      'deploy-v3',
      'deploy v3: fail fast, restore every deployment',
      [
        'deploy',
        ...kube,
        ...verify,
        '--images',
        JSON.stringify(v3),
        ...deployments.flatMap((d) => ['--deployments', d]),
        '--change-cause',
        'demo: v3 (worker crashloops)',
      ],
      { exit: 1, note: deployNote },
    );

    await step(
      'smoke-after',
      'smoke-test after recovery',
      ['smoke', '--url', healthUrl, '--interval', '1s', '--deadline', '30s'],
      {
        note: smokeNote,
      },
    );
    result.ok = true;
  } catch (e) {
    if (!(e instanceof GantryError && e.code === 'check-failed')) {
      logger.error(`demo stopped: ${errorMessage(e)}`);
    } else {
      logger.error(errorMessage(e));
    }
    result.ok = false;
  } finally {
    if (sandboxUp && !options.keep) {
      await captureJson(deps, ['sandbox', 'down', ...sandboxArgs], env).catch(() => undefined);
    }
    result.durationMs = Math.round(now() - t0);
  }
  return result;
}

interface SandboxInfo {
  kubeconfig: string;
  registry: string;
  server: string;
  services?: Record<string, string>;
}

export interface BuiltImage {
  target: string;
  image: string;
  digest: string;
  ref: string;
}

function short(digest: string | undefined): string {
  return digest ? digest.replace(/^sha256:/, '').slice(0, 12) : '?';
}

async function captureJson(deps: DemoDeps, argv: string[], env: NodeJS.ProcessEnv): Promise<unknown> {
  let out = '';
  const code = await deps.invoke([...argv, '--json'], {
    stdout: (t) => (out += t),
    stderr: () => undefined,
    env,
  });
  if (code !== 0 && !out.trim()) return undefined;
  return out.trim() ? (JSON.parse(out) as unknown) : undefined;
}

interface DeployJson {
  result?: string;
  report?: {
    result?: string;
    durationMs?: number;
    failure?: { deployment?: string; pod?: string; container?: string; reason?: string; message?: string };
    deployments?: { name?: string; result?: string; readyMs?: number }[];
  };
}

function deployNote(json: unknown): string {
  const d = json as DeployJson;
  const r = d.report;
  if (!r) return 'no report';
  const f = r.failure;
  const ready = (r.deployments ?? [])
    .filter((x) => x.readyMs !== undefined)
    .map((x) => `${x.name} ready in ${((x.readyMs ?? 0) / 1000).toFixed(1)}s`)
    .join(', ');
  if (f) {
    return `${r.result ?? d.result}: ${f.deployment}${f.pod ? ` pod ${f.pod}` : ''} ${f.reason} — ${f.message ?? ''}`.trim();
  }
  return `${r.result ?? d.result}${ready ? `: ${ready}` : ''}`;
}

interface SmokeJson {
  passed?: boolean;
  summary?: string;
  checks?: { attempts?: number; lastStatus?: number | null; latency?: { p95?: number } | null }[];
}

function smokeNote(json: unknown): string {
  const s = json as SmokeJson;
  const c = s.checks?.[0];
  return `${s.passed ? 'healthy' : 'unhealthy'}: ${c?.attempts ?? '?'} attempts, last HTTP ${c?.lastStatus ?? '-'}${
    c?.latency?.p95 !== undefined ? `, p95 ${c.latency.p95} ms` : ''
  }`;
}

interface ReleaseJson {
  result?: string;
  summary?: string;
}

function releaseNote(json: unknown): string {
  const r = json as ReleaseJson;
  return `${r.result ?? '?'}${r.summary ? ` — ${r.summary}` : ''}`;
}

/** Creates the namespace, the three Deployments (images by tag) and the api Service. */
export async function bootstrapApp(
  kubeconfig: string,
  namespace: string,
  images: BuiltImage[],
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const conn = await loadClusterConnection({ kubeconfig, env });
  const client = new HttpKubeClient(conn);
  try {
    await client.request({
      method: 'POST',
      path: '/api/v1/namespaces',
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    });
    for (const img of images) {
      const labels = { app: img.target };
      const ports = img.target === 'worker' ? [] : [{ name: 'http', containerPort: 8080 }];
      await client.request({
        method: 'POST',
        path: `/apis/apps/v1/namespaces/${namespace}/deployments`,
        body: {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: img.target, labels },
          spec: {
            replicas: img.target === 'api' ? 2 : 1,
            selector: { matchLabels: labels },
            strategy:
              img.target === 'worker'
                ? { type: 'Recreate' }
                : { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
            progressDeadlineSeconds: 600,
            template: {
              metadata: { labels },
              spec: { containers: [{ name: img.target, image: `${img.image}:v1`, ports }] },
            },
          },
        },
      });
    }
    await client.request({
      method: 'POST',
      path: `/api/v1/namespaces/${namespace}/services`,
      body: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'api' },
        spec: { selector: { app: 'api' }, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] },
      },
    });
  } finally {
    client.close();
  }
}
