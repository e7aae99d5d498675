/**
 * The resource types kubesim serves, and the discovery documents built from them. One table
 * drives routing, storage keys, error messages (`deployments.apps "x" not found`) and the
 * `/api*` discovery answers kubectl caches, so adding a resource is one entry here.
 */

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface ResourceType {
  group: string; // '' for the core group
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  /** Subresources served besides the main resource. */
  subresources: ('status' | 'scale' | 'log')[];
}

const ALL_VERBS: Verb[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export const RESOURCE_TYPES: readonly ResourceType[] = [
  {
    group: '',
    version: 'v1',
    plural: 'namespaces',
    singular: 'namespace',
    kind: 'Namespace',
    namespaced: false,
    shortNames: ['ns'],
    subresources: ['status'],
  },
  {
    group: '',
    version: 'v1',
    plural: 'nodes',
    singular: 'node',
    kind: 'Node',
    namespaced: false,
    shortNames: ['no'],
    subresources: ['status'],
  },
  {
    group: '',
    version: 'v1',
    plural: 'pods',
    singular: 'pod',
    kind: 'Pod',
    namespaced: true,
    shortNames: ['po'],
    categories: ['all'],
    subresources: ['status', 'log'],
  },
  {
    group: '',
    version: 'v1',
    plural: 'events',
    singular: 'event',
    kind: 'Event',
    namespaced: true,
    shortNames: ['ev'],
    subresources: [],
  },
  {
    group: '',
    version: 'v1',
    plural: 'configmaps',
    singular: 'configmap',
    kind: 'ConfigMap',
    namespaced: true,
    shortNames: ['cm'],
    subresources: [],
  },
  {
    group: '',
    version: 'v1',
    plural: 'secrets',
    singular: 'secret',
    kind: 'Secret',
    namespaced: true,
    subresources: [],
  },
  {
    group: '',
    version: 'v1',
    plural: 'services',
    singular: 'service',
    kind: 'Service',
    namespaced: true,
    shortNames: ['svc'],
    categories: ['all'],
    subresources: ['status'],
  },
  {
    group: '',
    version: 'v1',
    plural: 'serviceaccounts',
    singular: 'serviceaccount',
    kind: 'ServiceAccount',
    namespaced: true,
    shortNames: ['sa'],
    subresources: [],
  },
  {
    group: 'apps',
    version: 'v1',
    plural: 'deployments',
    singular: 'deployment',
    kind: 'Deployment',
    namespaced: true,
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: ['status', 'scale'],
  },
  {
    group: 'apps',
    version: 'v1',
    plural: 'replicasets',
    singular: 'replicaset',
    kind: 'ReplicaSet',
    namespaced: true,
    shortNames: ['rs'],
    categories: ['all'],
    subresources: ['status', 'scale'],
  },
  {
    group: 'batch',
    version: 'v1',
    plural: 'jobs',
    singular: 'job',
    kind: 'Job',
    namespaced: true,
    categories: ['all'],
    subresources: ['status'],
  },
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    plural: 'leases',
    singular: 'lease',
    kind: 'Lease',
    namespaced: true,
    subresources: [],
  },
];

/** Resources whose only writer in a real cluster is the API server (create-only kinds). */
export const SELF_SUBJECT_ACCESS_REVIEW = {
  group: 'authorization.k8s.io',
  version: 'v1',
  plural: 'selfsubjectaccessreviews',
};

export function apiVersionOf(rt: Pick<ResourceType, 'group' | 'version'>): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

/** `deployments.apps` / `pods`: how the API server names a resource in messages. */
export function qualifiedResource(rt: Pick<ResourceType, 'group' | 'plural'>): string {
  return rt.group ? `${rt.plural}.${rt.group}` : rt.plural;
}

export function storeKeyOf(rt: Pick<ResourceType, 'group' | 'plural'>): string {
  return `${rt.group}/${rt.plural}`;
}

