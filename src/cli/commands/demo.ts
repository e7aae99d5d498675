import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigurationError } from '../../core/errors.js';
import type { Command } from '../command.js';
import { renderDemoReport } from '../demo/report-html.js';
import { findAppDir, runDemo } from '../demo/run-demo.js';

/**
 * `gantry demo`: the whole pipeline on the sample app against the local sandbox — build, sign,
 * deploy, smoke-test, then a broken release caught and rolled back, and another that fails fast
 * and is restored — with timings and an HTML report. See ../demo/run-demo.ts.
 */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the whole pipeline on the sample app against the local sandbox',
  options: [
    {
      name: 'app',
      type: 'string',
      placeholder: 'dir',
      description: 'the sample app (default: examples/app of this checkout)',
    },
    {
      name: 'state-dir',
      type: 'string',
      placeholder: 'dir',
      description: 'where the sandbox and keys live (default: a temp dir)',
    },
    {
      name: 'clock-speed',
      type: 'string',
      placeholder: 'n',
      description: 'kubesim clock speed (default 1: real time)',
    },
    {
      name: 'builder',
      type: 'string',
      placeholder: 'buildah|buildx',
      description: 'image builder (default buildah: no daemon needed)',
    },
    {
      name: 'report',
      type: 'string',
      placeholder: 'file',
      description: 'HTML report (default .gantry/demo-report.html)',
    },
    { name: 'keep', type: 'boolean', description: 'leave the sandbox running afterwards' },
  ],
  async run(ctx) {
    const here = dirname(fileURLToPath(import.meta.url));
    const appDir = ctx.inputs.optional('app') ?? findAppDir(here, process.cwd());
    if (!appDir) {
      throw new ConfigurationError(
        'cannot find the sample app (examples/app); run the demo from a gantry checkout or pass --app <dir>',
        {
          input: 'app',
        },
      );
    }
    const clockSpeed = Number(ctx.inputs.string('clock-speed', '1'));
    if (!(clockSpeed > 0 && clockSpeed <= 100)) {
      throw new ConfigurationError(
        `--clock-speed is "${ctx.inputs.optional('clock-speed')}"; use a number from 0.1 to 100`,
        {
          input: 'clock-speed',
        },
      );
    }
    const builder = ctx.inputs.oneOf('builder', ['buildah', 'buildx'] as const, 'buildah');
    const reportPath = resolve(ctx.inputs.string('report', '.gantry/demo-report.html'));
    ctx.logger.info(
      `gantry demo: the sample app in ${appDir}, built with ${builder}, on a local registry + kubesim`,
    );
    const result = await runDemo(
      {
        appDir,
        stateDir: ctx.inputs.optional('state-dir'),
        clockSpeed,
        builder,
        keep: ctx.inputs.boolean('keep', false),
        namespace: 'demo',
      },
      { logger: ctx.logger, invoke: ctx.invoke, env: ctx.io.env, signal: ctx.io.signal },
    );
    await mkdir(dirname(reportPath), { recursive: true });
    await writeFile(reportPath, renderDemoReport(result));
    const lines = [
      '',
      `gantry demo ${result.ok ? 'finished' : 'FAILED'} in ${(result.durationMs / 1000).toFixed(1)}s`,
      ...result.steps.map(
        (s) =>
          `  ${s.ok ? '✔' : '✘'} ${s.title.padEnd(58)} ${(s.durationMs / 1000).toFixed(1).padStart(6)}s  ${
            s.expectedExit !== 0 && s.ok ? 'caught' : s.ok ? 'ok' : `exit ${s.exitCode}`
          }`,
      ),
      `report: ${reportPath}`,
    ];
    ctx.result({ ...result, report: reportPath }, lines.join('\n'));
    return result.ok ? 0 : 1;
  },
};
