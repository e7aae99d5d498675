/**
 * `gantry release` over its typed inputs: k3s-deploy's inputs (same names), the smoke test's
 * inputs prefixed `smoke-` (`smoke-url`, `smoke-checks`, `smoke-expect-json` …; same meaning as
 * in `gantry smoke`), and `rollback-on-failure` / `rollback-timeout`. Connects like k3s-deploy
 * and runs the release chain (release.ts).
 */
import { Inputs } from '../core/inputs.js';
import type { Logger } from '../core/logging.js';
import { readSmokeOptions, type SmokeOptions } from '../smoke/index.js';
import { HttpKubeClient } from './client.js';
import { keylessGateInputs, registryClient, registryResolver, signatureGate } from './images.js';
import { loadClusterConnection } from './kubeconfig.js';
import { release, type ReleaseReport } from './release.js';
import { readDeployInputs, toDeployOptions, type DeployInputs } from './run.js';

export interface ReleaseInputs {
  deploy: DeployInputs;
  smoke: SmokeOptions;
  rollbackOnFailure: boolean;
  rollbackTimeoutMs: number;
}

/** The smoke test's inputs under the `smoke-` prefix, read by the smoke test's own reader. */
export function smokeInputs(inputs: Inputs): Inputs {
  return new Inputs({
    get: (name) => inputs.source.get(`smoke-${name}`),
    label: (name) => inputs.source.label(`smoke-${name}`),
  });
}

export async function readReleaseInputs(inputs: Inputs, env: NodeJS.ProcessEnv): Promise<ReleaseInputs> {
  const deploy = readDeployInputs(inputs);
  const smoke = await readSmokeOptions(smokeInputs(inputs), env);
  return {
    deploy,
    smoke,
    rollbackOnFailure: inputs.boolean('rollback-on-failure', true),
    rollbackTimeoutMs: inputs.duration('rollback-timeout', '5m'),
  };
}

export interface RunReleaseContext {
  env: NodeJS.ProcessEnv;
  logger: Logger;
  signal?: AbortSignal;
}

/** Validates everything, connects, runs deploy → smoke → rollback → smoke. */
export async function runRelease(i: ReleaseInputs, ctx: RunReleaseContext): Promise<ReleaseReport> {
  const { logger, env } = ctx;
  logger.mask(i.deploy.registryPassword);
  toDeployOptions(i.deploy, env); // input errors first
  const conn = await loadClusterConnection({
    ...(i.deploy.kubeconfig ? { kubeconfig: i.deploy.kubeconfig } : {}),
    ...(i.deploy.context ? { context: i.deploy.context } : {}),
    ...(i.deploy.server ? { server: i.deploy.server } : {}),
    env,
    masker: logger.masker,
  });
  const options = toDeployOptions(i.deploy, env, conn.namespace);
  const client = new HttpKubeClient(conn, { userAgent: 'gantry/release' });
  const registry = registryClient({
    env,
    logger,
    ...(i.deploy.registryUsername && i.deploy.registryPassword
      ? { credentials: { username: i.deploy.registryUsername, password: i.deploy.registryPassword } }
      : {}),
  });
  try {
    const verifier = await signatureGate({
      keys: i.deploy.verifyKey,
      keyless: keylessGateInputs(i.deploy),
      registry,
      env,
    });
    return await release(
      {
        deploy: options,
        smoke: i.smoke,
        rollbackOnFailure: i.rollbackOnFailure,
        rollbackTimeoutMs: i.rollbackTimeoutMs,
      },
      {
        client,
        resolver: registryResolver(registry),
        logger,
        ...(verifier ? { verifier } : {}),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      },
    );
  } finally {
    registry.close();
    client.close();
  }
}
