/**
 * kubesim's operator log: every request that hits a fault, every controller decision worth
 * knowing when a test fails. Lines go to an optional sink (a file in the state dir for the
 * sandbox) and a bounded in-memory ring that `admin.logs()` returns.
 */
import { appendFileSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn';

export interface KubesimLogger {
  log(level: LogLevel, component: string, message: string): void;
  lines(): string[];
}

export function createLogger(
  opts: { file?: string; sink?: (line: string) => void; keep?: number; debug?: boolean } = {},
): KubesimLogger {
  const keep = opts.keep ?? 2000;
  const ring: string[] = [];
  return {
    log(level, component, message) {
      if (level === 'debug' && !opts.debug) return;
      const line = `${new Date().toISOString()} ${level.padEnd(5)} ${component}: ${message}`;
      ring.push(line);
      if (ring.length > keep) ring.splice(0, ring.length - keep);
      opts.sink?.(line);
      if (opts.file) {
        try {
          appendFileSync(opts.file, line + '\n');
        } catch {
          // the log file is diagnostics only; never fail a request because of it
        }
      }
    },
    lines: () => [...ring],
  };
}
