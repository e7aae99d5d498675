/**
 * kubesim's notion of time. Timestamps stay on the wall clock (kubectl computes ages from
 * them), while every simulated delay — image pulls, readiness, back-offs, progress deadlines —
 * is divided by `speed`, so a test at speed 10 sees a 10 s back-off after 1 s.
 */
export interface SimClock {
  readonly speed: number;
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` after `simMs` simulated milliseconds. Timers are unref'd. */
  after(simMs: number, fn: () => void): () => void;
  /** Simulated milliseconds elapsed since the wall-clock instant `sinceMs`. */
  simElapsed(sinceMs: number): number;
  /** Resolves after `simMs` simulated milliseconds. */
  sleep(simMs: number): Promise<void>;
}

export function createSimClock(speed = 1): SimClock {
  if (!(speed > 0)) throw new Error(`kubesim: clock speed must be > 0, got ${speed}`);
  return {
    speed,
    now: () => Date.now(),
    after(simMs, fn) {
      const t = setTimeout(fn, Math.max(0, simMs / speed));
      t.unref();
      return () => clearTimeout(t);
    },
    simElapsed: (sinceMs) => (Date.now() - sinceMs) * speed,
    sleep: (simMs) => new Promise((resolve) => setTimeout(resolve, Math.max(0, simMs / speed)).unref()),
  };
}

export function isoTime(ms: number): string {
  // Kubernetes timestamps have second precision (metav1.Time marshals RFC3339 without fraction)
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
