// The verify-key gate of k3s-deploy accepts both signature storage formats gantry (and cosign)
// write: the legacy sha256-<hex>.sig tag and a Sigstore bundle stored as an OCI referrer — an
// image signed only in bundle format must deploy, and stays refused under another key.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { publicKeyPem } from '../../src/cosign/keys.js';
import { defaultSignatureRegistry } from '../../src/cosign/oci-registry.js';
import { signImages } from '../../src/cosign/sign-image.js';
import { startKubeEnv, type KubeEnv } from './harness.js';

let env: KubeEnv;
beforeAll(async () => {
  env = await startKubeEnv();
});

async function deploy(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['deploy', ...args, '--kubeconfig', env.kubesim.kubeconfig, '--json'], {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: { PATH: process.env.PATH },
  });
  return { code, stdout, stderr };
}

async function writePub(publicKey: KeyObject): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'gantry-key-')), 'cosign.pub');
  await writeFile(file, publicKeyPem(publicKey));
  return file;
}

describe('verify-key gate and signature formats', () => {
  it('an image signed only as a Sigstore bundle referrer deploys; under another key it is refused', async () => {
    await env.namespace('bundles');
    const v1 = await env.image('b/api', 'v1');
    const before = await env.createDeployment('bundles', { name: 'api', image: v1, replicas: 1 });
    const v2 = await env.image('b/api', 'v2');
    const signer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    await signImages({
      registry: defaultSignatureRegistry({ env: {} }),
      images: [v2],
      key: { ...signer, algorithm: 'ecdsa-p256', source: 'test key' },
      format: 'bundle',
    });

    const wrongKey = await deploy([
      `api=${v2}`,
      '--namespace',
      'bundles',
      '--verify-key',
      await writePub(other.publicKey),
    ]);
    expect(wrongKey.code, wrongKey.stderr).toBe(1);
    expect(wrongKey.stderr).toContain('signature verification failed');
    expect((await env.getDeployment('bundles', 'api')).metadata.generation).toBe(before.metadata.generation);

    const ok = await deploy([
      `api=${v2}`,
      '--namespace',
      'bundles',
      '--verify-key',
      await writePub(signer.publicKey),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).result).toBe('succeeded');
  });
});
