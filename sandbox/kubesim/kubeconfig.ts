/** kubeconfig YAML for kubesim: one cluster, one user (token over TLS), one context. */
import { stringify } from 'yaml';

export function kubeconfigYaml(opts: {
  server: string;
  caPem?: string;
  token?: string;
  namespace?: string;
  name?: string;
}): string {
  const name = opts.name ?? 'kubesim';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': name,
    clusters: [
      {
        name,
        cluster: {
          server: opts.server,
          ...(opts.caPem ? { 'certificate-authority-data': Buffer.from(opts.caPem).toString('base64') } : {}),
        },
      },
    ],
    users: [{ name, user: opts.token ? { token: opts.token } : {} }],
    contexts: [{ name, context: { cluster: name, user: name, namespace: opts.namespace ?? 'default' } }],
    preferences: {},
  });
}
