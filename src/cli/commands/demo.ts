import type { Command } from '../command.js';

/**
 * `gantry demo`: the main job on the embedded default. Until the full pipeline exists it says what
 * it will do, and exits 0 (issue: Foundation; the demo proper comes with the pipeline work).
 */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the whole pipeline on the sample app against the local sandbox',
  options: [],
  async run(ctx) {
    const plan = [
      'start the sandbox: a real OCI registry and kubesim (a Kubernetes API simulator) on loopback',
      'build and push v1 of the sample app (api, worker, admin targets), pinned by digest',
      'sign the images with a cosign-compatible key, verify before deploying',
      'deploy all three Deployments as one atomic unit and wait for readiness',
      'smoke-test the api health endpoint',
      'deploy a broken v2, catch the failure within seconds and roll back automatically',
      'print timings and write an HTML report with the rollout timeline',
    ];
    ctx.result(
      { status: 'not-yet-available', plan },
      [
        'gantry demo — not wired up yet; when it is, it will:',
        ...plan.map((p, i) => `  ${i + 1}. ${p}`),
      ].join('\n'),
    );
    return 0;
  },
};
