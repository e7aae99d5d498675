/**
 * The `gantry` command: global flags, subcommand dispatch, and the exit-code contract of
 * DESIGN.md (0 ok, 1 the checked thing failed, 2 bad input/configuration, 3 infrastructure).
 * `runCli` has no side effects beyond the injected io, so tests call it in-process.
 */
import { version } from '../../package.json';
import { ConfigurationError, GantryError, describeError, exitCodeFor } from '../core/errors.js';
import { Inputs, flagInputSource } from '../core/inputs.js';
import { TerminalLogger } from '../core/logging.js';
import { GLOBAL_OPTIONS, formatOptions, parseArgs } from './args.js';
import type { CliIo, Command, CommandContext } from './command.js';
import { commands } from './commands/index.js';

export const VERSION: string = version;

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    `gantry ${VERSION} — build, sign, deploy, smoke-test and roll back container images on Kubernetes`,
    '',
    'Usage: gantry <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Global options:',
    formatOptions(GLOBAL_OPTIONS),
    '  --version     print the version',
    '',
    'Exit codes: 0 ok, 1 the checked thing failed (unhealthy, unsigned, rollout failed),',
    '            2 bad input or configuration (nothing was changed), 3 infrastructure error.',
    'Run "gantry <command> --help" for a command\'s options.',
    '',
  ].join('\n');
}

function commandHelp(cmd: Command): string {
  return [
    `gantry ${cmd.name} — ${cmd.summary}`,
    '',
    `Usage: gantry ${cmd.name}${cmd.usage ? ' ' + cmd.usage : ''} [options]`,
    '',
    'Options:',
    formatOptions([...cmd.options, ...GLOBAL_OPTIONS]),
    ...(cmd.details ? ['', cmd.details] : []),
    '',
  ].join('\n');
}

export async function findCommand(name: string): Promise<Command | undefined> {
  return commands.find((c) => c.name === name)?.load();
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    if (first === 'help' && rest[0]) {
      const cmd = await findCommand(rest[0]);
      if (cmd) {
        io.stdout(commandHelp(cmd));
        return 0;
      }
    }
    io.stdout(topHelp());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v' || first === 'version') {
    io.stdout(`${VERSION}\n`);
    return 0;
  }
  const cmd = await findCommand(first);
  const jsonWanted = rest.includes('--json');
  if (!cmd) {
    const near = commands.find((c) => c.name.startsWith(first.slice(0, 3)));
    io.stderr(
      `gantry: unknown command "${first}"${near ? ` (did you mean "${near.name}"?)` : ''}; run "gantry --help" for the list\n`,
    );
    return 2;
  }
  const logger = new TerminalLogger(io.stderr, {
    format: jsonWanted ? 'json' : 'text',
    verbose: rest.includes('--verbose') || io.env.GANTRY_DEBUG === '1' || io.env.RUNNER_DEBUG === '1',
    tty: io.isTty,
  });
  try {
    const { flags, positionals } = parseArgs(rest, cmd.options, cmd.name);
    if (flags.help === 'true') {
      io.stdout(commandHelp(cmd));
      return 0;
    }
    const json = flags.json === 'true';
    const ctx: CommandContext = {
      inputs: new Inputs(flagInputSource(flags)),
      flags,
      positionals,
      json,
      logger,
      io,
      invoke: (argv, subIo) => runCli(argv, subIo),
      result(value, human) {
        if (json) io.stdout(logger.masker.mask(JSON.stringify(value, null, 2)) + '\n');
        else if (human !== undefined)
          io.stdout(logger.masker.mask(human.endsWith('\n') ? human : human + '\n'));
      },
    };
    return await cmd.run(ctx);
  } catch (e) {
    const code = exitCodeFor(e);
    const message = logger.masker.mask(describeError(e));
    io.stderr(`gantry ${cmd.name} failed: ${message}\n`);
    if (jsonWanted) {
      const err = e instanceof GantryError ? e.code : 'infrastructure';
      io.stdout(JSON.stringify({ error: { code: err, exitCode: code, message } }, null, 2) + '\n');
    }
    if (e instanceof ConfigurationError || (e instanceof GantryError && e.code === 'input')) {
      io.stderr(`run "gantry ${cmd.name} --help" for usage\n`);
    }
    return code;
  }
}
