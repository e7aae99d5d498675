import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { GantryError } from '../../src/core/errors.js';
import { parseRetryAfter, retry } from '../../src/core/retry.js';

class Transient extends Error {
  constructor(readonly retryAfterMs?: number) {
    super('503 Service Unavailable');
  }
}

const retryable = (e: unknown) =>
  e instanceof Transient
    ? { retry: true, ...(e.retryAfterMs !== undefined && { retryAfterMs: e.retryAfterMs }) }
    : false;

function failing(
  n: number,
  make: () => Error = () => new Transient(),
): { fn: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    fn: async () => {
      calls++;
      if (calls <= n) throw make();
      return 'ok';
    },
    calls: () => calls,
  };
}

describe('retry', () => {
  it('retries retryable errors with doubling, jittered back-off and then succeeds', async () => {
    const clock = new ManualClock();
    const op = failing(3);
    const result = await retry(op.fn, { what: 'op', retryable, clock, random: () => 1, initialDelayMs: 100 });
    expect(result).toBe('ok');
    expect(op.calls()).toBe(4);
    expect(clock.sleeps).toEqual([100, 200, 400]);
    const low = new ManualClock();
    await retry(failing(2).fn, { what: 'op', retryable, clock: low, random: () => 0, initialDelayMs: 100 });
    expect(low.sleeps).toEqual([50, 100]); // never below half the back-off
  });

  it('caps the doubling back-off at maxDelayMs', async () => {
    const clock = new ManualClock();
    const op = failing(5);
    await retry(op.fn, {
      what: 'op',
      retryable,
      clock,
      random: () => 1,
      initialDelayMs: 100,
      maxDelayMs: 300,
      maxAttempts: 6,
    });
    expect(clock.sleeps).toEqual([100, 200, 300, 300, 300]);
  });

  it('does not retry what the predicate rejects', async () => {
    const clock = new ManualClock();
    const op = failing(1, () => new Error('401 Unauthorized'));
    await expect(retry(op.fn, { what: 'op', retryable, clock })).rejects.toThrow('401 Unauthorized');
    expect(op.calls()).toBe(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('honours Retry-After instead of its own back-off', async () => {
    const clock = new ManualClock();
    const op = failing(1, () => new Transient(7000));
    await retry(op.fn, { what: 'op', retryable, clock, random: () => 1, initialDelayMs: 100 });
    expect(clock.sleeps).toEqual([7000]);
  });

  it('gives up at the deadline with a timeout error carrying the cause', async () => {
    const clock = new ManualClock();
    const op = failing(100);
    const err = await retry(op.fn, {
      what: 'GET manifest',
      retryable,
      clock,
      random: () => 1,
      initialDelayMs: 1000,
      maxAttempts: 100,
      deadlineMs: 5000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GantryError);
    expect((err as GantryError).code).toBe('timeout');
    expect((err as GantryError).message).toMatch(
      /GET manifest gave up after 3 attempts within the 5s deadline/,
    );
    expect((err as GantryError).cause).toBeInstanceOf(Transient);
    expect(clock.sleeps).toEqual([1000, 2000]); // the next 4000 ms wait would pass the deadline
  });

  it('gives up after maxAttempts as an infrastructure error', async () => {
    const clock = new ManualClock();
    const op = failing(10);
    const err = (await retry(op.fn, { what: 'push', retryable, clock, maxAttempts: 3 }).catch(
      (e: unknown) => e,
    )) as GantryError;
    expect(err.code).toBe('infrastructure');
    expect(err.exitCode).toBe(3);
    expect(op.calls()).toBe(3);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    let calls = 0;
    const p = retry(
      async () => {
        calls++;
        controller.abort(new Error('cancelled'));
        throw new Transient();
      },
      { what: 'op', retryable, clock: new ManualClock(), signal: controller.signal },
    );
    await expect(p).rejects.toBeInstanceOf(Transient);
    expect(calls).toBe(1);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('0.5')).toBe(500);
    const now = Date.parse('Tue, 24 Nov 2026 10:00:00 GMT');
    expect(parseRetryAfter('Tue, 24 Nov 2026 10:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 24 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
