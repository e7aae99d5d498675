import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isGantryError } from '../../src/core/errors.js';
import { Masker } from '../../src/core/mask.js';
import { kubeconfigKind, loadClusterConnection } from '../../src/kube/kubeconfig.js';

const CA = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');
const YAML = `apiVersion: v1
kind: Config
current-context: k3s
clusters:
  - name: k3s
    cluster:
      server: https://127.0.0.1:6443
      certificate-authority-data: ${CA}
contexts:
  - name: k3s
    context: { cluster: k3s, user: deployer, namespace: prod }
  - name: other
    context: { cluster: k3s, user: plugin }
users:
  - name: deployer
    user: { token: s3cr3t-token-value }
  - name: plugin
    user: { exec: { command: aws } }
`;

describe('kubeconfig', () => {
  it('tells YAML, base64 and paths apart', () => {
    expect(kubeconfigKind(YAML)).toBe('yaml');
    expect(kubeconfigKind(Buffer.from(YAML).toString('base64'))).toBe('base64');
    expect(kubeconfigKind('/home/me/.kube/config')).toBe('path');
  });
  it.each([
    ['yaml', YAML],
    ['base64', Buffer.from(YAML).toString('base64')],
  ])('resolves the current context from %s and masks the token', async (_kind, value) => {
    const masker = new Masker();
    const c = await loadClusterConnection({ kubeconfig: value, masker, env: {} });
    expect(c).toMatchObject({
      server: 'https://127.0.0.1:6443',
      context: 'k3s',
      namespace: 'prod',
      token: 's3cr3t-token-value',
      insecureSkipTlsVerify: false,
    });
    expect(c.ca?.toString()).toContain('BEGIN CERTIFICATE');
    expect(masker.mask('token s3cr3t-token-value')).toBe('token ***');
  });
  it('reads a path, $KUBECONFIG, and applies the server override', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kc-'));
    const file = join(dir, 'config');
    await writeFile(file, YAML);
    expect((await loadClusterConnection({ kubeconfig: file, env: {} })).server).toBe(
      'https://127.0.0.1:6443',
    );
    const c = await loadClusterConnection({
      env: { KUBECONFIG: `${join(dir, 'missing')}:${file}` },
      server: 'https://10.0.0.5:6443',
    });
    expect(c.server).toBe('https://10.0.0.5:6443');
  });
  it.each([
    [{ kubeconfig: YAML, context: 'nope' }, /context "nope" not found/],
    [{ kubeconfig: YAML, context: 'other' }, /exec\/auth-provider plugin/],
    [{ kubeconfig: 'clusters: [oops' }, /not a valid kubeconfig/],
    [{ kubeconfig: '/does/not/exist' }, /cannot be read/],
    [{ env: { KUBECONFIG: '/does/not/exist' } }, /no kubeconfig/],
  ])('refuses %# with a ConfigurationError', async (src, message) => {
    try {
      await loadClusterConnection({ env: {}, ...src });
      expect.fail('should throw');
    } catch (e) {
      expect(isGantryError(e, 'configuration')).toBe(true);
      expect((e as Error).message).toMatch(message);
    }
  });
});
