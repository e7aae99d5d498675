/**
 * What a `gantry` subcommand is: its options, and a run function over a context holding parsed
 * inputs, a logger and the output channel. Commands return the exit code (0, or 1 when the checked
 * thing failed); bad input and infrastructure failures are thrown as coded errors.
 */
import type { Inputs } from '../core/inputs.js';
import type { Logger } from '../core/logging.js';
import type { OptionSpec } from './args.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Whether stderr is a terminal (progress lines are rewritten in place). */
  isTty?: boolean;
  /** Reads all of stdin (for --password-stdin style secrets). */
  readStdin?: () => Promise<string>;
  /** Aborted on SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

export interface CommandContext {
  inputs: Inputs;
  flags: Readonly<Record<string, string | undefined>>;
  positionals: string[];
  json: boolean;
  logger: Logger;
  io: CliIo;
  /** Prints the command's result: JSON with --json, else the human text. */
  result(value: unknown, human?: string): void;
  /** Runs another gantry command in-process (the demo chains them like a user's script). */
  invoke(argv: readonly string[], io: CliIo): Promise<number>;
}

export interface Command {
  name: string;
  summary: string;
  /** e.g. "<image-ref>" */
  usage?: string;
  options: OptionSpec[];
  /** Extra help text after the options. */
  details?: string;
  run(ctx: CommandContext): Promise<number>;
}
