/**
 * Command-line parsing for `gantry`: `--name value`, `--name=value`, boolean `--flag`, repeatable
 * list options, `--` ending options. Options are declared per command; an unknown option or a
 * missing value is a ConfigurationError (exit 2) with a usage hint.
 */
import { ConfigurationError } from '../core/errors.js';

export interface OptionSpec {
  name: string;
  /** boolean: takes no value; string: one value; list: repeatable, values joined by newlines. */
  type: 'boolean' | 'string' | 'list';
  description: string;
  /** Shown as `--name <placeholder>`. */
  placeholder?: string;
  /** Never accept this on the command line (secrets go through env/stdin/file). */
  secret?: boolean;
}

export interface ParsedArgs {
  /** Values keyed by option name; booleans as "true"; lists joined by "\n". */
  flags: Record<string, string | undefined>;
  positionals: string[];
}

export const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'json', type: 'boolean', description: 'print machine-readable JSON on stdout' },
  { name: 'verbose', type: 'boolean', description: 'show debug lines' },
  { name: 'help', type: 'boolean', description: 'show help for the command' },
];

export function parseArgs(
  argv: readonly string[],
  specs: readonly OptionSpec[],
  command: string,
): ParsedArgs {
  const byName = new Map([...GLOBAL_OPTIONS, ...specs].map((s) => [s.name, s]));
  const flags: Record<string, string | undefined> = {};
  const positionals: string[] = [];
  const usage = `run "gantry ${command} --help" for the options`;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '--') {
      if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
        if (arg === '-h') {
          flags.help = 'true';
          continue;
        }
        throw new ConfigurationError(`unknown option ${arg} for "gantry ${command}"; ${usage}`, {
          input: arg,
        });
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = byName.get(name);
    if (!spec) {
      throw new ConfigurationError(`unknown option --${name} for "gantry ${command}"; ${usage}`, {
        input: `--${name}`,
      });
    }
    if (spec.secret) {
      throw new ConfigurationError(
        `--${name} is a secret and is not accepted on the command line (it would show in the process list); ${spec.description}`,
        { input: `--${name}` },
      );
    }
    if (spec.type === 'boolean') {
      if (eq !== -1) {
        const v = arg.slice(eq + 1);
        if (!['true', 'false'].includes(v)) {
          throw new ConfigurationError(`--${name} takes true or false, not "${v}"`, { input: `--${name}` });
        }
        flags[name] = v;
      } else flags[name] = 'true';
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || (value.startsWith('--') && value.length > 2)) {
        throw new ConfigurationError(`--${name} needs a value (--${name} <${spec.placeholder ?? 'value'}>)`, {
          input: `--${name}`,
        });
      }
      i++;
    }
    flags[name] = spec.type === 'list' && flags[name] !== undefined ? `${flags[name]}\n${value}` : value;
  }
  return { flags, positionals };
}

export function formatOptions(specs: readonly OptionSpec[]): string {
  const rows = specs.map((s) => {
    const left = `--${s.name}${s.type === 'boolean' ? '' : ` <${s.placeholder ?? 'value'}>`}`;
    return [left, s.description + (s.type === 'list' ? ' (repeatable)' : '')] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length), 10) + 2;
  return rows.map(([l, r]) => `  ${l.padEnd(width)}${r}`).join('\n');
}
