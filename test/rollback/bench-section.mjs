/* global console */
// Benchmark section for scripts/bench.mjs (DESIGN.md "Performance — Time to recovery"): a failed
// smoke test → the previous version healthy again, against the previous ReplicaSet's own
// readiness time, on kubesim (clock ×1) with a real registry. The measurement itself is typed
// TypeScript (test/rollback/bench-recovery.ts), bundled whole (dependencies included: the bundle
// lives in a temp dir, away from node_modules).
//
// Wire-up in scripts/bench.mjs:
//   import { recoverySection } from '../test/rollback/bench-section.mjs';
//   const SECTIONS = [..., recoverySection];
import { fmt as formatNumber, median } from '../../scripts/bench-lib.mjs';

const fmt = (n, digits = 0) => formatNumber(n, digits);

export const recoverySection = {
  name: 'recovery',
  describe:
    "time to recovery: failed smoke test → previous version healthy, vs its ReplicaSet's own readiness (target ≤ +2 s)",
  async run(ctx) {
    const { measureRecovery } = await ctx.importBundled('test/rollback/bench-recovery.ts');
    // each iteration is a real-time rollout (clock ×1): a few are enough
    const iterations = Math.max(1, Math.min(ctx.iterations, 3));
    const samples = await measureRecovery({ iterations, log: (l) => console.error(`bench: ${l}`) });
    const readiness = median(samples.map((s) => s.readinessMs));
    const rows = [
      [
        'previous ReplicaSet readiness (v1 deploy: patch → rollout complete)',
        samples.map((s) => s.readinessMs),
      ],
      ['recovery: smoke failure → rollback complete (v1 rollout healthy)', samples.map((s) => s.recoveryMs)],
      ['recovery: smoke failure → Service answers only 200', samples.map((s) => s.servingMs)],
    ].map(([measure, xs]) => ({
      measure,
      'median ms': fmt(median(xs)),
      'max ms': fmt(Math.max(...xs)),
      'Δ vs readiness ms': fmt(median(xs) - readiness),
      'within +2 s': median(xs) - readiness <= 2000 ? 'yes' : 'NO',
    }));
    ctx.note(
      `${iterations} iterations, each in a fresh namespace: 2 replicas, RollingUpdate maxSurge 1 / maxUnavailable 0, v1 slow-start=1 s, v2 degraded (Ready, HTTP 500)`,
    );
    ctx.note(
      'recovery includes the rollback pre-flight (history, ReplicaSets, registry check of the target), the lock, the write and the watch-based wait',
    );
    return { columns: ['measure', 'median ms', 'max ms', 'Δ vs readiness ms', 'within +2 s'], rows };
  },
};
