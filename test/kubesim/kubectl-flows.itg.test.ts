/**
 * Real kubectl (1.27, 1.30, 1.33 called directly, and the dispatcher once) against kubesim,
 * pulling images from a real registry. Outputs and exit codes are those of a real cluster
 * (kubectl's own messages; see shared/notes/kubectl-wire.md and shared/conformance/).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasKubectl, kubectlFor, startKubesim, eventually, type Kubectl } from '../fixtures/kubesim.js';
import { startRegistry } from '../fixtures/registry.js';
import { pushBehaviorImage, type PushedImage } from './push-image.js';

const SPEED = 20;
let images: { v1: PushedImage; v2: PushedImage; crash: PushedImage };
let registryHost = '';

beforeAll(async () => {
  const reg = await startRegistry();
  registryHost = reg.host;
  images = {
    v1: await pushBehaviorImage(reg.url, 'gantry/web', 'v1', 'healthy'),
    v2: await pushBehaviorImage(reg.url, 'gantry/web', 'v2', 'healthy'),
    crash: await pushBehaviorImage(reg.url, 'gantry/web', 'crash', 'crashloop'),
  };
});

async function imageOf(k: Kubectl, name: string): Promise<string> {
  return (await k('get', 'deployment', name, '-o', 'jsonpath={.spec.template.spec.containers[0].image}'))
    .stdout;
}

async function revisionOf(k: Kubectl, name: string): Promise<string> {
  return (
    await k(
      'get',
      'deployment',
      name,
      '-o',
      'jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}',
    )
  ).stdout;
}

/** The rollout lifecycle every supported kubectl must handle identically. */
async function deploymentLifecycle(k: Kubectl, minor: number): Promise<void> {
  let r = await k('create', 'deployment', 'web', `--image=${images.v1.byDigest}`, '--replicas=3');
  expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/web created\n' });
  await k('annotate', 'deployment/web', 'kubernetes.io/change-cause=deploy v1');

  r = await k('rollout', 'status', 'deployment/web', '--timeout=30s');
  expect(r.code).toBe(0);
  expect(r.stdout.trim().split('\n').pop()).toBe('deployment "web" successfully rolled out');

  r = await k('get', 'deployment', 'web');
  expect(r.code).toBe(0);
  const [header, row] = r.stdout.trim().split('\n');
  expect(header!.split(/\s+/)).toEqual(['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE']);
  expect(row!.split(/\s+/).slice(0, 4)).toEqual(['web', '3/3', '3', '3']);

  r = await k('get', 'pods', '-l', 'app=web');
  const podRows = r.stdout.trim().split('\n');
  expect(podRows[0]!.split(/\s+/)).toEqual(['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
  expect(podRows.slice(1).map((l) => l.split(/\s+/).slice(1, 4))).toEqual([
    ['1/1', 'Running', '0'],
    ['1/1', 'Running', '0'],
    ['1/1', 'Running', '0'],
  ]);

  r = await k('set', 'image', 'deployment/web', `*=${images.v2.byDigest}`);
  expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/web image updated\n' });
  await k('annotate', 'deployment/web', 'kubernetes.io/change-cause=deploy v2', '--overwrite');
  r = await k('rollout', 'status', 'deployment/web', '--timeout=30s');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('deployment "web" successfully rolled out');
  expect(await revisionOf(k, 'web')).toBe('2');

  r = await k('rollout', 'history', 'deployment/web');
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(
    'deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         deploy v1\n2         deploy v2\n\n',
  );

  r = await k('rollout', 'undo', 'deployment/web');
  expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/web rolled back\n' });
  expect((await k('rollout', 'status', 'deployment/web', '--timeout=30s')).code).toBe(0);
  expect(await imageOf(k, 'web')).toBe(images.v1.byDigest);
  // the reused ReplicaSet of revision 1 becomes revision 3, and carries its change-cause back
  expect(await revisionOf(k, 'web')).toBe('3');
  r = await k('rollout', 'history', 'deployment/web');
  // kubectl 1.33 also lists the superseded revisions recorded in deployment.kubernetes.io/revision-history
  const superseded = minor >= 33 ? '1         deploy v1\n' : '';
  expect(r.stdout).toBe(
    `deployment.apps/web \nREVISION  CHANGE-CAUSE\n${superseded}2         deploy v2\n3         deploy v1\n\n`,
  );

  r = await k('rollout', 'undo', 'deployment/web', '--to-revision=2');
  expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/web rolled back\n' });
  await eventually(
    async () => (await imageOf(k, 'web')) === images.v2.byDigest,
    10_000,
    'image v2 after undo --to-revision=2',
  );
  expect((await k('rollout', 'status', 'deployment/web', '--timeout=30s')).code).toBe(0);

  r = await k('rollout', 'undo', 'deployment/web', '--to-revision=4');
  expect(r).toMatchObject({
    code: 0,
    stdout: 'deployment.apps/web skipped rollback (current template already matches revision 4)\n',
  });

  r = await k('rollout', 'undo', 'deployment/web', '--to-revision=99');
  expect(r.code).toBe(1);
  expect(r.stderr).toBe('error: unable to find specified revision 99 in history\n');

  r = await k('rollout', 'restart', 'deployment/web');
  expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/web restarted\n' });
  r = await k('rollout', 'status', 'deployment/web', '--timeout=30s');
  expect(r.code).toBe(0);
  expect(await revisionOf(k, 'web')).toBe('5');
  const restartedAt = (
    await k(
      'get',
      'deployment',
      'web',
      '-o',
      'jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}',
    )
  ).stdout;
  expect(restartedAt).toMatch(/^\d{4}-\d\d-\d\dT/);

  r = await k('scale', 'deployment/web', '--replicas=5');
  expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/web scaled\n' });
  await eventually(
    async () =>
      (await k('get', 'deployment', 'web', '--no-headers')).stdout.split(/\s+/).slice(1, 4).join(' ') ===
      '5/5 5 5',
    15_000,
    'web scaled to 5/5',
  );

  r = await k('delete', 'deployment', 'web');
  expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps "web" deleted\n' });
  r = await k('get', 'deployment', 'web');
  expect(r.code).toBe(1);
  expect(r.stderr).toBe('Error from server (NotFound): deployments.apps "web" not found\n');
  // cascading deletion took the ReplicaSets and pods with it
  r = await k('get', 'replicasets,pods', '-l', 'app=web');
  expect(r.stdout).toBe('');
  expect(r.stderr).toBe('No resources found in default namespace.\n');
}

async function progressDeadline(k: Kubectl): Promise<void> {
  let r = await k('create', 'deployment', 'crash', `--image=${images.crash.byTag}`, '--replicas=2');
  expect(r.code).toBe(0);
  r = await k('patch', 'deployment', 'crash', '-p', '{"spec":{"progressDeadlineSeconds":30}}');
  expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/crash patched\n' });
  const started = Date.now();
  r = await k('rollout', 'status', 'deployment/crash', '--timeout=60s');
  const wallMs = Date.now() - started;
  expect(r.code).toBe(1);
  expect(r.stderr).toBe('error: deployment "crash" exceeded its progress deadline\n');
  expect(r.stdout).toContain(
    'Waiting for deployment "crash" rollout to finish: 0 of 2 updated replicas are available...',
  );
  // the deadline is 30 simulated seconds = 1.5 s at speed 20: not reported (much) early
  expect(wallMs).toBeGreaterThan(1000);
  r = await k(
    'get',
    'deployment',
    'crash',
    '-o',
    'jsonpath={.status.conditions[?(@.type=="Progressing")].reason}',
  );
  expect(r.stdout).toBe('ProgressDeadlineExceeded');
  r = await k('get', 'pods', '-l', 'app=crash', '--no-headers');
  for (const line of r.stdout.trim().split('\n')) {
    const [, ready, status, restarts] = line.split(/\s+/);
    expect(ready).toBe('0/1');
    expect(['CrashLoopBackOff', 'Error', 'Running']).toContain(status);
    expect(Number(restarts)).toBeGreaterThanOrEqual(1);
  }
}

async function applyManifest(k: Kubectl): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kubesim-apply-'));
  const file = join(dir, 'app.yaml');
  const manifest = (replicas: number): string =>
    [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: applied',
      'spec:',
      `  replicas: ${replicas}`,
      '  selector:',
      '    matchLabels: {app: applied}',
      '  template:',
      '    metadata:',
      '      labels: {app: applied}',
      '    spec:',
      '      containers:',
      '      - name: app',
      `        image: ${images.v1.byDigest}`,
      '        ports:',
      '        - containerPort: 8080',
      '',
    ].join('\n');
  try {
    await writeFile(file, manifest(2));
    // validation stays on: kubectl learns from kubesim's OpenAPI that the server validates fields
    let r = await k('apply', '-f', file);
    expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/applied created\n' });
    r = await k('apply', '-f', file);
    expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/applied unchanged\n' });
    await writeFile(file, manifest(3));
    r = await k('apply', '-f', file);
    expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/applied configured\n' });
    r = await k('wait', '--for=condition=available', 'deployment/applied', '--timeout=30s');
    expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/applied condition met\n' });
    expect((await k('get', 'deployment', 'applied', '-o', 'jsonpath={.spec.replicas}')).stdout).toBe('3');
    r = await k('logs', 'deployment/applied');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('started container app');
    r = await k('delete', '-f', file);
    expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps "applied" deleted\n' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

for (const minor of [27, 30, 33]) {
  describe.skipIf(!hasKubectl(minor))(`kubectl 1.${minor} against kubesim`, () => {
    let k: Kubectl;
    beforeAll(async () => {
      const ks = await startKubesim({ registry: registryHost, clockSpeed: SPEED, serverMinor: minor });
      k = await kubectlFor(minor, ks.kubeconfig);
    });

    it('create, get, set image, rollout status/history/undo/restart, scale, delete', async () => {
      await deploymentLifecycle(k, minor);
    });

    it('rollout status fails with "exceeded its progress deadline" for a crashlooping image', async () => {
      await progressDeadline(k);
    });

    it('apply -f (with validation), wait, logs, delete -f', async () => {
      await applyManifest(k);
    });
  });
}

describe.skipIf(!hasKubectl('dispatcher'))('the kubectl dispatcher', () => {
  it('picks kubectl 1.30 for a v1.30 server and runs a rollout with it', async () => {
    const ks = await startKubesim({ registry: registryHost, clockSpeed: SPEED, serverMinor: 30 });
    const k = await kubectlFor('dispatcher', ks.kubeconfig);
    let r = await k('version', '-o', 'json');
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout) as {
      clientVersion: { minor: string };
      serverVersion: { minor: string; gitVersion: string };
    };
    expect(v.clientVersion.minor).toBe('30');
    expect(v.serverVersion.gitVersion).toMatch(/^v1\.30\./);
    r = await k('create', 'deployment', 'disp', `--image=${images.v1.byDigest}`);
    expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/disp created\n' });
    r = await k('rollout', 'status', 'deployment/disp', '--timeout=30s');
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('deployment "disp" successfully rolled out');
  });
});
