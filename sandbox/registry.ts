/**
 * Starts a real CNCF distribution registry (Debian's `docker-registry`) on a free loopback port
 * with its storage in a temp dir. Used by the sandbox (`gantry sandbox up`), the demo and the
 * integration-test fixtures. Auth modes: none, htpasswd Basic, or `token` (the registry validates
 * JWTs signed by a key the caller supplies — that is how Gitea's registry authenticates).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TokenAuthConfig {
  /** URL of the token endpoint clients are sent to (the `realm`). */
  realm: string;
  service: string;
  issuer: string;
  /** PEM certificate (chain) whose key signs the tokens. */
  rootCertBundlePem: string;
}

export interface StartRegistryOptions {
  auth?: 'none' | 'htpasswd' | 'token';
  /** Required when auth is 'token'. */
  token?: TokenAuthConfig;
  /** Keep data in this directory instead of a fresh temp dir (not removed on stop). */
  dataDir?: string;
  port?: number;
  /** Path of the registry binary; defaults to docker-registry on PATH or /usr/bin. */
  binary?: string;
  /** Extra lines of the registry's log are kept in memory for diagnostics. */
  logLines?: number;
}

export interface RunningRegistry {
  /** Base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  /** host:port, the registry part of image references. */
  host: string;
  port: number;
  username?: string;
  password?: string;
  dataDir: string;
  pid: number;
  /** Time from spawn to the first successful GET /v2/, in ms. */
  startupMs: number;
  log(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function registryBinary(explicit?: string): string {
  return explicit ?? process.env.GANTRY_REGISTRY_BIN ?? '/usr/bin/docker-registry';
}

/** distribution's htpasswd auth accepts only bcrypt hashes (bcryptjs: pure JS, no native build). */
async function bcryptHash(password: string): Promise<string> {
  const bcrypt = await import('bcryptjs');
  return bcrypt.default.hashSync(password, 4);
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const auth = opts.auth ?? 'none';
  const port = opts.port ?? (await freePort());
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'gantry-registry-')));
  const configPath = join(dataDir, `config-${port}.yml`);
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dataDir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
  ];
  let username: string | undefined;
  let password: string | undefined;
  if (auth === 'htpasswd') {
    username = 'gantry';
    password = randomBytes(12).toString('base64url');
    const htpasswd = join(dataDir, 'htpasswd');
    await writeFile(htpasswd, `${username}:${await bcryptHash(password)}\n`, { mode: 0o600 });
    lines.push('auth:', '  htpasswd:', '    realm: gantry-test', `    path: ${htpasswd}`);
  } else if (auth === 'token') {
    if (!opts.token) throw new Error('startRegistry: auth "token" needs the token option');
    const bundle = join(dataDir, 'token-root.pem');
    await writeFile(bundle, opts.token.rootCertBundlePem);
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${opts.token.realm}`,
      `    service: ${opts.token.service}`,
      `    issuer: ${opts.token.issuer}`,
      `    rootcertbundle: ${bundle}`,
    );
  }
  await writeFile(configPath, lines.join('\n') + '\n');

  const started = performance.now();
  const child: ChildProcess = spawn(registryBinary(opts.binary), ['serve', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = opts.logLines ?? 200;
  const logBuf: string[] = [];
  const onData = (d: Buffer): void => {
    for (const l of d.toString().split('\n')) if (l) logBuf.push(l);
    if (logBuf.length > keep) logBuf.splice(0, logBuf.length - keep);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exited = false;
  const exitPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  child.once('error', (e) => logBuf.push(`spawn error: ${e.message}`));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) {
      throw new Error(`docker-registry exited during start-up:\n${logBuf.slice(-20).join('\n')}`);
    }
    try {
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `docker-registry did not answer on ${url} within 15 s:\n${logBuf.slice(-20).join('\n')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const startupMs = performance.now() - started;

  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    username,
    password,
    dataDir,
    pid: child.pid ?? -1,
    startupMs,
    log: () => logBuf.join('\n'),
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exitPromise;
        clearTimeout(t);
      }
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
