/**
 * The shared shell of every action entry: read inputs from INPUT_*, log through the runner's
 * workflow commands, set outputs, print `<action> failed: <message>` once and set the exit code.
 * Entries (`src/actions/<name>.ts`) only call `runAction` with their library function.
 */
import { setActionOutput } from './outputs.js';
import { describeError, exitCodeFor } from '../core/errors.js';
import { Inputs, envInputSource } from '../core/inputs.js';
import { ActionsLogger, type Logger } from '../core/logging.js';

export interface ActionContext {
  inputs: Inputs;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  setOutput(name: string, value: string | number | boolean | object): void;
}

export type ActionBody = (ctx: ActionContext) => Promise<number | void>;

/** Runs an action body; returns the exit code (also set on process.exitCode). */
export async function runAction(
  name: string,
  body: ActionBody,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const logger = new ActionsLogger(undefined, { debug: env.RUNNER_DEBUG === '1' });
  const controller = new AbortController();
  const onSignal = (sig: string): void => controller.abort(new Error(`received ${sig}`));
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  let code: number;
  try {
    const result = await body({
      inputs: new Inputs(envInputSource(env)),
      logger,
      env,
      signal: controller.signal,
      setOutput(key, value) {
        const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
        setActionOutput(key, logger.masker.mask(text), env);
      },
    });
    code = typeof result === 'number' ? result : 0;
  } catch (e) {
    code = exitCodeFor(e);
    logger.error(`${name} failed: ${describeError(e)}`);
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  process.exitCode = code;
  return code;
}
