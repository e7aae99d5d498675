/**
 * The k3s-deploy job over its typed inputs — what the action entry and `gantry deploy` both call.
 * `readDeployInputs` reads every input in one place (action.yml names; the CLI uses the same
 * names as flags), `toDeployOptions` is the pure mapping to the library's options, and
 * `runDeploy` wires kubeconfig → client, the registry resolver and the signature gate, runs the
 * deploy and returns the report with the action's outputs.
 */
import { randomBytes } from 'node:crypto';
import { ConfigurationError } from '../core/errors.js';
import type { Inputs } from '../core/inputs.js';
import type { Logger } from '../core/logging.js';
import { SummaryBuilder } from '../core/summary.js';
import { formatDuration } from '../core/durations.js';
import { HttpKubeClient, KubeApiError, resourcePath } from './client.js';
import { deploy, failureText, type DeployOptions, type DeployReport } from './deploy.js';
import {
  keylessGateInputs,
  registryClient,
  registryResolver,
  signatureGate,
  type ImageVerifier,
  type KeylessGateInputs,
} from './images.js';
import { loadClusterConnection, type ClusterConnection } from './kubeconfig.js';
import { parseMigrationInput } from './migration.js';
import { containerImages, defaultChangeCause, runUrlFromEnv } from './plan.js';
import { waitForRollouts, type RolloutResult, type RolloutTarget } from './rollout-wait.js';
import { parseBuiltImages, parseDeployTargets } from './targets.js';
import type { Deployment } from './types.js';

/** Every k3s-deploy input, keyed like action.yml (camelCase). */
export interface DeployInputs extends KeylessGateInputs {
  kubeconfig: string | undefined;
  context: string | undefined;
  server: string | undefined;
  namespace: string | undefined;
  deployments: string[];
  images: string | undefined;
  verifyKey: string[];
  registryUsername: string | undefined;
  registryPassword: string | undefined;
  migration: string | undefined;
  migrationArgs: string[];
  timeoutMs: number;
  atomic: boolean;
  changeCause: string | undefined;
  lock: boolean;
  lockTimeoutMs: number;
  dryRun: boolean;
  restoreTimeoutMs: number;
  readyGraceMs: number;
  unschedulableGraceMs: number;
  checkPermissions: boolean;
  history: boolean;
}

export function readDeployInputs(inputs: Inputs): DeployInputs {
  return {
    kubeconfig: inputs.optional('kubeconfig'),
    context: inputs.optional('context'),
    server: inputs.optional('server'),
    namespace: inputs.optional('namespace'),
    deployments: inputs.list('deployments'),
    images: inputs.optional('images'),
    verifyKey: inputs.list('verify-key'),
    verifyCertificateIdentity: inputs.optional('verify-certificate-identity'),
    verifyCertificateIdentityRegexp: inputs.optional('verify-certificate-identity-regexp'),
    verifyCertificateOidcIssuer: inputs.optional('verify-certificate-oidc-issuer'),
    verifyCertificateOidcIssuerRegexp: inputs.optional('verify-certificate-oidc-issuer-regexp'),
    verifyTrustedRoot: inputs.optional('verify-trusted-root'),
    registryUsername: inputs.optional('registry-username'),
    registryPassword: inputs.optional('registry-password'),
    migration: inputs.optional('migration'),
    migrationArgs: inputs.list('migration-args'),
    timeoutMs: inputs.duration('timeout', '10m'),
    atomic: inputs.boolean('atomic', true),
    changeCause: inputs.optional('change-cause'),
    lock: inputs.boolean('lock', true),
    lockTimeoutMs: inputs.duration('lock-timeout', '10m'),
    dryRun: inputs.boolean('dry-run', false),
    restoreTimeoutMs: inputs.duration('restore-timeout', '5m'),
    readyGraceMs: inputs.duration('ready-grace', '2m'),
    unschedulableGraceMs: inputs.duration('unschedulable-grace', '30s'),
    checkPermissions: inputs.boolean('check-permissions', true),
    history: inputs.boolean('history', true),
  };
}

/** Pure: inputs + environment → the library's options (everything validated, nothing contacted). */
export function toDeployOptions(
  i: DeployInputs,
  env: NodeJS.ProcessEnv,
  contextNamespace?: string,
): DeployOptions {
  const targets = parseDeployTargets(i.deployments, parseBuiltImages(i.images));
  keylessGateInputs(i); // the signature gate's inputs are checked here too: before any I/O
  if ((i.registryUsername === undefined) !== (i.registryPassword === undefined)) {
    throw new ConfigurationError(
      'registry-username and registry-password go together: give both or neither',
      {
        input: i.registryUsername === undefined ? 'registry-username' : 'registry-password',
      },
    );
  }
  const migration = parseMigrationInput(i.migration, i.migrationArgs);
  const runUrl = runUrlFromEnv(env);
  const runId = env.GITHUB_RUN_ID
    ? `${env.GITHUB_RUN_ID}-${env.GITHUB_RUN_ATTEMPT ?? '1'}-${randomBytes(2).toString('hex')}`
    : undefined;
  return {
    namespace: i.namespace ?? contextNamespace ?? 'default',
    targets,
    timeoutMs: i.timeoutMs,
    atomic: i.atomic,
    lock: i.lock,
    lockTimeoutMs: i.lockTimeoutMs,
    dryRun: i.dryRun,
    changeCause:
      i.changeCause ??
      defaultChangeCause(
        env,
        targets.map((t) => t.source.split('=').slice(1).join('=')),
      ),
    ...(env.GITHUB_SHA ? { commit: env.GITHUB_SHA } : {}),
    ...(runUrl ? { runUrl } : {}),
    ...(env.GITHUB_ACTOR ? { actor: env.GITHUB_ACTOR } : {}),
    ...(runId ? { runId } : {}),
    ...(migration ? { migration } : {}),
    classify: { readyGraceMs: i.readyGraceMs, unschedulableGraceMs: i.unschedulableGraceMs },
    checkPermissions: i.checkPermissions,
    history: i.history,
    restoreTimeoutMs: i.restoreTimeoutMs,
  };
}

