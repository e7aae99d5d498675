/**
 * The HTTP face of kubesim: routes Kubernetes REST paths to the store, with discovery, auth,
 * fault injection, the three patch dialects, subresources (status, scale, log), Table output,
 * pagination, dry-run and chunked watches with bookmarks. Plain node:http handlers, no
 * framework; the wire behaviour follows what kubectl and client-node actually send (see
 * shared/notes/kubectl-wire.md).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import {
  ruleAllows,
  forbidden,
  unauthorized,
  type AuthzAttributes,
  type Identity,
  type TokenAuthenticator,
} from './auth.js';
import type { SimClock } from './clock.js';
import { applyDefaults, defaultJobSelector, randomSuffix, validate } from './defaults.js';
import type { FaultInjector } from './faults.js';
import { deleteWithDependents, type PropagationPolicy } from './garbage-collector.js';
import type { Kubelet } from './kubelet.js';
import type { KubesimLogger } from './logger.js';
import { decodeKubernetesProtobuf, openapiV2Protobuf } from './protobuf.js';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchError, type Json } from './patch.js';
import {
  R,
  RESOURCE_TYPES,
  SELF_SUBJECT_ACCESS_REVIEW,
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersionOf,
  apiVersions,
  findResource,
  openapiV3GroupVersion,
  openapiV3Root,
  qualifiedResource,
  versionInfo,
  type ResourceType,
} from './resources.js';
import {
  formatLabelSelector,
  matchesFields,
  matchesRequirements,
  parseFieldSelector,
  parseLabelSelector,
  SelectorParseError,
  unsupportedField,
  type FieldRequirement,
  type Requirement,
} from './selectors.js';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  gone,
  invalid,
  methodNotAllowed,
  notFound,
  notFoundPath,
  statusBody,
} from './status-errors.js';
import type { Store, StoreEvent } from './store.js';
import { toTable, wantsTable } from './table.js';
import type { Deployment, Job, KObject } from './types.js';

export interface ApiServerDeps {
  store: Store;
  clock: SimClock;
  logger: KubesimLogger;
  faults: FaultInjector;
  /** When set, every request needs a bearer token (only sent by clients over TLS). */
  auth?: TokenAuthenticator;
  kubelet: Kubelet;
  serverMinor: number;
  serverAddress: () => string;
  /** Simulated ms between watch bookmarks. */
  bookmarkIntervalMs: number;
  admin: (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    body: string,
    identity: Identity | undefined,
  ) => Promise<void>;
}

interface Route {
  rt: ResourceType;
  namespace?: string;
  name?: string;
  sub?: string;
}

const PUBLIC_PATHS = new Set(['/version', '/healthz', '/livez', '/readyz']);

export function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: ApiError): void {
  sendJson(res, err.status.code, err.status, err.headers);
}

/**
 * Reads the body as text. Protobuf bodies (kubectl ≥ 1.33 `create …`) are decoded to JSON
 * text here so every handler below deals with JSON only.
 */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 10 * 1024 * 1024) reject(badRequest('request entity too large'));
      else chunks.push(c);
    });
    req.on('end', () => {
      const buf = Buffer.concat(chunks);
      if (req.headers['content-type']?.startsWith('application/vnd.kubernetes.protobuf')) {
        try {
          resolve(JSON.stringify(decodeKubernetesProtobuf(buf)));
        } catch (e) {
          reject(
            new ApiError(statusBody(415, 'UnsupportedMediaType', e instanceof Error ? e.message : String(e))),
          );
        }
        return;
      }
      resolve(buf.toString('utf8'));
    });
    req.on('error', reject);
  });
}

