import { describe, expect, it } from 'vitest';
import { explainMissing, requiredPermissions, roleRulesFor } from '../../src/kube/rbac.js';

describe('permissions', () => {
  it('lists the verbs by feature', () => {
    const minimal = requiredPermissions({ lock: false, history: false, migration: false, atomic: false }).map(
      (p) => `${p.verb} ${p.resource}`,
    );
    expect(minimal).toContain('patch deployments');
    expect(minimal).not.toContain('update deployments');
    const all = requiredPermissions({ lock: true, history: true, migration: true, atomic: true }).map(
      (p) => `${p.verb} ${p.resource}`,
    );
    expect(all).toEqual(
      expect.arrayContaining(['update deployments', 'create leases', 'update configmaps', 'create jobs']),
    );
  });
  it('renders the Role rule that would grant what is missing', () => {
    const perms = requiredPermissions({ lock: true, history: false, migration: false, atomic: true });
    const missing = perms.filter(
      (p) => p.resource === 'leases' || (p.resource === 'pods' && p.subresource === 'log'),
    );
    expect(roleRulesFor(missing)).toBe(
      [
        '- apiGroups: [""]',
        '  resources: ["pods/log"]',
        '  verbs: ["get"]',
        '- apiGroups: ["coordination.k8s.io"]',
        '  resources: ["leases"]',
        '  verbs: ["get", "create", "update"]',
      ].join('\n'),
    );
    const text = explainMissing(
      'prod',
      missing.map((permission) => ({ permission, allowed: false })),
    );
    expect(text).toContain('get pods/log in namespace "prod" (needed to show the logs of a failing pod)');
    expect(text).toContain('add to its Role in namespace "prod"');
  });
});
