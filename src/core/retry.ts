/**
 * The one retry helper: retries only what a predicate calls retryable, with exponential back-off
 * and full jitter, an overall deadline, and a server's `Retry-After` honoured. Clock, sleep and
 * randomness are injected so tests don't wait.
 */
import { systemClock, type Clock } from './clock.js';
import { GantryError, errorMessage } from './errors.js';

export interface RetryDecision {
  retry: boolean;
  /** The server asked for this delay (Retry-After); used instead of the back-off when present. */
  retryAfterMs?: number;
}

export interface RetryOptions {
  /** What this operation is, for messages: "GET manifest 127.0.0.1:5000/app:1". */
  what: string;
  /** Decides per error whether to try again. Default: never. */
  retryable: (error: unknown, attempt: number) => boolean | RetryDecision;
  /** Total attempts including the first. Default 5. */
  maxAttempts?: number;
  /** First back-off; doubled each time. Default 200 ms. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Give up when the next attempt would start after this many ms from the first. */
  deadlineMs?: number;
  clock?: Clock;
  random?: () => number;
  signal?: AbortSignal;
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/** Parses an HTTP Retry-After value (seconds or an HTTP date) to milliseconds from `now`. */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const maxAttempts = options.maxAttempts ?? 5;
  const initial = options.initialDelayMs ?? 200;
  const maxDelay = options.maxDelayMs ?? 10_000;
  const start = clock.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const raw = options.retryable(error, attempt);
      const decision: RetryDecision = typeof raw === 'boolean' ? { retry: raw } : raw;
      if (!decision.retry) throw error;
      if (attempt >= maxAttempts) {
        throw new GantryError(
          'infrastructure',
          `${options.what} failed after ${attempt} attempts: ${errorMessage(error)}`,
          { cause: error },
        );
      }
      const backoff = Math.min(maxDelay, initial * 2 ** (attempt - 1));
      // full jitter, but never below half the back-off so retries don't bunch up at zero
      let delay = decision.retryAfterMs ?? Math.round(backoff / 2 + (random() * backoff) / 2);
      if (options.deadlineMs !== undefined) {
        const remaining = options.deadlineMs - (clock.now() - start);
        if (delay >= remaining) {
          throw new GantryError(
            'timeout',
            `${options.what} gave up after ${attempt} attempts within the ${Math.round(options.deadlineMs / 1000)}s deadline: ${errorMessage(error)}`,
            { cause: error },
          );
        }
      }
      delay = Math.max(0, delay);
      options.onRetry?.({ attempt, delayMs: delay, error });
      await clock.sleep(delay, options.signal);
    }
  }
}
