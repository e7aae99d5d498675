import { readReleaseInputs, runRelease } from '../../kube/release-step.js';
import { releaseExitCode, renderReleaseText } from '../../kube/release.js';
import type { Command } from '../command.js';
import { cliInputs, deployCommand } from './deploy.js';
import { smokeCommand } from './smoke.js';

/**
 * `gantry release`: the automatic chain deploy → smoke test → on failure rollback to exactly what
 * the deploy replaced → smoke test again. Takes every `gantry deploy` option as is and every
 * `gantry smoke` option prefixed `smoke-` (`--smoke-url`, `--smoke-checks`, `--smoke-expect-json` …).
 */
export const releaseCommand: Command = {
  name: 'release',
  summary: 'deploy → smoke test → roll back automatically if the smoke test fails → smoke test again',
  usage: '[<deployment>[/<container>]=<image> …] --smoke-url <url>',
  options: [
    ...deployCommand.options,
    ...smokeCommand.options.map((o) => ({
      ...o,
      name: `smoke-${o.name}`,
      description: `smoke test: ${o.description}`,
    })),
    {
      name: 'rollback-on-failure',
      type: 'boolean',
      description: 'roll back when the smoke test fails (default true; --rollback-on-failure=false)',
    },
    {
      name: 'rollback-timeout',
      type: 'string',
      placeholder: 'duration',
      description: 'limit for the rollback, reading to healthy (default 5m)',
    },
  ],
  details: [
    'Example:',
    '  gantry release api=registry.example/api:v2 --smoke-url https://api.example.com/api/health/ --smoke-expect-json status=ok',
    'Results and exit codes:',
    '  released     deployed and healthy                                                   0',
    '  rolled-back  the release FAILED its smoke test; the previous version is back and healthy 1',
    '  failed       the deploy failed, or the rollback / the smoke test after it failed      1',
    '  cancelled    SIGTERM/SIGINT: what the run changed was rolled back                     3',
    '  bad input: 2 (nothing changed); cluster or registry unreachable: 3.',
    '--json prints the report: deploy, smoke, rollback and smokeAfterRollback reports with timings.',
  ].join('\n'),
  async run(ctx) {
    const inputs = await readReleaseInputs(cliInputs(ctx), ctx.io.env);
    const report = await runRelease(inputs, {
      env: ctx.io.env,
      logger: ctx.logger,
      ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
    });
    ctx.result(report, renderReleaseText(report));
    if (releaseExitCode(report) !== 0) ctx.logger.error(report.summary);
    return releaseExitCode(report);
  },
};
