/**
 * Typed input reading shared by the actions (INPUT_* environment variables) and the CLI (flags).
 * Optional inputs come back `undefined`, never `''`; a missing required input or a bad value throws
 * a ConfigurationError naming the input as the user wrote it (`input "timeout"` in an action,
 * `--timeout` on the command line).
 */
import { parseDuration } from './durations.js';
import { ConfigurationError } from './errors.js';

export interface InputSource {
  /** The raw value, or undefined when not given. */
  get(name: string): string | undefined;
  /** How the user refers to this input, e.g. `input "images"` or `--images`. */
  label(name: string): string;
}

/** Action inputs: INPUT_<NAME> with spaces → `_`, upper-cased, hyphens kept (as the runners set them). */
export function envInputSource(env: NodeJS.ProcessEnv = process.env): InputSource {
  return {
    get: (name) => env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`],
    label: (name) => `input "${name}"`,
  };
}

/** CLI flags (already parsed into a map keyed by the kebab-case option name). */
export function flagInputSource(flags: Readonly<Record<string, string | undefined>>): InputSource {
  return {
    get: (name) => flags[name],
    label: (name) => `--${name}`,
  };
}

const TRUE = new Set(['true', 'True', 'TRUE']);
const FALSE = new Set(['false', 'False', 'FALSE']);

/**
 * Splits a list input on newlines and commas; double quotes keep commas inside an item
 * (`"a,b",c` → [`a,b`, `c`]); items are trimmed and empty items dropped.
 */
export function splitList(value: string): string[] {
  const items: string[] = [];
  for (const line of value.split(/\r?\n/)) {
    let cur = '';
    let quoted = false;
    let wasQuoted = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i];
      if (ch === '"') {
        if (quoted && line[i + 1] === '"') {
          cur += '"';
          i++;
        } else {
          quoted = !quoted;
          wasQuoted = true;
        }
      } else if (ch === ',' && !quoted) {
        pushItem(items, cur, wasQuoted);
        cur = '';
        wasQuoted = false;
      } else {
        cur += ch;
      }
    }
    if (quoted) throw new Error(`unbalanced double quote in "${line}"`);
    pushItem(items, cur, wasQuoted);
  }
  return items;
}

function pushItem(items: string[], raw: string, wasQuoted: boolean): void {
  const item = wasQuoted ? raw : raw.trim();
  if (item.trim() !== '') items.push(item.trim());
}

export interface StringOptions {
  required?: boolean;
  default?: string;
}

/** One typed reader over an InputSource. */
export class Inputs {
  constructor(readonly source: InputSource) {}

  private raw(name: string): string | undefined {
    const v = this.source.get(name);
    if (v === undefined) return undefined;
    const t = v.trim();
    return t === '' ? undefined : t;
  }

  private fail(name: string, problem: string, fix: string): never {
    throw new ConfigurationError(`${this.source.label(name)} ${problem}; ${fix}`, { input: name });
  }

  /** Optional string: undefined when absent or blank. */
  optional(name: string): string | undefined {
    return this.raw(name);
  }

  required(name: string): string {
    const v = this.raw(name);
    if (v === undefined) this.fail(name, 'is required', 'set it');
    return v;
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  /** Only YAML 1.2 core-schema spellings: true/True/TRUE/false/False/FALSE. */
  boolean(name: string, fallback: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
    return this.fail(name, `is "${v}", not a boolean`, 'use true or false');
  }

  optionalBoolean(name: string): boolean | undefined {
    return this.raw(name) === undefined ? undefined : this.boolean(name, false);
  }

  list(name: string): string[] {
    const v = this.raw(name);
    if (v === undefined) return [];
    try {
      return splitList(v);
    } catch (e) {
      return this.fail(name, `cannot be split into a list (${(e as Error).message})`, 'close the quote');
    }
  }

  /** Milliseconds. */
  duration(name: string, fallback: string | number): number {
    const v = this.raw(name);
    if (v === undefined) return typeof fallback === 'number' ? fallback : parseDuration(fallback, name);
    try {
      return parseDuration(v, name);
    } catch {
      return this.fail(name, `is "${v}", not a duration`, 'write it like 90s, 5m, 1h30m or 500ms');
    }
  }

  optionalDuration(name: string): number | undefined {
    return this.raw(name) === undefined ? undefined : this.duration(name, 0);
  }

  int(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (!/^-?\d+$/.test(v)) this.fail(name, `is "${v}", not a whole number`, 'give a number like 3');
    const n = Number(v);
    if (range.min !== undefined && n < range.min) this.fail(name, `is ${n}`, `use at least ${range.min}`);
    if (range.max !== undefined && n > range.max) this.fail(name, `is ${n}`, `use at most ${range.max}`);
    return n;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if ((allowed as readonly string[]).includes(v)) return v as T;
    return this.fail(name, `is "${v}"`, `use one of: ${allowed.join(', ')}`);
  }

  /** `key=value` items (newline/comma separated); values may contain `=`. */
  map(name: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const item of this.list(name)) {
      const eq = item.indexOf('=');
      if (eq <= 0) this.fail(name, `has "${item}", not key=value`, 'write each entry as key=value');
      out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
    }
    return out;
  }
}
