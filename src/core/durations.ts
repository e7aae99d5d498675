/**
 * Durations as users write them in inputs and flags: `90s`, `5m`, `1h30m`, `250ms`, `1.5s`.
 * A bare number means seconds (kubectl's and most actions' convention).
 */
import { ConfigurationError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const TOKEN = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/** Parses a duration to milliseconds; throws a ConfigurationError naming `inputName`. */
export function parseDuration(value: string, inputName = 'duration'): number {
  const text = value.trim();
  const fail = (): never => {
    throw new ConfigurationError(
      `${inputName}: "${value}" is not a duration; write it like 90s, 5m, 1h30m or 500ms`,
      { input: inputName },
    );
  };
  if (text === '') fail();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  let total = 0;
  let pos = 0;
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m; m = TOKEN.exec(text)) {
    total += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
    pos = TOKEN.lastIndex;
  }
  if (pos !== text.length || pos === 0) fail();
  return Math.round(total);
}

/** Short human form: 850ms, 12.3s, 4m05s, 1h02m. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
