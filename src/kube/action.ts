/**
 * The k3s-deploy action body: INPUT_* → deploy → outputs (`previous`, `deployed`, `result`,
 * `report`) and the job summary. Exit 0 succeeded (or dry run), 1 failed / rolled back.
 */
import type { Inputs } from '../core/inputs.js';
import type { Logger } from '../core/logging.js';
import { writeJobSummary } from '../core/summary.js';
import { deployExitCode, deploySummary, readDeployInputs, runDeploy } from './run.js';

export interface DeployActionContext {
  inputs: Inputs;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  setOutput(name: string, value: string | number | boolean | object): void;
}

export async function k3sDeployStep(ctx: DeployActionContext): Promise<number> {
  const inputs = readDeployInputs(ctx.inputs);
  const out = await runDeploy(inputs, { env: ctx.env, logger: ctx.logger, signal: ctx.signal });
  ctx.setOutput('previous', out.previous);
  ctx.setOutput('deployed', out.deployed);
  ctx.setOutput('result', out.result);
  ctx.setOutput('report', out.report);
  await writeJobSummary(deploySummary(out.report), ctx.logger, ctx.env);
  return deployExitCode(out.report);
}
