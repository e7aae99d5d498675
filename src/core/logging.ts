/**
 * One Logger interface, two implementations: the Actions runner (workflow commands: groups,
 * `::add-mask::`, annotations) and the terminal (readable timestamped lines on stderr, or JSON
 * lines for machines; stdout stays free for results). Everything logged goes through the Masker.
 */
import { Masker } from './mask.js';

export interface AnnotationProps {
  title?: string;
  file?: string;
  line?: number;
}

export interface Logger {
  readonly masker: Masker;
  info(message: string): void;
  debug(message: string): void;
  /** Degraded but going on. */
  warning(message: string, props?: AnnotationProps): void;
  error(message: string, props?: AnnotationProps): void;
  /** A phase of work: a collapsible group on a runner, a header line in the terminal. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** Registers a secret: masked in our own output and, on a runner, by the runner too. */
  mask(secret: string | undefined): void;
  /** A status line for long waits (rewritten in place on a TTY, throttled elsewhere). */
  progress(message: string): void;
}

type Write = (text: string) => void;

// Workflow-command escaping, as the runner parses it (actions/toolkit command.ts).
function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** GitHub Actions / Gitea Actions runner output (both parse the same workflow commands). */
export class ActionsLogger implements Logger {
  readonly masker: Masker;
  private lastProgress = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly write: Write = (t) => process.stdout.write(t),
    options: { masker?: Masker; debug?: boolean } = {},
  ) {
    this.masker = options.masker ?? new Masker();
  }

  private command(name: string, message: string, props?: AnnotationProps): void {
    const p = props
      ? Object.entries(props)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k}=${escapeProperty(String(v))}`)
          .join(',')
      : '';
    this.write(`::${name}${p ? ' ' + p : ''}::${escapeData(this.masker.mask(message))}\n`);
  }

  info(message: string): void {
    this.write(this.masker.mask(message) + '\n');
  }
  debug(message: string): void {
    this.command('debug', message);
  }
  warning(message: string, props?: AnnotationProps): void {
    this.command('warning', message, props);
  }
  error(message: string, props?: AnnotationProps): void {
    this.command('error', message, props);
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.write(`::group::${escapeData(this.masker.mask(name))}\n`);
    try {
      return await fn();
    } finally {
      this.write('::endgroup::\n');
    }
  }
  mask(secret: string | undefined): void {
    if (!secret) return;
    const before = this.masker.size;
    this.masker.add(secret);
    if (this.masker.size === before) return;
    for (const line of secret.split(/\r?\n/))
      if (line.trim()) this.write(`::add-mask::${escapeData(line.trim())}\n`);
  }
  progress(message: string): void {
    // runners show no in-place updates; one line every 10 s at most keeps the log readable
    const now = Date.now();
    if (now - this.lastProgress < 10_000) return;
    this.lastProgress = now;
    this.info(message);
  }
}

export interface TerminalLoggerOptions {
  masker?: Masker;
  /** `json`: one JSON object per line ({t, level, msg, group}) for machines. */
  format?: 'text' | 'json';
  verbose?: boolean;
  /** True when stderr is a TTY (progress rewrites one line). */
  tty?: boolean;
  now?: () => number;
}

/** Terminal output for the CLI: `[  1.2s] message`, indented inside groups, on stderr. */
export class TerminalLogger implements Logger {
  readonly masker: Masker;
  private readonly start: number;
  private depth = 0;
  private groupName: string | undefined;
  private progressShown = false;
  private lastProgress = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;

  constructor(
    private readonly write: Write = (t) => process.stderr.write(t),
    private readonly options: TerminalLoggerOptions = {},
  ) {
    this.masker = options.masker ?? new Masker();
    this.now = options.now ?? (() => performance.now());
    this.start = this.now();
  }

  private emit(level: string, message: string): void {
    const msg = this.masker.mask(message);
    if (this.progressShown) {
      this.write('\r\x1b[K');
      this.progressShown = false;
    }
    const elapsed = (this.now() - this.start) / 1000;
    if (this.options.format === 'json') {
      const rec: Record<string, unknown> = { t: Number(elapsed.toFixed(3)), level, msg };
      if (this.groupName) rec.group = this.groupName;
      this.write(JSON.stringify(rec) + '\n');
      return;
    }
    const stamp = `[${elapsed.toFixed(1).padStart(6)}s]`;
    const prefix = level === 'info' || level === 'group' ? '' : `${level}: `;
    const indent = '  '.repeat(this.depth);
    for (const line of msg.split('\n')) this.write(`${stamp} ${indent}${prefix}${line}\n`);
  }

  info(message: string): void {
    this.emit('info', message);
  }
  debug(message: string): void {
    if (this.options.verbose) this.emit('debug', message);
  }
  warning(message: string): void {
    this.emit('warning', message);
  }
  error(message: string): void {
    this.emit('error', message);
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.emit('group', `▸ ${name}`);
    const prev = this.groupName;
    this.groupName = name;
    this.depth++;
    try {
      return await fn();
    } finally {
      this.depth--;
      this.groupName = prev;
    }
  }
  mask(secret: string | undefined): void {
    this.masker.add(secret);
  }
  progress(message: string): void {
    if (this.options.tty && this.options.format !== 'json') {
      this.write(`\r\x1b[K${'  '.repeat(this.depth)}… ${this.masker.mask(message)}`);
      this.progressShown = true;
      return;
    }
    const now = this.now();
    if (now - this.lastProgress < 5000) return;
    this.lastProgress = now;
    this.emit('info', `… ${message}`);
  }
}

/** Collects log records in memory: the plain-object fake for tests of code that logs. */
export class MemoryLogger implements Logger {
  readonly masker = new Masker();
  readonly records: { level: string; message: string }[] = [];
  private push(level: string, message: string): void {
    this.records.push({ level, message: this.masker.mask(message) });
  }
  info(m: string): void {
    this.push('info', m);
  }
  debug(m: string): void {
    this.push('debug', m);
  }
  warning(m: string): void {
    this.push('warning', m);
  }
  error(m: string): void {
    this.push('error', m);
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.push('group', name);
    return fn();
  }
  mask(s: string | undefined): void {
    this.masker.add(s);
  }
  progress(m: string): void {
    this.push('progress', m);
  }
  text(): string {
    return this.records.map((r) => `${r.level}: ${r.message}`).join('\n');
  }
}
