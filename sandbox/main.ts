/**
 * `gantry sandbox up|down|status|serve` — a local registry + kubesim on loopback.
 *
 * `up` starts `serve` as a detached background process and waits for it to write
 * `<state-dir>/sandbox.json`; `status` reads that file and asks kubesim for its Services;
 * `down` stops exactly the process recorded there (which stops its registry and kubesim).
 * Bundled to dist/sandbox.js; nothing runs on import — only `main(argv)` when executed.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startKubesim } from './kubesim/index.js';
import { startRegistry } from './registry.js';

export interface SandboxState {
  pid: number;
  server: string;
  kubeconfig: string;
  registry: string;
  registryUrl: string;
  registryPid: number;
  adminToken: string;
  caPem?: string;
  clockSpeed: number;
  startedAt: string;
}

interface Options {
  command: string;
  json: boolean;
  clockSpeed: number;
  stateDir: string;
  tls: boolean;
  serverMinor?: number;
}

const USAGE = `usage: gantry sandbox <up|down|status> [--json] [--clock-speed N] [--state-dir DIR] [--tls] [--server-minor N]`;

export class UsageError extends Error {}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gantry', 'sandbox');
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): Options {
  const opts: Options = {
    command: '',
    json: false,
    clockSpeed: 1,
    stateDir: defaultStateDir(env),
    tls: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--json') opts.json = true;
    else if (a === '--tls') opts.tls = true;
    else if (a === '--clock-speed' || a.startsWith('--clock-speed=')) {
      opts.clockSpeed = Number(value());
      if (!(opts.clockSpeed > 0)) throw new UsageError('--clock-speed must be a positive number');
    } else if (a === '--state-dir' || a.startsWith('--state-dir=')) opts.stateDir = resolve(value());
    else if (a === '--server-minor' || a.startsWith('--server-minor=')) {
      opts.serverMinor = Number(value());
      if (!Number.isInteger(opts.serverMinor)) throw new UsageError('--server-minor must be an integer');
    } else if (a === '-h' || a === '--help') opts.command = 'help';
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (!opts.command) opts.command = a;
    else throw new UsageError(`unexpected argument ${a}`);
  }
  if (!['up', 'down', 'status', 'serve', 'help'].includes(opts.command))
    throw new UsageError(opts.command ? `unknown command ${opts.command}` : 'missing command');
  return opts;
}

const stateFile = (dir: string): string => join(dir, 'sandbox.json');

function readState(dir: string): SandboxState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(dir), 'utf8')) as SandboxState;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function summary(s: SandboxState): { kubeconfig: string; registry: string; server: string } {
  return { kubeconfig: s.kubeconfig, registry: s.registry, server: s.server };
}

function printHuman(s: SandboxState, out: (l: string) => void): void {
  out(`sandbox running (pid ${s.pid}, clock ×${s.clockSpeed})`);
  out(`  kubernetes API: ${s.server}`);
  out(`  registry:       ${s.registry}`);
  out(`  kubeconfig:     ${s.kubeconfig}`);
  out('');
  out(`  export KUBECONFIG=${s.kubeconfig}`);
  out('  kubectl get deployments');
}

/** GET on kubesim's admin API, with the admin token and CA when it runs TLS. */
function adminGet<T>(s: SandboxState, path: string): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const url = new URL(path, s.server);
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      {
        method: 'GET',
        headers: { Authorization: `Bearer ${s.adminToken}` },
        ...(s.caPem ? { ca: s.caPem } : {}),
        timeout: 5000,
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 300) reject(new Error(`${path}: HTTP ${res.statusCode}: ${text}`));
          else resolvePromise(JSON.parse(text) as T);
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function serve(opts: Options, log: (l: string) => void): Promise<number> {
  // startRegistry expects an existing data dir; images persist there across restarts
  await mkdir(join(opts.stateDir, 'registry'), { recursive: true });
  const registry = await startRegistry({ dataDir: join(opts.stateDir, 'registry') });
  let ks;
  try {
    ks = await startKubesim({
      registry: registry.host,
      clockSpeed: opts.clockSpeed,
      tls: opts.tls,
      stateDir: join(opts.stateDir, 'kubesim'),
      serverMinor: opts.serverMinor,
      foreignImages: 'healthy',
    });
  } catch (e) {
    await registry.stop();
    throw e;
  }
  const state: SandboxState = {
    pid: process.pid,
    server: ks.url,
    kubeconfig: ks.kubeconfig,
    registry: registry.host,
    registryUrl: registry.url,
    registryPid: registry.pid,
    adminToken: ks.token,
    ...(ks.caPem ? { caPem: ks.caPem } : {}),
    clockSpeed: opts.clockSpeed,
    startedAt: new Date().toISOString(),
  };
  await writeFile(stateFile(opts.stateDir), JSON.stringify(state, null, 2), { mode: 0o600 });
  log(`sandbox serving: kubesim ${ks.url}, registry ${registry.host}`);
  await new Promise<void>((done) => {
    const stop = (): void => done();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  log('sandbox stopping');
  await Promise.allSettled([ks.stop(), registry.stop()]);
  await rm(stateFile(opts.stateDir), { force: true });
  return 0;
}

async function up(opts: Options, out: (l: string) => void): Promise<number> {
  const existing = readState(opts.stateDir);
  let state = existing && alive(existing.pid) ? existing : undefined;
  if (!state) {
    await mkdir(opts.stateDir, { recursive: true });
    await rm(stateFile(opts.stateDir), { force: true });
    const self = fileURLToPath(import.meta.url);
    const logFd = openSync(join(opts.stateDir, 'serve.log'), 'a');
    const args = [
      self,
      'serve',
      '--state-dir',
      opts.stateDir,
      '--clock-speed',
      String(opts.clockSpeed),
      ...(opts.tls ? ['--tls'] : []),
      ...(opts.serverMinor ? ['--server-minor', String(opts.serverMinor)] : []),
    ];
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    child.unref();
    const deadline = Date.now() + 30_000;
    while (!(state = readState(opts.stateDir))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
        const logText = existsSync(join(opts.stateDir, 'serve.log'))
          ? readFileSync(join(opts.stateDir, 'serve.log'), 'utf8').trim().split('\n').slice(-10).join('\n')
          : '';
        throw new Error(`sandbox did not start (see ${join(opts.stateDir, 'serve.log')}):\n${logText}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (opts.json) out(JSON.stringify(summary(state)));
  else printHuman(state, out);
  return 0;
}

async function status(opts: Options, out: (l: string) => void): Promise<number> {
  const state = readState(opts.stateDir);
  if (!state || !alive(state.pid)) {
    if (opts.json) out(JSON.stringify({ running: false }));
    else out(`no sandbox running (state dir ${opts.stateDir})`);
    return 1;
  }
  const services = await adminGet<Record<string, string>>(state, '/_kubesim/services');
  if (opts.json) out(JSON.stringify({ ...summary(state), services }));
  else {
    printHuman(state, out);
    const names = Object.keys(services);
    if (names.length) {
      out('');
      out('  services:');
      for (const n of names) out(`    ${n.padEnd(30)} ${services[n]}`);
    }
  }
  return 0;
}

async function down(opts: Options, out: (l: string) => void): Promise<number> {
  const state = readState(opts.stateDir);
  if (!state) {
    out(opts.json ? JSON.stringify({ stopped: false }) : 'no sandbox running');
    return 0;
  }
  for (const [pid, grace] of [
    [state.pid, 10_000],
    [state.registryPid, 3_000],
  ] as const) {
    if (!alive(pid)) continue;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + grace;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  await rm(stateFile(opts.stateDir), { force: true });
  out(opts.json ? JSON.stringify({ stopped: true, pid: state.pid }) : `sandbox stopped (pid ${state.pid})`);
  return 0;
}

/** Runs one sandbox command; returns the exit code (0 ok, 1 not running, 2 usage, 3 infrastructure). */
export async function main(
  argv: string[],
  io: { out?: (l: string) => void; err?: (l: string) => void } = {},
): Promise<number> {
  const out = io.out ?? ((l: string) => process.stdout.write(l + '\n'));
  const err = io.err ?? ((l: string) => process.stderr.write(l + '\n'));
  let opts: Options;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`sandbox: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  try {
    switch (opts.command) {
      case 'help':
        out(USAGE);
        return 0;
      case 'serve':
        return await serve(opts, err);
      case 'up':
        return await up(opts, out);
      case 'status':
        return await status(opts, out);
      case 'down':
        return await down(opts, out);
    }
  } catch (e) {
    err(`sandbox ${opts.command} failed: ${e instanceof Error ? e.message : String(e)}`);
    return 3;
  }
  return 2;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      // serve keeps its servers open until stopped; the other commands exit when done
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`sandbox: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 3;
    },
  );
}
