/**
 * The build-multiarch action body: inputs → buildImages → outputs (`images`, and `digest`/`ref` for
 * a single target) and a best-effort job summary. Importable without side effects.
 */
import { writeJobSummary } from '../core/summary.js';
import { buildImages, type BuildDependencies } from './build-images.js';
import { getBuildInputs } from './inputs.js';
import { buildSummary, imagesOutput } from './summary.js';
import type { Inputs } from '../core/inputs.js';
import type { Logger } from '../core/logging.js';

export interface BuildActionContext {
  inputs: Inputs;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  setOutput(name: string, value: string | number | boolean | object): void;
}

/** `overrides` swaps the I/O edges (exec, git, registry) for fakes in tests. */
export async function runBuildMultiarch(
  ctx: BuildActionContext,
  overrides: Partial<Omit<BuildDependencies, 'logger' | 'env' | 'signal'>> = {},
): Promise<number> {
  const inputs = getBuildInputs(ctx.inputs, ctx.env);
  const result = await buildImages(inputs, {
    ...overrides,
    logger: ctx.logger,
    env: ctx.env,
    signal: ctx.signal,
  });
  ctx.setOutput('images', imagesOutput(result));
  const [only] = result.images;
  if (result.images.length === 1 && only) {
    ctx.setOutput('digest', only.digest ?? '');
    ctx.setOutput('ref', only.ref ?? '');
  }
  await writeJobSummary(buildSummary(result), ctx.logger, ctx.env);
  return 0;
}