export function findResource(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

export function resourceByKind(kind: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((r) => r.kind === kind);
}

export function mustResource(group: string, plural: string): ResourceType {
  const rt = RESOURCE_TYPES.find((r) => r.group === group && r.plural === plural);
  if (!rt) throw new Error(`kubesim: unknown resource ${group}/${plural}`);
  return rt;
}

export const R = {
  namespaces: mustResource('', 'namespaces'),
  nodes: mustResource('', 'nodes'),
  pods: mustResource('', 'pods'),
  events: mustResource('', 'events'),
  services: mustResource('', 'services'),
  deployments: mustResource('apps', 'deployments'),
  replicasets: mustResource('apps', 'replicasets'),
  jobs: mustResource('batch', 'jobs'),
};

export interface ServerVersion {
  major: string;
  minor: string;
  gitVersion: string;
}

export function versionInfo(minor: number): Record<string, string> {
  const patch = 0;
  return {
    major: '1',
    minor: String(minor),
    gitVersion: `v1.${minor}.${patch}+kubesim`,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: 'go1.23.0',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groups(): { name: string; version: string }[] {
  const seen = new Map<string, string>();
  for (const r of RESOURCE_TYPES) if (r.group) seen.set(r.group, r.version);
  seen.set(SELF_SUBJECT_ACCESS_REVIEW.group, SELF_SUBJECT_ACCESS_REVIEW.version);
  return [...seen].map(([name, version]) => ({ name, version }));
}

export function apiGroupList(): Record<string, unknown> {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: groups().map((g) => ({
      name: g.name,
      versions: [{ groupVersion: `${g.name}/${g.version}`, version: g.version }],
      preferredVersion: { groupVersion: `${g.name}/${g.version}`, version: g.version },
    })),
  };
}

export function apiGroup(name: string): Record<string, unknown> | undefined {
  const g = groups().find((x) => x.name === name);
  if (!g) return undefined;
  return {
    kind: 'APIGroup',
    apiVersion: 'v1',
    name: g.name,
    versions: [{ groupVersion: `${g.name}/${g.version}`, version: g.version }],
    preferredVersion: { groupVersion: `${g.name}/${g.version}`, version: g.version },
  };
}

/** APIResourceList for one group version, including the subresources kubectl looks for. */
export function apiResourceList(group: string, version: string): Record<string, unknown> | undefined {
  const types = RESOURCE_TYPES.filter((r) => r.group === group && r.version === version);
  const resources: Record<string, unknown>[] = [];
  for (const r of types) {
    resources.push({
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs:
        r.kind === 'Event' || r.kind === 'Node' || r.kind === 'Namespace'
          ? ALL_VERBS.filter((v) => v !== 'deletecollection' || r.kind !== 'Namespace')
          : ALL_VERBS,
      ...(r.shortNames ? { shortNames: r.shortNames } : {}),
      ...(r.categories ? { categories: r.categories } : {}),
    });
    for (const sub of r.subresources) {
      if (sub === 'status') {
        resources.push({
          name: `${r.plural}/status`,
          singularName: '',
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: ['get', 'patch', 'update'],
        });
      } else if (sub === 'scale') {
        resources.push({
          name: `${r.plural}/scale`,
          singularName: '',
          namespaced: r.namespaced,
          group: 'autoscaling',
          version: 'v1',
          kind: 'Scale',
          verbs: ['get', 'patch', 'update'],
        });
      } else if (sub === 'log') {
        resources.push({
          name: `${r.plural}/log`,
          singularName: '',
          namespaced: r.namespaced,
          kind: 'Pod',
          verbs: ['get'],
        });
      }
    }
  }
  if (group === SELF_SUBJECT_ACCESS_REVIEW.group && version === SELF_SUBJECT_ACCESS_REVIEW.version) {
    resources.push({
      name: 'selfsubjectaccessreviews',
      singularName: 'selfsubjectaccessreview',
      namespaced: false,
      kind: 'SelfSubjectAccessReview',
      verbs: ['create'],
    });
  }
  if (resources.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources,
  };
}

/**
 * A minimal OpenAPI v3 index and per-group-version documents. kubectl (≥1.27) decides from
 * them whether the server validates fields itself (`fieldValidation` on the PATCH operation of
 * each kind); without them `kubectl apply` fails with "failed to download openapi". The
 * documents carry operations only, no schemas, so kubectl falls back to its built-in types
 * for patch computation.
 */
export function openapiV3Root(): Record<string, unknown> {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  const gvs = new Set(
    RESOURCE_TYPES.map((r) => (r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`)),
  );
  for (const gv of gvs) paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=kubesim1` };
  return { paths };
}

export function openapiV3GroupVersion(gvPath: string): Record<string, unknown> | undefined {
  const types = RESOURCE_TYPES.filter(
    (r) => (r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`) === gvPath,
  );
  if (types.length === 0) return undefined;
  const param = (name: string): Record<string, unknown> => ({
    name,
    in: 'query',
    schema: { type: 'string', uniqueItems: true },
  });
  const paths: Record<string, unknown> = {};
  for (const r of types) {
    const base = `/${gvPath}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.plural}`;
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    paths[`${base}/{name}`] = {
      patch: {
        operationId: `patch${r.kind}`,
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': gvk,
        parameters: [
          param('dryRun'),
          param('fieldManager'),
          param('fieldValidation'),
          { name: 'force', in: 'query', schema: { type: 'boolean' } },
        ],
        responses: { '200': { description: 'OK' } },
      },
    };
    paths[base] = {
      post: {
        operationId: `create${r.kind}`,
        'x-kubernetes-action': 'post',
        'x-kubernetes-group-version-kind': gvk,
        parameters: [param('dryRun'), param('fieldManager'), param('fieldValidation')],
        responses: { '201': { description: 'Created' } },
      },
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes (kubesim)', version: 'unversioned' },
    paths,
    components: { schemas: {} },
  };
}
