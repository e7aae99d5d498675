/* global console, process */
// Benchmark section for scripts/bench.mjs (DESIGN.md "Performance": failure detection, success
// detection, fan-out) — k3s-deploy on kubesim (clock ×1) with a real registry, against
// `kubectl rollout status` in the same run. The measurement is typed TypeScript
// (test/kube/bench-deploy.ts), bundled whole into a temp dir.
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fmt as formatNumber, median } from '../../scripts/bench-lib.mjs';

const fmt = (n, digits = 0) => formatNumber(n, digits);

function kubectlBinary() {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    try {
      return realpathSync(join(dir, 'kubectl'));
    } catch {
      /* not here */
    }
  }
  return 'kubectl';
}

export const deploySection = {
  name: 'k3s-deploy',
  describe:
    'k3s-deploy vs kubectl rollout status on kubesim ×1: crashloop and never-ready verdicts (target ≥ 30× at the 600 s default; ≤ 10 s after the pod shows it), success-detection lag (≤ 0.5 s), 30 deployments vs 1 (≤ 1.3×)',
  async run(ctx) {
    const { measureDeploy } = await ctx.importBundled('test/kube/bench-deploy.ts');
    const cli = await ctx.cli();
    const r = await measureDeploy({
      cli,
      kubectl: kubectlBinary(),
      successIterations: Math.max(1, Math.min(ctx.iterations, 5)),
      log: (l) => console.error(`bench: ${l}`),
    });
    const c = r.crashloop;
    const kubectl600 = c.kubectl30Ms + 570_000;
    const nr = r.neverReady;
    const nrKubectl600 = nr.kubectl30Ms + 570_000;
    const gLag = median(r.success.gantryLagMs);
    const kLag = median(r.success.kubectlLagMs);
    const rows = [
      {
        measure: 'crashloop verdict: gantry (from patch)',
        value: `${fmt(c.gantryVerdictMs)} ms`,
        peer: `kubectl (deadline 30 s): ${fmt(c.kubectl30Ms)} ms`,
        ratio: `${fmt(c.kubectl30Ms / c.gantryVerdictMs, 1)}×`,
        target: '',
      },
      {
        measure: 'crashloop verdict at the 600 s default (kubectl extrapolated)',
        value: `${fmt(c.gantryVerdictMs)} ms`,
        peer: `kubectl: ${fmt(kubectl600)} ms`,
        ratio: `${fmt(kubectl600 / c.gantryVerdictMs, 0)}×`,
        target: kubectl600 / c.gantryVerdictMs >= 30 ? '≥ 30× yes' : '≥ 30× NO',
      },
      {
        measure: 'never-ready verdict: gantry (from patch; readiness window 15 s)',
        value: `${fmt(nr.gantryVerdictMs)} ms`,
        peer: `kubectl (deadline 30 s): ${fmt(nr.kubectl30Ms)} ms`,
        ratio: `${fmt(nr.kubectl30Ms / nr.gantryVerdictMs, 1)}×`,
        target: '',
      },
      {
        measure: 'never-ready verdict at the 600 s default (kubectl extrapolated)',
        value: `${fmt(nr.gantryVerdictMs)} ms`,
        peer: `kubectl: ${fmt(nrKubectl600)} ms`,
        ratio: `${fmt(nrKubectl600 / nr.gantryVerdictMs, 0)}×`,
        target: nrKubectl600 / nr.gantryVerdictMs >= 30 ? '≥ 30× yes' : '≥ 30× NO',
      },
      {
        measure: 'never-ready verdict after the pod showed it (container start + probe window)',
        value: `${fmt(nr.afterWindowMs)} ms`,
        peer: '',
        ratio: '',
        target: nr.afterWindowMs <= 10_000 ? '≤ 10 s yes' : '≤ 10 s NO',
      },
      {
        measure: 'success lag after the Deployment is complete (median)',
        value: `${fmt(gLag)} ms`,
        peer: `kubectl: ${fmt(kLag)} ms`,
        ratio: `${fmt(gLag - kLag)} ms vs kubectl`,
        target: gLag <= 500 ? '≤ 500 ms yes' : '≤ 500 ms NO',
      },
      {
        measure: 'fan-out: 30 deployments vs 1 (whole deploy)',
        value: `${fmt(r.fanout.thirtyMs)} ms`,
        peer: `1 deployment: ${fmt(r.fanout.oneMs)} ms`,
        ratio: `${fmt(r.fanout.thirtyMs / r.fanout.oneMs, 2)}×`,
        target: r.fanout.thirtyMs / r.fanout.oneMs <= 1.3 ? '≤ 1.3× yes' : '≤ 1.3× NO',
      },
      {
        measure: 'fan-out: wait phase only',
        value: `${fmt(r.fanout.thirtyWaitMs)} ms`,
        peer: `1 deployment: ${fmt(r.fanout.oneWaitMs)} ms`,
        ratio: `${fmt(r.fanout.thirtyWaitMs / r.fanout.oneWaitMs, 2)}×`,
        target: '',
      },
    ];
    ctx.note(
      `crashloop: gantry ${c.gantryReason}; kubectl said "${c.kubectlMessage}"; gantry total incl. pre-flight, lock and patch ${fmt(c.gantryTotalMs)} ms (restore excluded)`,
    );
    ctx.note(
      `never-ready: gantry ${nr.gantryReason} — ${nr.gantryMessage}; kubectl said "${nr.kubectlMessage}" (container start has second precision, so the after-window lag is overstated by up to 1 s)`,
    );
    ctx.note(
      `success lag samples (ms): gantry ${r.success.gantryLagMs.map((x) => fmt(x)).join(', ')}; kubectl ${r.success.kubectlLagMs.map((x) => fmt(x)).join(', ')} (both are processes started together right after the patch)`,
    );
    return { columns: ['measure', 'value', 'peer', 'ratio', 'target'], rows };
  },
};
