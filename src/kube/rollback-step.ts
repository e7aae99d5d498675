/**
 * The rollback job over its typed inputs — what the action entry and `gantry rollback` both call.
 * `readRollbackInputs` reads every input in one place (action.yml names = CLI flags),
 * `toRollbackOptions` is the pure mapping to the library's options, `runRollback` connects
 * (kubeconfig → client, registry resolver) and runs it, `rollbackOutputs` are the action's outputs
 * (`restored`, `result`, `report`) and `rollbackSummary` the job summary.
 */
import { randomBytes } from 'node:crypto';
import { formatDuration } from '../core/durations.js';
import { ConfigurationError, errorMessage } from '../core/errors.js';
import type { Inputs } from '../core/inputs.js';
import type { Logger } from '../core/logging.js';
import { SummaryBuilder, writeJobSummary } from '../core/summary.js';
import { registryResolver } from './images.js';
import { runUrlFromEnv } from './plan.js';
import {
  renderRollbackText,
  rollback,
  rollbackExitCode,
  rollbackFailureText,
  restoredOutput,
  type RollbackOptions,
  type RollbackReport,
} from './rollback.js';
import { parseRollbackTo, type PreviousImages } from './rollback-target.js';
import { connectCluster } from './run.js';

/** Every rollback input, keyed like action.yml (camelCase). */
export interface RollbackInputs {
  kubeconfig: string | undefined;
  context: string | undefined;
  server: string | undefined;
  namespace: string | undefined;
  deployments: string[];
  to: string | undefined;
  previous: string | undefined;
  reason: string | undefined;
  registryUsername: string | undefined;
  registryPassword: string | undefined;
  timeoutMs: number;
  lock: boolean;
  lockTimeoutMs: number;
  dryRun: boolean;
  readyGraceMs: number;
  history: boolean;
}

/** The inputs of the rollback action (= `gantry rollback` flags). */
export const ROLLBACK_INPUT_NAMES = [
  'kubeconfig',
  'context',
  'server',
  'namespace',
  'deployments',
  'to',
  'previous',
  'reason',
  'registry-username',
  'registry-password',
  'timeout',
  'lock',
  'lock-timeout',
  'dry-run',
  'ready-grace',
  'history',
] as const;

