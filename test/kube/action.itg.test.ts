// The bundled k3s-deploy action (built with scripts/build.mjs into a temp dir) run as the runner
// runs it — INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files — against kubesim; and a
// real SIGTERM to the process during the wait.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { exec } from '../../src/core/exec.js';
import { startKubeEnv, type KubeEnv } from './harness.js';

let env: KubeEnv;
let bundle: string;
let dir: string;
beforeAll(async () => {
  env = await startKubeEnv();
  dir = await mkdtemp(join(tmpdir(), 'gantry-action-'));
  const built = await exec('node', [
    join(import.meta.dirname, '../../scripts/build.mjs'),
    '--outdir',
    join(dir, 'dist'),
  ]);
  expect(built.exitCode, built.stderr).toBe(0);
  bundle = join(dir, 'dist', 'k3s-deploy.js');
});

function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = m[3]!;
  return out;
}

interface ActionRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  outputs: Record<string, string>;
  summary: string;
}

async function runAction(
  inputs: Record<string, string>,
  onStdout?: (all: string, kill: (s: NodeJS.Signals) => void) => void,
): Promise<ActionRun> {
  const outFile = join(dir, `out-${Date.now()}-${Math.random()}`);
  const summaryFile = `${outFile}.md`;
  await writeFile(outFile, '');
  await writeFile(summaryFile, '');
  const child = spawn('node', [bundle], {
    env: {
      PATH: process.env.PATH,
      GITHUB_OUTPUT: outFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      GITHUB_SHA: 'c0ffee1234567890',
      GITHUB_ACTOR: 'ci-bot',
      GITHUB_SERVER_URL: 'https://gitea.example',
      GITHUB_REPOSITORY: 'acme/shop',
      GITHUB_RUN_ID: '99',
      ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    onStdout?.(stdout, (s) => child.kill(s));
  });
  child.stderr.on('data', (d: Buffer) => (stdout += d.toString()));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
    child.on('close', (c, s) => r([c, s])),
  );
  return {
    code,
    signal,
    stdout,
    outputs: parseOutputs(await readFile(outFile, 'utf8')),
    summary: await readFile(summaryFile, 'utf8'),
  };
}

describe('the k3s-deploy action bundle', () => {
  it('deploys with inputs, sets the outputs and writes the job summary; the kubeconfig never shows', async () => {
    await env.namespace('act');
    const v1 = await env.image('act/api', 'v1');
    await env.createDeployment('act', { name: 'api', image: v1, replicas: 1 });
    const v2 = await env.image('act/api', 'v2');
    const r = await runAction({
      kubeconfig: env.kubesim.kubeconfigYaml,
      namespace: 'act',
      deployments: `api=${v2}`,
    });
    expect(r.code, r.stdout).toBe(0);
    expect(r.outputs.result).toBe('succeeded');
    const previous = JSON.parse(r.outputs.previous ?? '{}') as Record<
      string,
      { images: Record<string, string> }
    >;
    const deployed = JSON.parse(r.outputs.deployed ?? '{}') as Record<
      string,
      { images: Record<string, string> }
    >;
    expect(previous.api?.images.api).toBe(v1);
    expect(deployed.api?.images.api).toMatch(/act\/api@sha256:/);
    expect(JSON.parse(r.outputs.report ?? '{}')).toMatchObject({ result: 'succeeded', namespace: 'act' });
    expect(r.summary).toContain('| api | api |');
    expect(r.stdout).toContain('::group::pre-flight');
    expect(r.stdout).not.toContain(env.kubesim.token);
    const d = await env.getDeployment('act', 'api');
    expect(d.metadata.annotations?.['kubernetes.io/change-cause']).toContain(
      'commit c0ffee1 · by ci-bot · https://gitea.example/acme/shop/actions/runs/99',
    );
    expect(d.metadata.annotations?.['gantry.dev/run-url']).toBe(
      'https://gitea.example/acme/shop/actions/runs/99',
    );
  });

  it('a real SIGTERM during the wait restores the deployment, releases the lock and exits non-zero', async () => {
    const before = await env.getDeployment('act', 'api');
    const stuck = await env.image('act/api', 'v3', 'never-ready');
    let sent = false;
    const r = await runAction(
      { kubeconfig: env.kubesim.kubeconfigYaml, namespace: 'act', deployments: `api=${stuck}` },
      (all, kill) => {
        if (!sent && all.includes('::group::wait for 1 rollout')) {
          sent = true;
          setTimeout(() => kill('SIGTERM'), 300);
        }
      },
    );
    expect(sent).toBe(true);
    expect(r.code, r.stdout).toBe(1);
    expect(r.outputs.result).toBe('rolled-back');
    expect(r.stdout).toContain('cancelled while waiting for the rollout');
    const after = await env.getDeployment('act', 'api');
    expect(after.spec?.template).toEqual(before.spec?.template);
  });
});
