/**
 * The sandbox CLI as the gantry CLI will run it: bundled (esbuild, like dist/sandbox.js),
 * `up --json` starts registry + kubesim in the background, kubectl works with the printed
 * kubeconfig, `status --json` lists Service URLs, `down` stops exactly those processes.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSandboxBundle, hasKubectl, kubectlFor } from '../fixtures/kubesim.js';

let dir: string;
let bundle: string;
let stateDir: string;

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sandbox-cli-'));
  stateDir = join(dir, 'state');
  bundle = await buildSandboxBundle(dir);
});

afterAll(async () => {
  // stop whatever a failed test left running, then remove the state
  if (stateDir) await run('down', '--state-dir', stateDir);
  await rm(dir, { recursive: true, force: true });
});

describe('sandbox up / status / down', () => {
  it('runs registry + kubesim in the background and stops exactly them', async () => {
    const up = await run('up', '--json', '--state-dir', stateDir, '--clock-speed', '20');
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    const info = JSON.parse(up.stdout) as { kubeconfig: string; registry: string; server: string };
    expect(info.registry).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(info.server).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.kubeconfig).toBe(join(stateDir, 'kubesim', 'kubeconfig'));
    const v2 = await fetch(`http://${info.registry}/v2/`);
    expect(v2.status).toBe(200);

    // a second `up` reuses the running sandbox
    const again = await run('up', '--json', '--state-dir', stateDir);
    expect(JSON.parse(again.stdout)).toEqual(info);

    if (hasKubectl(31)) {
      const k = await kubectlFor(31, info.kubeconfig);
      expect((await k('create', 'service', 'clusterip', 'shop', '--tcp=80:8080')).code).toBe(0);
    } else {
      const res = await fetch(`${info.server}/api/v1/namespaces/default/services`, {
        method: 'POST',
        body: JSON.stringify({ metadata: { name: 'shop' }, spec: { ports: [{ port: 80 }] } }),
      });
      expect(res.status).toBe(201);
    }
    const st = await run('status', '--json', '--state-dir', stateDir);
    expect(st.code).toBe(0);
    const status = JSON.parse(st.stdout) as { services: Record<string, string> };
    expect(status).toMatchObject({
      ...info,
      services: { 'default/shop': expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) },
    });
    expect((await fetch(status.services['default/shop']!)).status).toBe(503);

    const human = await run('status', '--state-dir', stateDir);
    expect(human.stdout).toContain(`export KUBECONFIG=${info.kubeconfig}`);

    const state = JSON.parse(await readFile(join(stateDir, 'sandbox.json'), 'utf8')) as {
      pid: number;
      registryPid: number;
    };
    expect(alive(state.pid)).toBe(true);
    expect(alive(state.registryPid)).toBe(true);
    const down = await run('down', '--state-dir', stateDir);
    expect(down).toMatchObject({ code: 0, stdout: `sandbox stopped (pid ${state.pid})\n` });
    expect(alive(state.pid)).toBe(false);
    expect(alive(state.registryPid)).toBe(false);
    const after = await run('status', '--json', '--state-dir', stateDir);
    expect(after).toMatchObject({ code: 1, stdout: '{"running":false}\n' });
  });

  it('rejects bad input with exit code 2', async () => {
    const r = await run('up', '--clock-speed', 'fast', '--state-dir', stateDir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--clock-speed must be a positive number');
  });
});
