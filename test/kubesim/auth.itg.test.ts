/**
 * HTTPS + bearer tokens + RBAC with real kubectl: a least-privilege deployer token can roll a
 * Deployment in its namespace and nothing more; denials read exactly like the real API
 * server's; `kubectl auth can-i` works through SelfSubjectAccessReview.
 */
import { writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Kubesim } from '../../sandbox/kubesim/index.js';
import { hasKubectl, kubectlFor, startKubesim, type Kubectl } from '../fixtures/kubesim.js';

const MINOR = 31;
let ks: Kubesim;
let admin: Kubectl;
let deployer: Kubectl;
let deployerToken: string;

function httpsStatus(
  ks: Kubesim,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      ks.url + path,
      {
        method,
        ca: ks.caPem,
        headers: {
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          'Content-Type': 'application/json',
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

beforeAll(async () => {
  ks = await startKubesim({ tls: true, clockSpeed: 20, serverMinor: MINOR });
  deployerToken = ks.admin.addToken({
    user: 'deployer',
    namespaces: ['apps'],
    rules: [
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch', 'patch', 'update'] },
      { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods', 'events'], verbs: ['get', 'list', 'watch'] },
    ],
  });
  const file = join(ks.stateDir, 'deployer.kubeconfig');
  await writeFile(file, ks.admin.kubeconfigFor(deployerToken, 'apps'));
  if (hasKubectl(MINOR)) {
    admin = await kubectlFor(MINOR, ks.kubeconfig);
    deployer = await kubectlFor(MINOR, file);
  }
});

describe.skipIf(!hasKubectl(MINOR))('kubectl over TLS with tokens', () => {
  it('the admin kubeconfig (CA data + token) works; a bad token is Unauthorized', async () => {
    expect(ks.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await admin('create', 'namespace', 'apps')).toMatchObject({
      code: 0,
      stdout: 'namespace/apps created\n',
    });
    expect(
      (await admin('create', 'deployment', 'web', '--image=example.test/web:1', '--replicas=2', '-n', 'apps'))
        .code,
    ).toBe(0);
    const badFile = join(ks.stateDir, 'bad.kubeconfig');
    await writeFile(badFile, ks.admin.kubeconfigFor('wrong-token'));
    const bad = await kubectlFor(MINOR, badFile);
    const r = await bad('get', 'pods');
    expect(r.code).toBe(1);
    // discovery is refused first, so kubectl reports it as on a real cluster
    expect(r.stderr).toContain(
      'error: You must be logged in to the server (the server has asked for the client to provide credentials)',
    );
  });

  it('a least-privilege deployer can roll out and roll back in its namespace', async () => {
    let r = await deployer('set', 'image', 'deployment/web', '*=example.test/web:2');
    expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/web image updated\n' });
    r = await deployer('rollout', 'status', 'deployment/web', '--timeout=30s');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('deployment "web" successfully rolled out');
    r = await deployer('rollout', 'undo', 'deployment/web');
    expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/web rolled back\n' });
  });

  it('everything else is Forbidden, worded like the real API server', async () => {
    let r = await deployer('delete', 'deployment', 'web');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'Error from server (Forbidden): deployments.apps "web" is forbidden: User "deployer" cannot delete resource "deployments" in API group "apps" in the namespace "apps"\n',
    );
    r = await deployer('get', 'pods', '-n', 'default');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'Error from server (Forbidden): pods is forbidden: User "deployer" cannot list resource "pods" in API group "" in the namespace "default"\n',
    );
    r = await deployer('scale', 'deployment/web', '--replicas=3');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'deployments.apps "web" is forbidden: User "deployer" cannot patch resource "deployments/scale" in API group "apps" in the namespace "apps"',
    );
    r = await deployer('get', 'namespaces');
    expect(r.stderr).toBe(
      'Error from server (Forbidden): namespaces is forbidden: User "deployer" cannot list resource "namespaces" in API group "" at the cluster scope\n',
    );
  });

  it('kubectl auth can-i answers through SelfSubjectAccessReview', async () => {
    expect(await deployer('auth', 'can-i', 'patch', 'deployments', '-n', 'apps')).toMatchObject({
      code: 0,
      stdout: 'yes\n',
    });
    expect(await deployer('auth', 'can-i', 'delete', 'deployments', '-n', 'apps')).toMatchObject({
      code: 1,
      stdout: 'no\n',
    });
    expect(await deployer('auth', 'can-i', 'patch', 'deployments', '-n', 'default')).toMatchObject({
      code: 1,
      stdout: 'no\n',
    });
    expect(await admin('auth', 'can-i', 'delete', 'deployments', '-n', 'apps')).toMatchObject({
      code: 0,
      stdout: 'yes\n',
    });
  });
});

describe('admin endpoint over TLS', () => {
  it('requires the admin token', async () => {
    expect((await httpsStatus(ks, 'GET', '/_kubesim/faults', undefined)).status).toBe(401);
    expect((await httpsStatus(ks, 'GET', '/_kubesim/faults', deployerToken)).status).toBe(403);
    expect((await httpsStatus(ks, 'GET', '/_kubesim/faults', ks.token)).status).toBe(200);
    // /version stays public, like the real API server's system:public-info-viewer
    expect((await httpsStatus(ks, 'GET', '/version', undefined)).status).toBe(200);
  });
});
