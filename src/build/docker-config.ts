/**
 * Registry credentials for one build: a temporary DOCKER_CONFIG (mode 0700) that `docker login`
 * (or `buildah login`) writes into, deleted afterwards — never the user's ~/.docker/config.json.
 * The buildx plugin stays reachable: the caller's cli-plugins folder is symlinked into the temp
 * config (docker looks for plugins under $DOCKER_CONFIG/cli-plugins). buildah reads the same
 * config.json through REGISTRY_AUTH_FILE.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkResult, exec as realExec, type ExecOptions, type ExecResult } from '../core/exec.js';
import type { Logger } from '../core/logging.js';
import type { BuilderKind } from './inputs.js';
import { isLoopbackRegistry } from './plan.js';

export interface TemporaryDockerConfig {
  dir: string;
  /** DOCKER_CONFIG and REGISTRY_AUTH_FILE pointing into the temp dir. */
  env: Record<string, string>;
  dispose(): Promise<void>;
}

/** Creates the temp config; `env` is the caller's environment (to find its cli-plugins). */
export async function createTemporaryDockerConfig(env: NodeJS.ProcessEnv): Promise<TemporaryDockerConfig> {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-docker-config-'));
  await chmod(dir, 0o700);
  await writeFile(join(dir, 'config.json'), '{"auths":{}}\n', { mode: 0o600 });
  const sourceConfig = env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker');
  const plugins = join(sourceConfig, 'cli-plugins');
  if (existsSync(plugins)) await symlink(plugins, join(dir, 'cli-plugins'));
  else await mkdir(join(dir, 'cli-plugins'));
  return {
    dir,
    env: { DOCKER_CONFIG: dir, REGISTRY_AUTH_FILE: join(dir, 'config.json') },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Logs in with the password on stdin. */
export async function registryLogin(options: {
  builder: BuilderKind;
  registry: string;
  username: string;
  password: string;
  config: TemporaryDockerConfig;
  exec: ExecOptions;
  logger: Logger;
  /** The process runner (injected by tests). */
  run?: (command: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;
}): Promise<void> {
  const run = options.run ?? realExec;
  const { registry, username } = options;
  const execOptions: ExecOptions = {
    ...options.exec,
    env: { ...options.exec.env, ...options.config.env },
    stdin: options.password,
    masker: options.logger.masker,
  };
  if (options.builder === 'buildah') {
    const tls = isLoopbackRegistry(registry) ? ['--tls-verify=false'] : [];
    const authfile = join(options.config.dir, 'config.json');
    const args = [
      'login',
      ...tls,
      '--authfile',
      authfile,
      '--username',
      username,
      '--password-stdin',
      registry,
    ];
    checkResult(await run('buildah', args, execOptions), options.logger.masker);
  } else {
    const args = ['login', '--username', username, '--password-stdin', registry];
    checkResult(await run('docker', args, execOptions), options.logger.masker);
  }
  options.logger.info(`logged in to ${registry} as ${username} (temporary config, removed after the build)`);
}
