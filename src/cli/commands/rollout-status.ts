import { rolloutStatusText, runRolloutStatus } from '../../kube/run.js';
import type { Command } from '../command.js';
import { cliInputs, clusterOptions } from './deploy.js';

/**
 * `gantry rollout-status <deployment>…`: `kubectl rollout status` semantics (and messages) for
 * success, with gantry's fail-fast: a crashlooping or unpullable rollout is reported with its
 * cause as soon as a pod shows it, not at the progress deadline.
 */
export const rolloutStatusCommand: Command = {
  name: 'rollout-status',
  summary: 'wait for deployments to finish rolling out; fail fast with the cause (= k3s-deploy wait)',
  usage: '<deployment>…',
  options: [
    ...clusterOptions,
    {
      name: 'timeout',
      type: 'string',
      placeholder: 'duration',
      description: 'give up after this long (default 10m)',
    },
    {
      name: 'ready-grace',
      type: 'string',
      placeholder: 'duration',
      description: 'fail a started container unready this long (default 2m; 0 = off)',
    },
  ],
  details:
    'Exit codes: 0 all rolled out, 1 a rollout failed or timed out, 2 bad input, 3 cluster unreachable.',
  async run(ctx) {
    const inputs = cliInputs(ctx);
    const report = await runRolloutStatus(
      {
        kubeconfig: inputs.optional('kubeconfig'),
        context: inputs.optional('context'),
        server: inputs.optional('server'),
        namespace: inputs.optional('namespace'),
        deployments: ctx.positionals,
        timeoutMs: inputs.duration('timeout', '10m'),
        readyGraceMs: inputs.duration('ready-grace', '2m'),
      },
      { env: ctx.io.env, logger: ctx.logger, ...(ctx.io.signal ? { signal: ctx.io.signal } : {}) },
    );
    ctx.result(report, rolloutStatusText(report));
    return report.ok ? 0 : 1;
  },
};