export interface DeployOutputs {
  previous: Record<string, { revision?: string; images: Record<string, string> }>;
  deployed: Record<string, { revision?: string; images: Record<string, string>; changed: boolean }>;
  result: DeployReport['result'];
  report: DeployReport;
}

/** Pure: the action's outputs from a report. */
export function deployOutputs(report: DeployReport): DeployOutputs {
  const previous: DeployOutputs['previous'] = {};
  const deployed: DeployOutputs['deployed'] = {};
  for (const d of report.deployments) {
    previous[d.name] = {
      ...(d.revisionBefore !== undefined ? { revision: d.revisionBefore } : {}),
      images: Object.fromEntries(d.images.map((i) => [i.container, i.before])),
    };
    deployed[d.name] = {
      ...(d.revisionAfter !== undefined ? { revision: d.revisionAfter } : {}),
      images: Object.fromEntries(d.images.map((i) => [i.container, i.after])),
      changed: d.changed,
    };
  }
  return { previous, deployed, result: report.result, report };
}

/** Exit status: 0 succeeded or planned, 1 failed or rolled back. */
export function deployExitCode(report: DeployReport): number {
  return report.result === 'succeeded' || report.result === 'planned' ? 0 : 1;
}

const RESULT_ICON: Record<string, string> = {
  succeeded: '✅ succeeded',
  unchanged: '➖ unchanged',
  'rolled-back': '↩️ rolled back',
  failed: '❌ failed',
  'not-started': '⏸ not started',
  planned: '📝 planned',
};

/** Pure: the job summary — a table per deployment with old → new image, time to ready, result. */
export function deploySummary(report: DeployReport): string {
  const s = new SummaryBuilder().heading(
    `k3s-deploy: ${report.result}${report.dryRun ? ' (dry run)' : ''} in namespace ${report.namespace}`,
    2,
  );
  const rows = report.deployments.flatMap((d) =>
    d.images.map((i, n) => [
      n === 0 ? d.name : '',
      `${i.container}${i.init ? ' (init)' : ''}`,
      `\`${i.before}\` → \`${i.after}\``,
      n === 0 && d.readyMs !== undefined ? formatDuration(d.readyMs) : '',
      n === 0 ? (RESULT_ICON[d.result] ?? d.result) : '',
    ]),
  );
  s.table(['deployment', 'container', 'image', 'time to ready', 'result'], rows);
  const t = report.timings;
  s.paragraph(
    [
      `total ${formatDuration(report.durationMs)}`,
      `pre-flight ${formatDuration(t.preflightMs)}`,
      t.lockWaitMs !== undefined ? `lock ${formatDuration(t.lockWaitMs)}` : '',
      t.migrationMs !== undefined ? `migration ${formatDuration(t.migrationMs)}` : '',
      t.waitMs !== undefined ? `rollout ${formatDuration(t.waitMs)}` : '',
      t.restoreMs !== undefined ? `restore ${formatDuration(t.restoreMs)}` : '',
    ]
      .filter(Boolean)
      .join(' · '),
  );
  if (report.failure) s.heading('Why', 3).code(failureText(report.failure));
  return s.toMarkdown();
}

/** Pure: the CLI's human output. */
export function humanReport(report: DeployReport): string {
  const lines = [
    `${report.result}${report.dryRun ? ' (dry run)' : ''}: namespace ${report.namespace}, run ${report.runId}, ${formatDuration(report.durationMs)}`,
  ];
  for (const d of report.deployments) {
    lines.push(
      `  ${d.name}: ${d.result}${d.readyMs !== undefined ? ` (ready in ${formatDuration(d.readyMs)})` : ''}`,
    );
    for (const i of d.images)
      lines.push(`    ${i.container}${i.init ? ' (init)' : ''}: ${i.before} → ${i.after}`);
  }
  if (report.failure) lines.push(failureText(report.failure));
  return lines.join('\n');
}

export interface RunDeployContext {
  env: NodeJS.ProcessEnv;
  logger: Logger;
  signal?: AbortSignal;
  /** Overrides the signature gate (tests). */
  verifier?: ImageVerifier;
}

