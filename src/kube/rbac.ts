/**
 * Permissions: exactly which verbs a deploy uses, checked up front with SelfSubjectAccessReview so
 * a missing one is reported before anything changes — with the Role rule that would grant it.
 * examples/rbac.yaml is the least-privilege Role built from the same list.
 */
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import { KubeApiError, retryKube, type KubeClient } from './client.js';

export interface Permission {
  group: string;
  resource: string;
  subresource?: string;
  verb: string;
  /** Why gantry needs it, for the error message. */
  why: string;
}

export interface PermissionNeeds {
  /** Patching (false in dry run: the server-side dry-run patch still needs `patch`). */
  lock: boolean;
  history: boolean;
  migration: boolean;
  /** atomic restore updates the Deployment (PUT guarded by resourceVersion). */
  atomic: boolean;
}

/** Pure: the verbs a deploy with these options uses, in the order they are used. */
export function requiredPermissions(needs: PermissionNeeds): Permission[] {
  const p: Permission[] = [
    { group: 'apps', resource: 'deployments', verb: 'get', why: 'read the deployments to deploy' },
    { group: 'apps', resource: 'deployments', verb: 'list', why: 'watch rollouts' },
    { group: 'apps', resource: 'deployments', verb: 'watch', why: 'watch rollouts' },
    { group: 'apps', resource: 'deployments', verb: 'patch', why: 'set the images' },
    { group: '', resource: 'pods', verb: 'list', why: 'find failing pods' },
    { group: '', resource: 'pods', verb: 'watch', why: 'find failing pods' },
    { group: '', resource: 'pods', subresource: 'log', verb: 'get', why: 'show the logs of a failing pod' },
    { group: '', resource: 'events', verb: 'list', why: 'show why a pod fails' },
  ];
  if (needs.atomic)
    p.push({
      group: 'apps',
      resource: 'deployments',
      verb: 'update',
      why: 'restore the previous template on failure (atomic)',
    });
  if (needs.lock) {
    p.push(
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'get', why: 'the deploy lock' },
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'create', why: 'the deploy lock' },
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'update', why: 'the deploy lock' },
    );
  }
  if (needs.history) {
    p.push(
      { group: '', resource: 'configmaps', verb: 'get', why: 'the deploy history' },
      { group: '', resource: 'configmaps', verb: 'create', why: 'the deploy history' },
      { group: '', resource: 'configmaps', verb: 'update', why: 'the deploy history' },
    );
  }
  if (needs.migration) {
    p.push(
      { group: 'batch', resource: 'jobs', verb: 'create', why: 'run the migration Job' },
      { group: 'batch', resource: 'jobs', verb: 'get', why: 'follow the migration Job' },
    );
  }
  return p;
}

export function permissionLabel(p: Permission): string {
  const res = `${p.resource}${p.subresource ? `/${p.subresource}` : ''}${p.group ? `.${p.group}` : ''}`;
  return `${p.verb} ${res}`;
}

/** The Role rule(s) granting `missing`, grouped by apiGroup and resource, as YAML list items. */
export function roleRulesFor(missing: readonly Permission[]): string {
  const byKey = new Map<string, { group: string; resource: string; verbs: string[] }>();
  for (const p of missing) {
    const resource = p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
    const key = `${p.group}|${resource}`;
    const e = byKey.get(key) ?? { group: p.group, resource, verbs: [] };
    if (!e.verbs.includes(p.verb)) e.verbs.push(p.verb);
    byKey.set(key, e);
  }
  return [...byKey.values()]
    .map(
      (r) =>
        `- apiGroups: ["${r.group}"]\n  resources: ["${r.resource}"]\n  verbs: [${r.verbs.map((v) => `"${v}"`).join(', ')}]`,
    )
    .join('\n');
}

export interface AccessReview {
  permission: Permission;
  allowed: boolean;
  reason?: string;
}

interface SSARResponse {
  status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
}

/**
 * Asks the API server, per permission, whether the caller may do it in `namespace`. Returns
 * undefined when the server has no SelfSubjectAccessReview API (the check is then skipped).
 */
export async function reviewAccess(
  client: KubeClient,
  namespace: string,
  permissions: readonly Permission[],
  options: { signal?: AbortSignal; logger?: Logger } = {},
): Promise<AccessReview[] | undefined> {
  try {
    return await Promise.all(
      permissions.map(async (permission) => {
        const res = await retryKube(
          () =>
            client.request<SSARResponse>({
              method: 'POST',
              path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
              body: {
                apiVersion: 'authorization.k8s.io/v1',
                kind: 'SelfSubjectAccessReview',
                spec: {
                  resourceAttributes: {
                    namespace,
                    verb: permission.verb,
                    group: permission.group,
                    resource: permission.resource,
                    ...(permission.subresource ? { subresource: permission.subresource } : {}),
                  },
                },
              },
              ...(options.signal ? { signal: options.signal } : {}),
            }),
          {
            what: `access review ${permissionLabel(permission)}`,
            ...(options.signal ? { signal: options.signal } : {}),
          },
        );
        return {
          permission,
          allowed: res.status?.allowed === true,
          ...(res.status?.reason ? { reason: res.status.reason } : {}),
        };
      }),
    );
  } catch (e) {
    if (e instanceof KubeApiError && (e.status === 404 || e.status === 405)) {
      options.logger?.warning(
        `permission pre-check skipped: the API server has no SelfSubjectAccessReview (${errorMessage(e)})`,
      );
      return undefined;
    }
    throw e;
  }
}

/** The message for denied permissions: what is missing, why it is needed, and the rule to add. */
export function explainMissing(namespace: string, denied: readonly AccessReview[]): string {
  const lines = denied.map(
    (d) => `  - ${permissionLabel(d.permission)} in namespace "${namespace}" (needed to ${d.permission.why})`,
  );
  return [
    `the deployer lacks ${denied.length} permission${denied.length === 1 ? '' : 's'}:`,
    ...lines,
    `add to its Role in namespace "${namespace}" (see examples/rbac.yaml):`,
    roleRulesFor(denied.map((d) => d.permission)),
  ].join('\n');
}
