import { readRollbackInputs, runRollback } from '../../kube/rollback-step.js';
import { renderRollbackText, rollbackExitCode } from '../../kube/rollback.js';
import type { Command } from '../command.js';
import { clusterOptions, cliInputs } from './deploy.js';

/**
 * `gantry rollback`: the rollback action on the command line, same option names. Deployments come
 * as --deployments or arguments; the kubeconfig content may come from GANTRY_KUBECONFIG and the
 * registry password from GANTRY_REGISTRY_PASSWORD (never from argv).
 */
export const rollbackCommand: Command = {
  name: 'rollback',
  summary:
    'roll back to an exact known state (previous, revision, commit, last good, image) and wait until healthy (= rollback)',
  usage: '[<deployment>… | all]',
  options: [
    ...clusterOptions,
    {
      name: 'deployments',
      type: 'list',
      placeholder: 'name',
      description: 'deployments to roll back, or "all" (those of the latest deploy)',
    },
    {
      name: 'to',
      type: 'string',
      placeholder: 'target',
      description: 'previous (default) | revision:<N> | sha:<commit> | last-good | image:<reference>',
    },
    {
      name: 'previous',
      type: 'string',
      placeholder: 'json',
      description: "k3s-deploy's previous output: the target of to=previous",
    },
    {
      name: 'reason',
      type: 'string',
      placeholder: 'text',
      description: 'why: recorded in the history and the change-cause',
    },
    {
      name: 'registry-username',
      type: 'string',
      placeholder: 'user',
      description: 'registry user (password from GANTRY_REGISTRY_PASSWORD)',
    },
    {
      name: 'registry-password',
      type: 'string',
      secret: true,
      description: 'set GANTRY_REGISTRY_PASSWORD instead',
    },
    {
      name: 'timeout',
      type: 'string',
      placeholder: 'duration',
      description: 'overall limit, reading to healthy (default 5m)',
    },
    {
      name: 'lock',
      type: 'boolean',
      description: "take the namespace's deploy lock (default true; --lock=false)",
    },
    {
      name: 'lock-timeout',
      type: 'string',
      placeholder: 'duration',
      description: 'wait this long for a held lock (default 10m)',
    },
    {
      name: 'dry-run',
      type: 'boolean',
      description: 'choose, validate and server-side dry-run; change nothing',
    },
    {
      name: 'ready-grace',
      type: 'string',
      placeholder: 'duration',
      description: 'fail a started container unready this long (default 2m)',
    },
    {
      name: 'history',
      type: 'boolean',
      description: 'record the rollback in the history ConfigMap (default true)',
    },
  ],
  details: [
    'Examples:',
    '  gantry rollback api worker --reason "smoke test failed"      back to before the latest deploy',
    '  gantry rollback all --to last-good',
    '  gantry rollback api --to revision:3 --dry-run',
    '  gantry rollback api/server --to image:registry.example/api:v1.4.2',
    'Exit codes: 0 rolled back (or already there), 1 not healthy after the rollback / target not found,',
    '2 bad input (nothing changed), 3 cluster or registry unreachable, or cancelled.',
    '--json prints restored, result and report.',
  ].join('\n'),
  async run(ctx) {
    const out = await runRollback(readRollbackInputs(cliInputs(ctx)), {
      env: ctx.io.env,
      logger: ctx.logger,
      ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
    });
    ctx.result(out, renderRollbackText(out.report));
    return rollbackExitCode(out.report);
  },
};
