/**
 * A private dockerd (Debian docker.io 20.10) with vfs storage, no iptables, no bridge, its own
 * socket and data dir, loopback registries allowed over plain HTTP, and the buildx plugin
 * (unpacked by scripts/setup-system) visible through a temporary DOCKER_CONFIG. Used by the test
 * fixture (test/fixtures/dockerd.ts, which adds afterAll/exit cleanup) and the build benchmark.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunningDockerd {
  /** unix:///…/docker.sock */
  host: string;
  /** Environment for docker CLI calls: DOCKER_HOST, DOCKER_CONFIG (with the buildx plugin), PATH. */
  env: NodeJS.ProcessEnv;
  dir: string;
  pid: number;
  startupMs: number;
  log(): string;
  stop(): Promise<void>;
}

export interface StartDockerdOptions {
  insecureRegistries?: string[];
  /** Where scripts/setup-system put the buildx plugin (`<toolsDir>/cli-plugins/docker-buildx`). */
  toolsDir: string;
}

/** Starts a private dockerd and waits until it answers /_ping. Needs root. */
export async function startDockerd(opts: StartDockerdOptions): Promise<RunningDockerd> {
  // unix socket paths must stay under ~100 bytes: keep the dir short
  const dir = await mkdtemp(join(tmpdir(), 'gd-'));
  const configDir = join(dir, 'config');
  await mkdir(join(configDir, 'cli-plugins'), { recursive: true });
  const buildx = join(opts.toolsDir, 'cli-plugins', 'docker-buildx');
  if (existsSync(buildx)) await symlink(buildx, join(configDir, 'cli-plugins', 'docker-buildx'));
  const sock = join(dir, 'docker.sock');
  const args = [
    '--storage-driver',
    'vfs',
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'exec'),
    '--pidfile',
    join(dir, 'docker.pid'),
    '-H',
    `unix://${sock}`,
    '--insecure-registry',
    '127.0.0.0/8',
    ...(opts.insecureRegistries ?? []).flatMap((r) => ['--insecure-registry', r]),
  ];
  const started = performance.now();
  const child = spawn('/usr/sbin/dockerd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const logBuf: string[] = [];
  const onData = (d: Buffer): void => {
    logBuf.push(d.toString());
    if (logBuf.length > 400) logBuf.splice(0, 200);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let exited = false;
  const exitPromise = new Promise<void>((r) =>
    child.once('exit', () => {
      exited = true;
      r();
    }),
  );
  const host = `unix://${sock}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`dockerd exited during start-up:\n${logBuf.join('').slice(-3000)}`);
    if (existsSync(sock) && (await pingDocker(sock))) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`dockerd did not answer on ${sock} within 30 s:\n${logBuf.join('').slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const startupMs = performance.now() - started;
  const running: RunningDockerd = {
    host,
    env: {
      DOCKER_HOST: host,
      DOCKER_CONFIG: configDir,
      BUILDX_NO_DEFAULT_ATTESTATIONS: '1',
      PATH: `${join(opts.toolsDir, 'bin')}:${process.env.PATH ?? ''}`,
    },
    dir,
    pid: child.pid ?? -1,
    startupMs,
    log: () => logBuf.join(''),
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exitPromise;
        clearTimeout(t);
      }
      // vfs layers can be large; the data root is ours alone
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
  return running;
}

async function pingDocker(sock: string): Promise<boolean> {
  const http = await import('node:http');
  return new Promise((resolve) => {
    const req = http.request({ socketPath: sock, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}
