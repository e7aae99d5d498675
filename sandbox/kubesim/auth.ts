/**
 * Bearer-token authentication and a small RBAC: each token maps to a user with either admin
 * rights or namespaced rules (verbs × apiGroups × resources), enough to test a least-privilege
 * deployer Role. Denials read exactly like the real authorizer's, since clients show them.
 */
import { ApiError, statusBody } from './status-errors.js';

export interface PolicyRule {
  verbs: string[];
  /** Resource plurals, `plural/subresource`, or `*`. */
  resources: string[];
  /** '' is the core group; default ['*']. */
  apiGroups?: string[];
  resourceNames?: string[];
}

export interface TokenGrant {
  user: string;
  groups?: string[];
  /** Full access (cluster-admin). */
  admin?: boolean;
  /** Namespaces the rules apply in; undefined = every namespace (a ClusterRole binding). */
  namespaces?: string[];
  rules?: PolicyRule[];
}

export interface Identity {
  token: string;
  grant: TokenGrant;
}

export interface AuthzAttributes {
  verb: string;
  apiGroup: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export function ruleAllows(grant: TokenGrant, a: AuthzAttributes): boolean {
  if (grant.admin) return true;
  if (grant.namespaces && (a.namespace === undefined || !grant.namespaces.includes(a.namespace)))
    return false;
  const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  return (grant.rules ?? []).some(
    (r) =>
      (r.verbs.includes('*') || r.verbs.includes(a.verb)) &&
      (r.apiGroups ?? ['*']).some((g) => g === '*' || g === a.apiGroup) &&
      r.resources.some((x) => x === '*' || x === res || (x === `${a.resource}/*` && a.subresource)) &&
      (!r.resourceNames ||
        r.resourceNames.length === 0 ||
        (a.name !== undefined && r.resourceNames.includes(a.name))),
  );
}

export function forbidden(user: string, a: AuthzAttributes): ApiError {
  const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  const subject = a.name ? `${qualified} "${a.name}"` : qualified;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  const message = `${subject} is forbidden: User "${user}" cannot ${a.verb} resource "${res}" in API group "${a.apiGroup}" ${scope}`;
  return new ApiError(
    statusBody(403, 'Forbidden', message, {
      ...(a.name ? { name: a.name } : {}),
      ...(a.apiGroup ? { group: a.apiGroup } : {}),
      kind: a.resource,
    }),
  );
}

export function unauthorized(): ApiError {
  return new ApiError(statusBody(401, 'Unauthorized', 'Unauthorized'));
}

export class TokenAuthenticator {
  private readonly tokens = new Map<string, TokenGrant>();

  add(token: string, grant: TokenGrant): void {
    this.tokens.set(token, grant);
  }

  remove(token: string): void {
    this.tokens.delete(token);
  }

  authenticate(authorization: string | undefined): Identity | undefined {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) return undefined;
    const grant = this.tokens.get(m[1]!);
    return grant ? { token: m[1]!, grant } : undefined;
  }
}
