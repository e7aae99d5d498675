// Pre-flight against kubesim + a real registry, through the real CLI (in-process runCli): nothing
// in the cluster changes when an image is missing, unsigned, or a permission is lacking; the
// least-privilege Role of examples/rbac.yaml is enough for a whole deploy.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { runCli } from '../../src/cli/main.js';
import { publicKeyPem } from '../../src/cosign/keys.js';
import { defaultSignatureRegistry } from '../../src/cosign/oci-registry.js';
import { signImages } from '../../src/cosign/sign-image.js';
import type { PolicyRule } from '../../sandbox/kubesim/index.js';
import { imagesOf, startKubeEnv, type KubeEnv } from './harness.js';

let env: KubeEnv;
beforeAll(async () => {
  env = await startKubeEnv();
});

async function cli(
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: { PATH: process.env.PATH, ...extraEnv },
  });
  return { code, stdout, stderr };
}

function roleRules(): PolicyRule[] {
  const docs = parseAllDocuments(
    readFileSync(join(import.meta.dirname, '../../examples/rbac.yaml'), 'utf8'),
  ).map((d) => d.toJS() as { kind: string; rules?: PolicyRule[] });
  return docs.find((d) => d.kind === 'Role')?.rules ?? [];
}

describe('pre-flight refuses before changing anything', () => {
  it('a missing image: exit 1, the image named, the deployment untouched', async () => {
    await env.namespace('missing');
    const v1 = await env.image('m/api', 'v1');
    const before = await env.createDeployment('missing', { name: 'api', image: v1 });
    const r = await cli([
      'deploy',
      `api=${env.registry.host}/m/api:does-not-exist`,
      '--namespace',
      'missing',
      '--kubeconfig',
      env.kubesim.kubeconfig,
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`${env.registry.host}/m/api:does-not-exist`);
    expect(r.stderr).toMatch(/not found/);
    const after = await env.getDeployment('missing', 'api');
    expect(after.metadata.generation).toBe(before.metadata.generation);
    expect(after.spec?.template).toEqual(before.spec?.template);
  });

  it('a missing container or deployment: exit 2 naming it', async () => {
    const r = await cli([
      'deploy',
      `api/db=${env.registry.host}/m/api:v1`,
      'nope=nginx:1',
      '--namespace',
      'missing',
      '--kubeconfig',
      env.kubesim.kubeconfig,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('deployment "nope" not found');
    expect(r.stderr).toContain('deployment "api" has no container "db" (it has: api)');
  });

  it('an unsigned image with verify-key: exit 1, nothing patched; a signed one deploys', async () => {
    await env.namespace('signed');
    const v1 = await env.image('s/api', 'v1');
    const before = await env.createDeployment('signed', { name: 'api', image: v1, replicas: 1 });
    const unsigned = await env.image('s/api', 'unsigned');
    const signed = await env.image('s/api', 'signed');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const registry = defaultSignatureRegistry({ env: {} });
    await signImages({
      registry,
      images: [signed],
      key: { privateKey, publicKey, algorithm: 'ecdsa-p256', source: 'test key' },
    });
    const dir = await mkdtemp(join(tmpdir(), 'gantry-key-'));
    const pub = join(dir, 'cosign.pub');
    await writeFile(pub, publicKeyPem(publicKey));

    const refused = await cli([
      'deploy',
      `api=${unsigned}`,
      '--namespace',
      'signed',
      '--verify-key',
      pub,
      '--kubeconfig',
      env.kubesim.kubeconfig,
    ]);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toContain('signature verification failed');
    expect(refused.stderr).toContain('s/api@sha256:');
    expect((await env.getDeployment('signed', 'api')).metadata.generation).toBe(before.metadata.generation);

    const ok = await cli([
      'deploy',
      `api=${signed}`,
      '--namespace',
      'signed',
      '--verify-key',
      pub,
      '--kubeconfig',
      env.kubesim.kubeconfig,
      '--json',
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).result).toBe('succeeded');
  });
});

describe('permissions', () => {
  it('the Role of examples/rbac.yaml is enough for a deploy, with a kubeconfig given as content', async () => {
    await env.namespace('rbac');
    const v1 = await env.image('r/api', 'v1');
    await env.createDeployment('rbac', { name: 'api', image: v1, replicas: 1 });
    const token = env.kubesim.admin.addToken({
      user: 'system:serviceaccount:rbac:gantry-deployer',
      namespaces: ['rbac'],
      rules: roleRules(),
    });
    const kubeconfig = Buffer.from(env.kubesim.admin.kubeconfigFor(token, 'rbac')).toString('base64');
    const v2 = await env.image('r/api', 'v2');
    const r = await cli(['deploy', `api=${v2}`, '--json'], { GANTRY_KUBECONFIG: kubeconfig });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      result: string;
      deployed: Record<string, { images: Record<string, string> }>;
    };
    expect(out.result).toBe('succeeded');
    expect(out.deployed.api?.images.api).toMatch(/r\/api@sha256:/);
    expect(r.stderr).not.toContain(token);
  });

  it('a missing permission is explained with the Role rule that grants it, before anything changes', async () => {
    const rules = roleRules().map((rule) =>
      rule.resources.includes('leases') ? { ...rule, verbs: rule.verbs.filter((v) => v !== 'update') } : rule,
    );
    const token = env.kubesim.admin.addToken({ user: 'limited', namespaces: ['rbac'], rules });
    const before = await env.getDeployment('rbac', 'api');
    const v3 = await env.image('r/api', 'v3');
    const r = await cli(['deploy', `api=${v3}`], {
      GANTRY_KUBECONFIG: env.kubesim.admin.kubeconfigFor(token, 'rbac'),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'update leases.coordination.k8s.io in namespace "rbac" (needed to the deploy lock)',
    );
    expect(r.stderr).toContain(
      '- apiGroups: ["coordination.k8s.io"]\n  resources: ["leases"]\n  verbs: ["update"]',
    );
    const after = await env.getDeployment('rbac', 'api');
    expect(imagesOf(after)).toEqual(imagesOf(before));
  });
});

describe('dry run', () => {
  it('pre-flight, a server-side dry-run patch and the plan; nothing changes', async () => {
    await env.namespace('dry');
    const v1 = await env.image('d/api', 'v1');
    const before = await env.createDeployment('dry', { name: 'api', image: v1, replicas: 1 });
    const v2 = await env.image('d/api', 'v2');
    const r = await cli([
      'deploy',
      `api=${v2}`,
      '--namespace',
      'dry',
      '--dry-run',
      '--kubeconfig',
      env.kubesim.kubeconfig,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('planned (dry run)');
    expect(r.stdout).toMatch(/api: .*d\/api:v1 → .*d\/api@sha256:/);
    expect(r.stderr).toContain('server accepted the patch (dry run)');
    const after = await env.getDeployment('dry', 'api');
    expect(after.metadata.generation).toBe(before.metadata.generation);
  });
});