/** The cluster and registry inputs k3s-deploy and rollback share. */
export interface ClusterInputs {
  kubeconfig?: string;
  context?: string;
  server?: string;
  registryUsername?: string;
  registryPassword?: string;
}

/** Resolves the kubeconfig (secrets masked) and opens the cluster and registry clients. */
export async function connectCluster(
  i: ClusterInputs,
  ctx: { env: NodeJS.ProcessEnv; logger: Logger; userAgent: string },
): Promise<{ conn: ClusterConnection; client: HttpKubeClient; registry: ReturnType<typeof registryClient> }> {
  const conn = await loadClusterConnection({
    ...(i.kubeconfig ? { kubeconfig: i.kubeconfig } : {}),
    ...(i.context ? { context: i.context } : {}),
    ...(i.server ? { server: i.server } : {}),
    env: ctx.env,
    masker: ctx.logger.masker,
  });
  const client = new HttpKubeClient(conn, { userAgent: ctx.userAgent });
  const registry = registryClient({
    env: ctx.env,
    logger: ctx.logger,
    ...(i.registryUsername && i.registryPassword
      ? { credentials: { username: i.registryUsername, password: i.registryPassword } }
      : {}),
  });
  return { conn, client, registry };
}

/** Validates everything, connects, deploys. */
export async function runDeploy(i: DeployInputs, ctx: RunDeployContext): Promise<DeployOutputs> {
  const { logger, env } = ctx;
  logger.mask(i.registryPassword);
  // input errors first, before anything is read from disk or the network
  toDeployOptions(i, env);
  const { conn, client, registry } = await connectCluster(i, { env, logger, userAgent: 'gantry/k3s-deploy' });
  const options = toDeployOptions(i, env, conn.namespace);
  try {
    const verifier =
      ctx.verifier ??
      (await signatureGate({ keys: i.verifyKey, keyless: keylessGateInputs(i), registry, env }));
    logger.info(
      `deploying ${options.targets.length} image${options.targets.length === 1 ? '' : 's'} to ${conn.server} (context ${conn.context}), namespace ${options.namespace}${options.dryRun ? ' — dry run' : ''}`,
    );
    const report = await deploy(options, {
      client,
      resolver: registryResolver(registry),
      logger,
      ...(verifier ? { verifier } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    return deployOutputs(report);
  } finally {
    registry.close();
    client.close();
  }
}

// --- rollout-status ---------------------------------------------------------------------------------

export interface RolloutStatusInputs {
  kubeconfig: string | undefined;
  context: string | undefined;
  server: string | undefined;
  namespace: string | undefined;
  deployments: string[];
  timeoutMs: number;
  readyGraceMs: number;
}

export interface RolloutStatusReport {
  namespace: string;
  ok: boolean;
  results: RolloutResult[];
}

/**
 * `kubectl rollout status` for one or more Deployments as they are now, with gantry's fail-fast:
 * returns as soon as all are complete or one shows a failure that waiting will not heal.
 */
export async function runRolloutStatus(
  i: RolloutStatusInputs,
  ctx: RunDeployContext,
): Promise<RolloutStatusReport> {
  if (i.deployments.length === 0) {
    throw new ConfigurationError('name at least one deployment', { input: 'deployments' });
  }
  const conn = await loadClusterConnection({
    ...(i.kubeconfig ? { kubeconfig: i.kubeconfig } : {}),
    ...(i.context ? { context: i.context } : {}),
    ...(i.server ? { server: i.server } : {}),
    env: ctx.env,
    masker: ctx.logger.masker,
  });
  const namespace = i.namespace ?? conn.namespace ?? 'default';
  const client = new HttpKubeClient(conn, { userAgent: 'gantry/rollout-status' });
  try {
    const now = Date.now();
    const targets: RolloutTarget[] = await Promise.all(
      i.deployments.map(async (name) => {
        let d: Deployment;
        try {
          d = await client.request<Deployment>({ path: resourcePath('deployments', namespace, name) });
        } catch (e) {
          if (e instanceof KubeApiError && e.status === 404) {
            throw new ConfigurationError(`deployment "${name}" not found in namespace "${namespace}"`, {
              input: 'deployments',
            });
          }
          throw e;
        }
        return {
          name,
          generation: d.metadata.generation ?? 0,
          images: containerImages(d.spec?.template),
          startedAt: now,
        };
      }),
    );
    const results = await waitForRollouts({
      client,
      namespace,
      targets,
      timeoutMs: i.timeoutMs,
      logger: ctx.logger,
      classify: { readyGraceMs: i.readyGraceMs },
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    return { namespace, ok: results.every((r) => r.state === 'succeeded'), results };
  } finally {
    client.close();
  }
}

export function rolloutStatusText(r: RolloutStatusReport): string {
  return r.results
    .map((x) => {
      if (x.state === 'succeeded') return x.message.trim();
      const head = `deployment "${x.name}": ${x.state}`;
      return x.failure ? `${head}\n${failureText(x.failure)}` : `${head}: ${x.message.trim()}`;
    })
    .join('\n');
}