export function readRollbackInputs(inputs: Inputs): RollbackInputs {
  const to = inputs.optional('to');
  parseRollbackTo(to, inputs.source.label('to')); // named as the user wrote it (--to / input "to")
  return {
    kubeconfig: inputs.optional('kubeconfig'),
    context: inputs.optional('context'),
    server: inputs.optional('server'),
    namespace: inputs.optional('namespace'),
    deployments: inputs.list('deployments'),
    to,
    previous: inputs.optional('previous'),
    reason: inputs.optional('reason'),
    registryUsername: inputs.optional('registry-username'),
    registryPassword: inputs.optional('registry-password'),
    timeoutMs: inputs.duration('timeout', '5m'),
    lock: inputs.boolean('lock', true),
    lockTimeoutMs: inputs.duration('lock-timeout', '10m'),
    dryRun: inputs.boolean('dry-run', false),
    readyGraceMs: inputs.duration('ready-grace', '2m'),
    history: inputs.boolean('history', true),
  };
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(\/[a-z0-9]([-a-z0-9]*[a-z0-9])?)?$/;

/** Parses the `previous` input: k3s-deploy's `previous` output (deployment → revision and images). */
export function parsePreviousInput(text: string | undefined): PreviousImages | undefined {
  if (text === undefined) return undefined;
  const fail = (problem: string): never => {
    throw new ConfigurationError(
      `input "previous" ${problem}; pass k3s-deploy's "previous" output as is ({"<deployment>": {"revision": "3", "images": {"<container>": "<image>"}}})`,
      { input: 'previous' },
    );
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return fail(`is not JSON (${errorMessage(e)})`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return fail('is not a JSON object');
  const out: PreviousImages = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    const v = value as { revision?: unknown; images?: unknown } | null;
    if (!v || typeof v !== 'object' || !v.images || typeof v.images !== 'object')
      return fail(`has no "images" for "${name}"`);
    const images: Record<string, string> = {};
    for (const [c, image] of Object.entries(v.images as Record<string, unknown>)) {
      if (typeof image !== 'string' || image === '') return fail(`has no image for ${name}/${c}`);
      images[c] = image;
    }
    out[name] = {
      images,
      ...(v.revision !== undefined ? { revision: String(v.revision as string | number) } : {}),
    };
  }
  return out;
}

/** Pure: inputs + environment → the library's options (everything validated, nothing contacted). */
export function toRollbackOptions(
  i: RollbackInputs,
  env: NodeJS.ProcessEnv,
  contextNamespace?: string,
): RollbackOptions {
  const to = parseRollbackTo(i.to);
  const previous = parsePreviousInput(i.previous);
  if (previous && to.kind !== 'previous') {
    throw new ConfigurationError(`input "previous" only goes with to: previous (not ${i.to ?? ''})`, {
      input: 'previous',
    });
  }
  let deployments = i.deployments;
  if (deployments.length === 0 && previous) deployments = Object.keys(previous);
  if (deployments.length === 0) {
    throw new ConfigurationError(
      'input "deployments" is required: the deployments to roll back, or "all" (those of the latest deploy)',
      {
        input: 'deployments',
      },
    );
  }
  if (deployments.includes('all') && deployments.length > 1) {
    throw new ConfigurationError('input "deployments": "all" cannot be combined with names', {
      input: 'deployments',
    });
  }
  for (const d of deployments) {
    if (d !== 'all' && !NAME.test(d)) {
      throw new ConfigurationError(
        `input "deployments": "${d}" is not a deployment name (or <deployment>/<container>)`,
        { input: 'deployments' },
      );
    }
    if (d.includes('/') && to.kind !== 'image') {
      throw new ConfigurationError(
        `input "deployments": "${d}" names a container, which only to: image:<ref> uses`,
        { input: 'deployments' },
      );
    }
  }
  if ((i.registryUsername === undefined) !== (i.registryPassword === undefined)) {
    throw new ConfigurationError(
      'registry-username and registry-password go together: give both or neither',
      {
        input: i.registryUsername === undefined ? 'registry-username' : 'registry-password',
      },
    );
  }
  const runUrl = runUrlFromEnv(env);
  const runId = env.GITHUB_RUN_ID
    ? `rb-${env.GITHUB_RUN_ID}-${env.GITHUB_RUN_ATTEMPT ?? '1'}-${randomBytes(2).toString('hex')}`
    : undefined;
  return {
    namespace: i.namespace ?? contextNamespace ?? 'default',
    deployments,
    to,
    ...(i.reason ? { reason: i.reason } : {}),
    timeoutMs: i.timeoutMs,
    dryRun: i.dryRun,
    lock: i.lock,
    lockTimeoutMs: i.lockTimeoutMs,
    ...(previous ? { previous } : {}),
    ...(runUrl ? { runUrl } : {}),
    ...(env.GITHUB_ACTOR ? { actor: env.GITHUB_ACTOR } : {}),
    ...(runId ? { runId } : {}),
    classify: { readyGraceMs: i.readyGraceMs },
    history: i.history,
  };
}

export interface RollbackOutputs {
  restored: ReturnType<typeof restoredOutput>;
  result: RollbackReport['result'];
  report: RollbackReport;
}

export function rollbackOutputs(report: RollbackReport): RollbackOutputs {
  return { restored: restoredOutput(report), result: report.result, report };
}

const RESULT_ICON: Record<string, string> = {
  succeeded: '↩️ rolled back',
  unchanged: '➖ already there',
  failed: '❌ failed',
  'not-started': '⏸ not started',
  planned: '📝 planned',
};

/** Pure: the job summary — what was rolled back, to what, why, and how it ended. */
export function rollbackSummary(report: RollbackReport): string {
  const s = new SummaryBuilder().heading(
    `rollback to ${report.to}: ${report.result}${report.cancelled ? ' (cancelled)' : ''}${report.dryRun ? ' (dry run)' : ''} in namespace ${report.namespace}`,
    2,
  );
  if (report.reason) s.paragraph(`**Reason:** ${report.reason}`);
  const rows = report.deployments.flatMap((d) =>
    d.images.map((i, n) => [
      n === 0 ? d.name : '',
      n === 0 ? d.target : '',
      `${i.container}${i.init ? ' (init)' : ''}`,
      i.before === i.after ? `\`${i.after}\`` : `\`${i.before}\` → \`${i.after}\``,
      n === 0 ? (d.revisionAfter ?? '') : '',
      n === 0 && d.readyMs !== undefined ? formatDuration(d.readyMs) : '',
      n === 0 ? (RESULT_ICON[d.result] ?? d.result) : '',
    ]),
  );
  s.table(['deployment', 'target', 'container', 'image', 'revision', 'healthy in', 'result'], rows);
  if (report.reverted.length > 0)
    s.paragraph(
      `Marked rolled-back in the history: ${report.reverted.map((id) => `run \`${id}\``).join(', ')}`,
    );
  s.paragraph(`total ${formatDuration(report.durationMs)} · run ${report.runId}`);
  if (report.failure) s.heading('Why', 3).code(rollbackFailureText(report.failure));
  return s.toMarkdown();
}

export interface RunRollbackContext {
  env: NodeJS.ProcessEnv;
  logger: Logger;
  signal?: AbortSignal;
}

/** Validates the inputs, connects, rolls back. */
export async function runRollback(i: RollbackInputs, ctx: RunRollbackContext): Promise<RollbackOutputs> {
  const { logger, env } = ctx;
  logger.mask(i.registryPassword);
  toRollbackOptions(i, env); // input errors first, before anything is read or contacted
  const { conn, client, registry } = await connectCluster(i, { env, logger, userAgent: 'gantry/rollback' });
  const options = toRollbackOptions(i, env, conn.namespace);
  try {
    logger.info(
      `rolling back ${options.deployments.join(', ')} to ${i.to ?? 'previous'} in ${conn.server} (context ${conn.context}), namespace ${options.namespace}${options.dryRun ? ' — dry run' : ''}${options.reason ? `; reason: ${options.reason}` : ''}`,
    );
    const report = await rollback(options, {
      client,
      resolver: registryResolver(registry),
      logger,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    return rollbackOutputs(report);
  } finally {
    registry.close();
    client.close();
  }
}

/** Structurally the action context of src/actions/run-action.ts (domain code never imports actions/). */
export interface RollbackActionContext {
  inputs: Inputs;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  setOutput(name: string, value: string | number | boolean | object): void;
}

/** The rollback action body: exit 0 rolled back (or nothing to do), 1 not healthy, 3 cancelled; 2 is thrown. */
export async function rollbackStep(ctx: RollbackActionContext): Promise<number> {
  const out = await runRollback(readRollbackInputs(ctx.inputs), {
    env: ctx.env,
    logger: ctx.logger,
    signal: ctx.signal,
  });
  ctx.setOutput('restored', out.restored);
  ctx.setOutput('result', out.result);
  ctx.setOutput('report', out.report);
  await writeJobSummary(rollbackSummary(out.report), ctx.logger, ctx.env);
  if (out.report.result === 'failed') ctx.logger.error(renderRollbackText(out.report));
  return rollbackExitCode(out.report);
}
