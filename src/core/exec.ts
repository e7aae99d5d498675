/**
 * The one way gantry runs another program: an argument array (never a shell string), secrets
 * through stdin or the environment (never argv), output captured up to a cap, and a result that
 * does not throw on a non-zero exit by itself. `checkResult` / `execChecked` turn a failure into a
 * CommandError carrying the command, exit code and the last lines of stderr — masked.
 */
import { spawn } from 'node:child_process';
import { GantryError } from './errors.js';
import type { Masker } from './mask.js';

export interface ExecOptions {
  cwd?: string;
  /** Merged over process.env unless `replaceEnv` is set. */
  env?: NodeJS.ProcessEnv;
  replaceEnv?: boolean;
  /** Written to the child's stdin, then stdin is closed (the way to pass passwords). */
  stdin?: string | Buffer;
  /** Bytes of stdout/stderr kept; the rest is dropped (stdout keeps its head, stderr its tail). */
  maxOutputBytes?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with each complete output line (already masked), e.g. to stream build logs. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  masker?: Masker;
}

export interface ExecResult {
  command: string;
  args: readonly string[];
  exitCode: number;
  /** Set when the process was killed by a signal (timeout, abort). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  durationMs: number;
  timedOut: boolean;
}

/** Raised for a failed command; message = command line, exit code and stderr tail, all masked. */
export class CommandError extends GantryError<'command-failed'> {
  constructor(
    readonly result: ExecResult,
    message: string,
  ) {
    super('command-failed', message);
    this.name = 'CommandError';
  }
}

const DEFAULT_CAP = 16 * 1024 * 1024;

export async function exec(
  command: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const cap = options.maxOutputBytes ?? DEFAULT_CAP;
  const env = options.replaceEnv ? options.env : { ...process.env, ...options.env };
  const started = performance.now();
  return new Promise<ExecResult>((resolve, reject) => {
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      signal: options.signal,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let truncated = false;
    let timedOut = false;
    const partial = { stdout: '', stderr: '' };
    const emitLines = (chunk: Buffer, stream: 'stdout' | 'stderr'): void => {
      if (!options.onLine) return;
      const text = partial[stream] + chunk.toString('utf8');
      const lines = text.split(/\r?\n/);
      partial[stream] = lines.pop() ?? '';
      for (const l of lines) options.onLine(options.masker ? options.masker.mask(l) : l, stream);
    };
    child.stdout.on('data', (d: Buffer) => {
      emitLines(d, 'stdout');
      if (outLen < cap) {
        out.push(d.subarray(0, cap - outLen));
        if (d.length > cap - outLen) truncated = true;
        outLen += Math.min(d.length, cap - outLen);
      } else truncated = true;
    });
    child.stderr.on('data', (d: Buffer) => {
      emitLines(d, 'stderr');
      err.push(d);
      errLen += d.length;
      while (errLen > cap && err.length > 1) {
        errLen -= err.shift()?.length ?? 0;
        truncated = true;
      }
    });
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 2000).unref();
      }, options.timeoutMs);
    }
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      if (e.name === 'AbortError') return; // 'close' follows with the signal
      const hint =
        e.code === 'ENOENT'
          ? `is "${command}" installed and on PATH? (scripts/setup-system installs gantry's tools)`
          : undefined;
      reject(new GantryError('infrastructure', `cannot run ${command}: ${e.message}`, { cause: e, hint }));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      for (const s of ['stdout', 'stderr'] as const) {
        if (partial[s] && options.onLine)
          options.onLine(options.masker ? options.masker.mask(partial[s]) : partial[s], s);
      }
      const mask = (s: string): string => (options.masker ? options.masker.mask(s) : s);
      resolve({
        command,
        args,
        exitCode: code ?? -1,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: mask(Buffer.concat(err).toString('utf8')),
        truncated,
        durationMs: performance.now() - started,
        timedOut,
      });
    });
    child.stdin.on('error', () => {
      /* the child may exit without reading stdin; its exit code tells the story */
    });
    if (options.stdin !== undefined) child.stdin.end(options.stdin);
    else child.stdin.end();
  });
}

/** The command line for messages: arguments quoted when needed, secrets masked. */
export function formatCommand(command: string, args: readonly string[], masker?: Masker): string {
  const q = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  const line = [command, ...args].map(q).join(' ');
  return masker ? masker.mask(line) : line;
}

/** Throws a CommandError unless the command exited 0. */
export function checkResult(result: ExecResult, masker?: Masker, tailLines = 20): ExecResult {
  if (result.exitCode === 0 && !result.timedOut) return result;
  const tail = result.stderr.trimEnd().split('\n').slice(-tailLines).join('\n');
  const how = result.timedOut
    ? 'timed out'
    : result.signal
      ? `was killed by ${result.signal}`
      : `exited with code ${result.exitCode}`;
  const msg = `${formatCommand(result.command, result.args, masker)} ${how}${tail ? `:\n${masker ? masker.mask(tail) : tail}` : ''}`;
  throw new CommandError(result, msg);
}

export async function execChecked(
  command: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  return checkResult(await exec(command, args, options), options.masker);
}