function parseJson(text: string, contentType: string | undefined): unknown {
  if (!text.trim())
    throw badRequest(
      'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
    );
  try {
    if (contentType?.includes('yaml')) return parseYaml(text) as unknown;
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw badRequest(
      `couldn't get version/kind; json parse error: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** Resolves /api/v1/… and /apis/<g>/<v>/… paths to a resource, namespace, name, subresource. */
export function parseResourcePath(
  segments: string[],
): { group: string; version: string; rest: string[] } | undefined {
  if (segments[0] === 'api' && segments[1])
    return { group: '', version: segments[1], rest: segments.slice(2) };
  if (segments[0] === 'apis' && segments[1] && segments[2])
    return { group: segments[1], version: segments[2], rest: segments.slice(3) };
  return undefined;
}

function routeOf(group: string, version: string, rest: string[]): Route | undefined {
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const rt = findResource(group, version, rest[2]!);
    if (rt?.namespaced) return { rt, namespace: rest[1], name: rest[3], sub: rest[4] };
    if (group === '' && (rest[2] === 'status' || rest[2] === 'finalize'))
      return { rt: R.namespaces, name: rest[1], sub: rest[2] };
    return undefined;
  }
  const rt = findResource(group, version, rest[0] ?? '');
  if (!rt) return undefined;
  if (rt.namespaced) return rest.length === 1 ? { rt } : undefined; // list across namespaces
  return { rt, name: rest[1], sub: rest[2] };
}

interface ListQuery {
  labels: Requirement[];
  fields: FieldRequirement[];
}

function listQuery(rt: ResourceType, q: URLSearchParams): ListQuery {
  try {
    const fields = parseFieldSelector(q.get('fieldSelector') ?? undefined);
    const bad = unsupportedField(rt.kind, fields);
    if (bad)
      throw badRequest(`"${bad}" is not a known field selector: only "metadata.name", "metadata.namespace"`);
    return { labels: parseLabelSelector(q.get('labelSelector') ?? undefined), fields };
  } catch (e) {
    if (e instanceof SelectorParseError) throw badRequest(`unable to parse requirement: ${e.message}`);
    throw e;
  }
}

function matches(o: KObject, ns: string | undefined, lq: ListQuery): boolean {
  return (
    (ns === undefined || o.metadata.namespace === ns) &&
    matchesRequirements(o.metadata.labels, lq.labels) &&
    matchesFields(o, lq.fields)
  );
}

function withTypeMeta(rt: ResourceType, o: KObject): KObject {
  return o.apiVersion && o.kind ? o : { apiVersion: apiVersionOf(rt), kind: rt.kind, ...o };
}

/** A Deployment/ReplicaSet as the autoscaling/v1 Scale its /scale subresource returns. */
function scaleObject(o: KObject): KObject {
  return toScale(o) as unknown as KObject;
}

function toScale(o: KObject): Record<string, unknown> {
  const spec = o.spec as { replicas?: number; selector?: Deployment['spec']['selector'] };
  const status = o.status as { replicas?: number } | undefined;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: o.metadata.name,
      namespace: o.metadata.namespace,
      uid: o.metadata.uid,
      resourceVersion: o.metadata.resourceVersion,
      creationTimestamp: o.metadata.creationTimestamp,
    },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status?.replicas ?? 0, selector: formatLabelSelector(spec.selector) },
  };
}

function verbOf(method: string, route: Route, q: URLSearchParams): string {
  switch (method) {
    case 'GET':
      return route.name ? 'get' : q.get('watch') === 'true' || q.get('watch') === '1' ? 'watch' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return route.name ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

export function createApiHandler(deps: ApiServerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { store, logger, faults } = deps;
  const encoded = new WeakMap<StoreEvent, string>();

  function authenticate(req: IncomingMessage, path: string): Identity | undefined {
    if (!deps.auth) return undefined;
    const id = deps.auth.authenticate(req.headers.authorization);
    if (!id && !PUBLIC_PATHS.has(path)) throw unauthorized();
    return id;
  }

  function authorize(id: Identity | undefined, a: AuthzAttributes): void {
    if (!deps.auth || !id) return;
    if (!ruleAllows(id.grant, a)) {
      logger.log(
        'info',
        'authz',
        `denied ${id.grant.user}: ${a.verb} ${a.resource}${a.subresource ? '/' + a.subresource : ''} ns=${a.namespace ?? '-'} name=${a.name ?? '-'}`,
      );
      throw forbidden(id.grant.user, a);
    }
  }

  function discovery(path: string, segments: string[], res: ServerResponse): boolean {
    if (path === '/version') {
      sendJson(res, 200, versionInfo(deps.serverMinor));
      return true;
    }
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return true;
    }
    if (path === '/api') {
      sendJson(res, 200, apiVersions(deps.serverAddress()));
      return true;
    }
    if (path === '/apis') {
      sendJson(res, 200, apiGroupList());
      return true;
    }
    if (segments[0] === 'apis' && segments.length === 2) {
      const g = apiGroup(segments[1]!);
      if (!g) throw notFoundPath();
      sendJson(res, 200, g);
      return true;
    }
    const p = parseResourcePath(segments);
    if (p && p.rest.length === 0) {
      const list = apiResourceList(p.group, p.version);
      if (!list) throw notFoundPath();
      sendJson(res, 200, list);
      return true;
    }
    return false;
  }

  function prepareNew(rt: ResourceType, route: Route, body: unknown): KObject {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw badRequest('Object is not a valid object');
    const obj = structuredClone(body) as KObject;
    obj.metadata = { ...(obj.metadata ?? {}) };
    if (obj.kind && obj.kind !== rt.kind)
      throw badRequest(
        `the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersionOf(rt)})`,
      );
    obj.apiVersion = apiVersionOf(rt);
    obj.kind = rt.kind;
    if (rt.namespaced) {
      if (obj.metadata.namespace && route.namespace && obj.metadata.namespace !== route.namespace) {
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      obj.metadata.namespace = route.namespace;
      if (!store.get(R.namespaces, undefined, route.namespace!))
        throw notFound(R.namespaces, route.namespace!);
    } else delete obj.metadata.namespace;
    if (!obj.metadata.name && obj.metadata.generateName)
      obj.metadata.name = obj.metadata.generateName + randomSuffix();
    if (!obj.metadata.name)
      throw invalid(rt.kind, rt.group, '', [
        {
          field: 'metadata.name',
          message: 'Required value: name or generateName is required',
          reason: 'FieldValueRequired',
        },
      ]);
    delete obj.metadata.resourceVersion;
    delete obj.metadata.uid;
    delete obj.metadata.creationTimestamp;
    delete obj.metadata.deletionTimestamp;
    delete obj.metadata.generation;
    if (
      rt.subresources.includes('status') &&
      rt.kind !== 'Namespace' &&
      rt.kind !== 'Pod' &&
      rt.kind !== 'Service'
    )
      delete obj.status;
    return obj;
  }

  function create(route: Route, body: unknown, q: URLSearchParams): { code: number; obj: KObject } {
    const rt = route.rt;
    const dryRun = q.get('dryRun') === 'All';
    const obj = prepareNew(rt, route, body);
    if (store.get(rt, obj.metadata.namespace, obj.metadata.name!))
      throw alreadyExists(rt, obj.metadata.name!);
    applyDefaults(rt.kind, obj);
    const err = validate(rt.kind, rt.group, obj);
    if (err) throw err;
    let created = store.create(rt, obj, { dryRun });
    if (rt === R.jobs) {
      // selector and pod labels are derived from the uid the store just assigned
      const job = structuredClone(created) as Job;
      defaultJobSelector(job);
      created = dryRun ? job : store.update(rt, job);
    }
    return { code: 201, obj: created };
  }

  /** Finishes an update/patch: immutable fields, status handling, defaults, validation, store. */
  function commit(route: Route, current: KObject, next: KObject, q: URLSearchParams): KObject {
    const rt = route.rt;
    const dryRun = q.get('dryRun') === 'All';
    if (next.metadata?.resourceVersion && next.metadata.resourceVersion !== current.metadata.resourceVersion)
      throw conflict(rt, current.metadata.name!);
    if (next.metadata?.name && next.metadata.name !== current.metadata.name) {
      throw badRequest(
        `the name of the object (${next.metadata.name}) does not match the name on the URL (${current.metadata.name})`,
      );
    }
    const out: KObject = {
      ...next,
      apiVersion: apiVersionOf(rt),
      kind: rt.kind,
      metadata: {
        ...next.metadata,
        name: current.metadata.name,
        namespace: current.metadata.namespace,
        uid: current.metadata.uid,
        creationTimestamp: current.metadata.creationTimestamp,
      },
    };
    if (route.sub === 'status') {
      const st = next.status;
      Object.assign(out, { ...current, status: st });
      out.metadata = current.metadata;
    } else if (rt.subresources.includes('status') && rt.kind !== 'Namespace') {
      if (current.status === undefined) delete out.status;
      else out.status = current.status;
    }
    applyDefaults(rt.kind, out);
    const err = validate(rt.kind, rt.group, out);
    if (err) throw err;
    if ((rt === R.deployments || rt === R.replicasets || rt === R.jobs) && route.sub !== 'status') {
      const a = JSON.stringify((current.spec as { selector?: unknown }).selector);
      const b = JSON.stringify((out.spec as { selector?: unknown }).selector);
      if (a !== b) {
        throw invalid(rt.kind, rt.group, current.metadata.name!, [
          { field: 'spec.selector', message: `Invalid value: ${b}: field is immutable` },
        ]);
      }
    }
    return store.update(rt, out, { dryRun });
  }

  function getCurrent(route: Route): KObject {
    const cur = store.get(route.rt, route.namespace, route.name!);
    if (!cur) throw notFound(route.rt, route.name!);
    return cur;
  }

  function update(route: Route, body: unknown, q: URLSearchParams): KObject {
    const current = getCurrent(route);
    if (typeof body !== 'object' || body === null) throw badRequest('Object is not a valid object');
    if (route.sub === 'scale') {
      const scale = body as { metadata?: { resourceVersion?: string }; spec?: { replicas?: number } };
      if (
        scale.metadata?.resourceVersion &&
        scale.metadata.resourceVersion !== current.metadata.resourceVersion
      )
        throw conflict(route.rt, route.name!);
      const next = { ...current, spec: { ...(current.spec as object), replicas: scale.spec?.replicas ?? 0 } };
      return scaleObject(
        commit(
          { ...route, sub: undefined },
          current,
          { ...next, metadata: { ...next.metadata, resourceVersion: undefined } },
          q,
        ),
      );
    }
    return commit(route, current, body as KObject, q);
  }

  function applyPatch(contentType: string, base: Json, patchText: string): Json {
    const type = contentType.split(';')[0]!.trim();
    try {
      if (type === 'application/json-patch+json') return applyJsonPatch(base, parseJson(patchText, type));
      if (type === 'application/merge-patch+json')
        return applyMergePatch(base, parseJson(patchText, type) as Json);
      if (type === 'application/strategic-merge-patch+json')
        return applyStrategicMergePatch(base, parseJson(patchText, type) as Json);
      if (type === 'application/apply-patch+yaml' || type === 'application/apply-patch+cbor')
        return applyStrategicMergePatch(base, parseJson(patchText, 'yaml') as Json);
    } catch (e) {
      if (e instanceof PatchError)
        throw new ApiError(statusBody(e.code, e.code === 400 ? 'BadRequest' : 'Invalid', e.message));
      throw e;
    }
    throw new ApiError(
      statusBody(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
      ),
    );
  }

  function patch(
    route: Route,
    contentType: string,
    text: string,
    q: URLSearchParams,
  ): { code: number; obj: KObject } {
    const rt = route.rt;
    const current = store.get(rt, route.namespace, route.name!);
    if (!current) {
      if (contentType.startsWith('application/apply-patch')) {
        // server-side apply creates what does not exist
        return create(route, parseJson(text, 'yaml'), q);
      }
      throw notFound(rt, route.name!);
    }
    if (route.sub === 'scale') {
      const scale = applyPatch(contentType, toScale(current) as unknown as Json, text) as {
        metadata?: { resourceVersion?: string };
        spec?: { replicas?: number };
      };
      if (
        scale.metadata?.resourceVersion &&
        scale.metadata.resourceVersion !== current.metadata.resourceVersion
      )
        throw conflict(rt, route.name!);
      const next = {
        ...current,
        metadata: { ...current.metadata, resourceVersion: undefined },
        spec: { ...(current.spec as object), replicas: scale.spec?.replicas ?? 0 },
      };
      return { code: 200, obj: scaleObject(commit({ ...route, sub: undefined }, current, next, q)) };
    }
    const patched = applyPatch(contentType, current as unknown as Json, text) as unknown as KObject;
    if (typeof patched !== 'object' || patched === null || Array.isArray(patched))
      throw badRequest('patch produced a non-object');
    // an rv in the patch is a precondition; otherwise the patch applies to the current version
    const patchRv = patched.metadata?.resourceVersion;
    const next = {
      ...patched,
      metadata: {
        ...patched.metadata,
        resourceVersion: patchRv === current.metadata.resourceVersion ? undefined : patchRv,
      },
    };
    return { code: 200, obj: commit(route, current, next, q) };
  }

  function list(route: Route, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    const rt = route.rt;
    const lq = listQuery(rt, q);
    let items = store.list(rt, route.namespace).filter((o) => matches(o, route.namespace, lq));
    const rv = String(store.currentRv());
    const limit = Number(q.get('limit') ?? '0');
    let continueToken: string | undefined;
    let remaining: number | undefined;
    const cont = q.get('continue');
    if (cont) {
      let start: string;
      try {
        start = (JSON.parse(Buffer.from(cont, 'base64url').toString('utf8')) as { start: string }).start;
      } catch {
        throw badRequest('continue key is not valid: illegal base64 data');
      }
      items = items.filter((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}` > start);
    }
    if (limit > 0 && items.length > limit) {
      remaining = items.length - limit;
      items = items.slice(0, limit);
      const last = items[items.length - 1]!;
      continueToken = Buffer.from(
        JSON.stringify({
          v: 'meta.k8s.io/v1',
          rv: Number(rv),
          start: `${last.metadata.namespace ?? ''}/${last.metadata.name}`,
        }),
      ).toString('base64url');
    }
    if (wantsTable(req.headers.accept)) {
      sendJson(
        res,
        200,
        toTable(rt.kind, items, {
          now: deps.clock.now(),
          resourceVersion: rv,
          continueToken,
          includeObject: q.get('includeObject') ?? undefined,
        }),
      );
      return;
    }
    sendJson(res, 200, {
      kind: `${rt.kind}List`,
      apiVersion: apiVersionOf(rt),
      metadata: {
        resourceVersion: rv,
        ...(continueToken ? { continue: continueToken, remainingItemCount: remaining } : {}),
      },
      items: items.map((o) => withTypeMeta(rt, o)),
    });
  }

  function watch(route: Route, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    const rt = route.rt;
    const lq = listQuery(rt, q);
    const ns = route.namespace;
    const table = wantsTable(req.headers.accept);
    const rvParam = q.get('resourceVersion') ?? '';
    const sendInitial = q.get('sendInitialEvents') === 'true';
    const bookmarks = q.get('allowWatchBookmarks') === 'true';
    const timeoutSeconds = Number(q.get('timeoutSeconds') ?? '0');
    const dropAfter = faults.watchDropAfter({ verb: 'watch', resource: rt.plural, namespace: ns });
    const match = (o: KObject): boolean => matches(o, ns, lq);
    let sent = 0;
    let closed = false;

    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    res.flushHeaders();

    const write = (line: string): void => {
      if (closed) return;
      sent++;
      if (dropAfter !== undefined && sent >= dropAfter) {
        logger.log('warn', 'faults', `dropping watch on ${qualifiedResource(rt)} after ${sent} events`);
        closed = true;
        cleanup();
        // "dropped after N events" delivers the N-th event, then cuts the connection without the
        // chunked terminator; destroying before the write flushed lost that event every time
        res.write(line + '\n', () => res.socket?.destroy());
        return;
      }
      res.write(line + '\n');
    };
    const encode = (type: string, o: KObject, e?: StoreEvent): string => {
      if (table)
        return JSON.stringify({
          type,
          object: toTable(rt.kind, [o], {
            now: deps.clock.now(),
            resourceVersion: o.metadata.resourceVersion,
          }),
        });
      if (e && type === e.type) {
        let s = encoded.get(e);
        if (!s) {
          s = JSON.stringify({ type, object: withTypeMeta(rt, e.object) });
          encoded.set(e, s);
        }
        return s;
      }
      return JSON.stringify({ type, object: withTypeMeta(rt, o) });
    };
    const onEvent = (e: StoreEvent): void => {
      if (e.rt !== rt) return;
      const now = match(e.object);
      const before = e.old ? match(e.old) : false;
      if (e.type === 'ADDED') {
        if (now) write(encode('ADDED', e.object, e));
      } else if (e.type === 'MODIFIED') {
        if (now && before) write(encode('MODIFIED', e.object, e));
        else if (now) write(encode('ADDED', e.object));
        else if (before) write(encode('DELETED', e.object));
      } else if (now || before) write(encode('DELETED', e.object, e));
    };

    let unsubscribe = (): void => undefined;
    let stopBookmarks = (): void => undefined;
    let timeout: NodeJS.Timeout | undefined;
    const cleanup = (): void => {
      unsubscribe();
      stopBookmarks();
      if (timeout) clearTimeout(timeout);
    };
    const bookmark = (extra?: Record<string, string>): void =>
      write(
        JSON.stringify({
          type: 'BOOKMARK',
          object: {
            kind: rt.kind,
            apiVersion: apiVersionOf(rt),
            metadata: {
              resourceVersion: String(store.currentRv()),
              ...(extra ? { annotations: extra } : {}),
            },
          },
        }),
      );

    if (rvParam === '' || rvParam === '0' || sendInitial) {
      for (const o of store.list(rt, ns)) if (match(o)) write(encode('ADDED', o));
      if (sendInitial && bookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
    } else {
      const from = Number(rvParam);
      const backlog = Number.isFinite(from) ? store.eventsSince(from, rt) : 'expired';
      if (backlog === 'expired') {
        const st = gone(`too old resource version: ${rvParam} (${store.oldestResumableRv()})`).status;
        write(JSON.stringify({ type: 'ERROR', object: st }));
        closed = true;
        res.end();
        return;
      }
      for (const e of backlog) onEvent(e);
    }
    if (closed) return;
    unsubscribe = store.subscribe(onEvent);
    if (bookmarks) {
      const tick = (): void => {
        bookmark();
        stopBookmarks = deps.clock.after(deps.bookmarkIntervalMs, tick);
      };
      stopBookmarks = deps.clock.after(deps.bookmarkIntervalMs, tick);
    }
    if (timeoutSeconds > 0) {
      timeout = setTimeout(() => {
        closed = true;
        cleanup();
        res.end();
      }, timeoutSeconds * 1000);
      timeout.unref();
    }
    const onClose = (): void => {
      closed = true;
      cleanup();
    };
    req.on('close', onClose);
    res.on('close', onClose);
  }

  function deleteOne(route: Route, body: string, q: URLSearchParams): KObject {
    const current = getCurrent(route);
    let opts: {
      propagationPolicy?: string;
      preconditions?: { uid?: string; resourceVersion?: string };
      dryRun?: string[];
      orphanDependents?: boolean;
    } = {};
    if (body.trim()) {
      try {
        opts = JSON.parse(body) as typeof opts;
      } catch {
        throw badRequest('invalid DeleteOptions');
      }
    }
    if (opts.preconditions?.uid && opts.preconditions.uid !== current.metadata.uid) {
      throw new ApiError(
        statusBody(
          409,
          'Conflict',
          `Precondition failed: UID in precondition: ${opts.preconditions.uid}, UID in object meta: ${current.metadata.uid}`,
        ),
      );
    }
    if (
      opts.preconditions?.resourceVersion &&
      opts.preconditions.resourceVersion !== current.metadata.resourceVersion
    )
      throw conflict(route.rt, route.name!);
    const policy = (q.get('propagationPolicy') ??
      opts.propagationPolicy ??
      (opts.orphanDependents ? 'Orphan' : 'Background')) as PropagationPolicy;
    const dryRun = q.get('dryRun') === 'All' || (opts.dryRun ?? []).includes('All');
    const gone = deleteWithDependents(store, route.rt, route.namespace, route.name!, policy, { dryRun });
    logger.log(
      'debug',
      'api',
      `deleted ${qualifiedResource(route.rt)} ${route.namespace ?? ''}/${route.name} (${policy})`,
    );
    return gone ?? current;
  }

  function selfSubjectAccessReview(body: unknown, id: Identity | undefined): Record<string, unknown> {
    const spec =
      (
        body as {
          spec?: {
            resourceAttributes?: {
              namespace?: string;
              verb?: string;
              group?: string;
              resource?: string;
              subresource?: string;
              name?: string;
            };
            nonResourceAttributes?: unknown;
          };
        }
      ).spec ?? {};
    const ra = spec.resourceAttributes;
    let allowed = true;
    let reason = '';
    if (ra && deps.auth) {
      const attrs: AuthzAttributes = {
        verb: ra.verb ?? '',
        apiGroup: ra.group ?? '',
        resource: ra.resource ?? '',
        subresource: ra.subresource || undefined,
        namespace: ra.namespace || undefined,
        name: ra.name || undefined,
      };
      allowed = !!id && ruleAllows(id.grant, attrs);
      reason = allowed
        ? id?.grant.admin
          ? 'RBAC: allowed by ClusterRoleBinding "cluster-admin"'
          : 'RBAC: allowed by RoleBinding'
        : '';
    }
    return {
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec,
      status: { allowed, ...(reason ? { reason } : {}) },
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://kubesim');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const q = url.searchParams;
    const segments = path.split('/').filter(Boolean);
    const method = req.method ?? 'GET';
    const identity = authenticate(req, path);

    if (segments[0] === '_kubesim') {
      if (deps.auth && !identity?.grant.admin)
        throw forbidden(identity?.grant.user ?? 'system:anonymous', {
          verb: method.toLowerCase(),
          apiGroup: '',
          resource: '_kubesim',
        });
      await deps.admin(req, res, path, await readBody(req), identity);
      return;
    }
    if (method === 'GET' && discovery(path, segments, res)) return;
    if (method === 'GET' && path === '/openapi/v3') return sendJson(res, 200, openapiV3Root());
    if (method === 'GET' && path.startsWith('/openapi/v3/')) {
      const doc = openapiV3GroupVersion(path.slice('/openapi/v3/'.length));
      if (!doc) throw notFoundPath();
      return sendJson(res, 200, doc);
    }
    if (method === 'GET' && path === '/openapi/v2') {
      if (!(req.headers.accept ?? '').includes('protobuf')) throw notFoundPath();
      const body = openapiV2Protobuf(
        RESOURCE_TYPES.map((r) => ({
          group: r.group,
          version: r.version,
          kind: r.kind,
          path: `/${r.group ? `apis/${r.group}` : 'api'}/${r.version}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.plural}/{name}`,
        })),
      );
      res.writeHead(200, {
        'Content-Type': 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf',
        'Content-Length': body.length,
      });
      res.end(body);
      return;
    }

    const p = parseResourcePath(segments);
    if (!p) throw notFoundPath();
    if (p.group === SELF_SUBJECT_ACCESS_REVIEW.group && p.rest[0] === SELF_SUBJECT_ACCESS_REVIEW.plural) {
      if (method !== 'POST') throw methodNotAllowed();
      sendJson(
        res,
        201,
        selfSubjectAccessReview(parseJson(await readBody(req), req.headers['content-type']), identity),
      );
      return;
    }
    const route = routeOf(p.group, p.version, p.rest);
    if (!route) throw notFoundPath();
    const rt = route.rt;
    if (route.sub && !(rt.subresources as string[]).includes(route.sub) && route.sub !== 'finalize')
      throw notFoundPath();
    const verb = verbOf(method, route, q);
    authorize(identity, {
      verb,
      apiGroup: rt.group,
      resource: rt.plural,
      subresource: route.sub,
      namespace: route.namespace,
      name: route.name,
    });

    const resourceLabel = route.sub ? `${rt.plural}/${route.sub}` : rt.plural;
    const fault = faults.forRequest(
      { verb, resource: resourceLabel, namespace: route.namespace, name: route.name },
      qualifiedResource(rt),
    );
    if (fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
    if (fault.error) {
      sendJson(res, fault.error.status.code, fault.error.status, fault.error.headers);
      return;
    }

    const body = method === 'GET' ? '' : await readBody(req);
    switch (verb) {
      case 'get': {
        const obj = getCurrent(route);
        if (route.sub === 'scale') return sendJson(res, 200, toScale(obj));
        if (route.sub === 'log') return sendLog(route, obj, q, res);
        if (wantsTable(req.headers.accept))
          return sendJson(
            res,
            200,
            toTable(rt.kind, [obj], {
              now: deps.clock.now(),
              resourceVersion: obj.metadata.resourceVersion,
              includeObject: q.get('includeObject') ?? undefined,
            }),
          );
        return sendJson(res, 200, withTypeMeta(rt, obj));
      }
      case 'list':
        return list(route, q, req, res);
      case 'watch':
        return watch(route, q, req, res);
      case 'create': {
        if (route.name) throw methodNotAllowed();
        const r = create(route, parseJson(body, req.headers['content-type']), q);
        return sendJson(res, r.code, r.obj);
      }
      case 'update':
        return sendJson(res, 200, update(route, parseJson(body, req.headers['content-type']), q));
      case 'patch': {
        const r = patch(route, req.headers['content-type'] ?? 'application/json', body, q);
        return sendJson(res, r.code, r.obj);
      }
      case 'delete':
        return sendJson(res, 200, withTypeMeta(rt, deleteOne(route, body, q)));
      case 'deletecollection': {
        const lq = listQuery(rt, q);
        const victims = store.list(rt, route.namespace).filter((o) => matches(o, route.namespace, lq));
        const out = victims.map((v) =>
          deleteOne({ ...route, namespace: v.metadata.namespace, name: v.metadata.name }, body, q),
        );
        return sendJson(res, 200, {
          kind: `${rt.kind}List`,
          apiVersion: apiVersionOf(rt),
          metadata: { resourceVersion: String(store.currentRv()) },
          items: out,
        });
      }
      default:
        throw methodNotAllowed();
    }
  }

  function sendLog(route: Route, pod: KObject, q: URLSearchParams, res: ServerResponse): void {
    const container = q.get('container') ?? undefined;
    const containers = ((pod.spec as { containers?: { name: string }[] }).containers ?? []).map(
      (c) => c.name,
    );
    if (!container && containers.length > 1) {
      throw badRequest(
        `a container name must be specified for pod ${route.name}, choose one of: [${containers.join(' ')}]`,
      );
    }
    if (container && !containers.includes(container))
      throw badRequest(`container ${container} is not valid for pod ${route.name}`);
    const lines = deps.kubelet.logs(route.namespace!, route.name!, container, q.get('previous') === 'true');
    if (lines === undefined || (q.get('previous') === 'true' && lines.length === 0)) {
      throw badRequest(
        q.get('previous') === 'true'
          ? `previous terminated container "${container ?? containers[0]}" in pod "${route.name}" not found`
          : `container "${container ?? containers[0]}" in pod "${route.name}" is waiting to start: ContainerCreating`,
      );
    }
    const tail = Number(q.get('tailLines') ?? '0');
    const shown = (tail > 0 ? lines.slice(-tail) : lines).map((l) =>
      q.get('timestamps') === 'true' ? l : l.slice(l.indexOf(' ') + 1),
    );
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(shown.map((l) => l + '\n').join(''));
  }

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof ApiError) sendError(res, err);
      else {
        logger.log(
          'warn',
          'api',
          `internal error on ${req.method} ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
        sendError(
          res,
          new ApiError(
            statusBody(
              500,
              'InternalError',
              `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`,
            ),
          ),
        );
      }
    });
  };
}
