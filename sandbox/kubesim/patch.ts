/**
 * The three PATCH dialects of the Kubernetes API, as pure functions over JSON values:
 * JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch — the one
 * kubectl sends for `set image`, `rollout restart`, `rollout pause/resume` and client-side
 * apply. Strategic merge needs each list's patch strategy; real servers read it from Go struct
 * tags, here a small table covers the core/apps/batch shapes (see `listMergeKey`).
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export class PatchError extends Error {
  constructor(
    message: string,
    /** 422 for a failed `test` op or invalid path, 400 for malformed patches. */
    readonly code: 400 | 422 = 422,
  ) {
    super(message);
  }
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

// ---------------------------------------------------------------- JSON merge patch (RFC 7386)

export function applyMergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

// ---------------------------------------------------------------- JSON patch (RFC 6902)

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: Json;
}

function parsePointer(ptr: string): string[] {
  if (ptr === '') return [];
  if (!ptr.startsWith('/')) throw new PatchError(`invalid JSON pointer ${JSON.stringify(ptr)}`, 400);
  return ptr
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function getAt(doc: Json, tokens: string[]): Json | undefined {
  let cur: Json | undefined = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = Object.prototype.hasOwnProperty.call(cur, t) ? cur[t] : undefined;
    else return undefined;
  }
  return cur;
}

function parentOf(doc: Json, tokens: string[], path: string): { parent: Json; key: string } {
  const parent = getAt(doc, tokens.slice(0, -1));
  if (parent === undefined || typeof parent !== 'object' || parent === null) {
    throw new PatchError(`doc is missing path: "${path}": missing value`);
  }
  return { parent, key: tokens[tokens.length - 1]! };
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** JSON with object keys sorted, so equality ignores key order. */
export function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical(v[k]);
    return out;
  }
  return v;
}

export function applyJsonPatch(doc: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw new PatchError('json patch must be an array of operations', 400);
  let out = clone(doc);
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw new PatchError('invalid json patch operation', 400);
    }
    const op = raw as unknown as JsonPatchOp;
    const tokens = parsePointer(op.path);
    switch (op.op) {
      case 'add':
        out = addAt(out, tokens, clone(op.value as Json), op.path);
        break;
      case 'remove':
        out = removeAt(out, tokens, op.path).doc;
        break;
      case 'replace': {
        if (tokens.length === 0) {
          out = clone(op.value as Json);
          break;
        }
        if (getAt(out, tokens) === undefined)
          throw new PatchError(
            `replace operation does not apply: doc is missing key: ${op.path}: missing value`,
          );
        const { parent, key } = parentOf(out, tokens, op.path);
        if (Array.isArray(parent)) parent[Number(key)] = clone(op.value as Json);
        else (parent as JsonObject)[key] = clone(op.value as Json);
        break;
      }
      case 'move': {
        const from = parsePointer(op.from ?? '');
        const r = removeAt(out, from, op.from ?? '');
        out = addAt(r.doc, tokens, r.value, op.path);
        break;
      }
      case 'copy': {
        const v = getAt(out, parsePointer(op.from ?? ''));
        if (v === undefined) throw new PatchError(`copy from ${op.from}: missing value`);
        out = addAt(out, tokens, clone(v), op.path);
        break;
      }
      case 'test':
        if (!deepEqual(getAt(out, tokens), op.value))
          throw new PatchError(`testing value ${op.path} failed: test failed`);
        break;
      default:
        throw new PatchError(`Unexpected kind: ${String((op as { op: unknown }).op)}`, 400);
    }
  }
  return out;
}

function addAt(doc: Json, tokens: string[], value: Json, path: string): Json {
  if (tokens.length === 0) return value;
  const { parent, key } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) {
    const idx = key === '-' ? parent.length : Number(key);
    if (!Number.isInteger(idx) || idx < 0 || idx > parent.length)
      throw new PatchError(`add operation index out of range: ${path}`);
    parent.splice(idx, 0, value);
  } else (parent as JsonObject)[key] = value;
  return doc;
}

function removeAt(doc: Json, tokens: string[], path: string): { doc: Json; value: Json } {
  const { parent, key } = parentOf(doc, tokens, path);
  const value = getAt(doc, tokens);
  if (value === undefined)
    throw new PatchError(`remove operation does not apply: doc is missing path: "${path}": missing value`);
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else delete (parent as JsonObject)[key];
  return { doc, value };
}

// ---------------------------------------------------------------- strategic merge patch

/**
 * The merge key of the list at `path` (field names from the object root, list indices
 * omitted), or undefined when the list is atomic and a patch replaces it whole. Mirrors the
 * `patchStrategy:"merge" patchMergeKey:"…"` tags of k8s.io/api.
 */
export function listMergeKey(path: readonly string[]): string | undefined {
  const field = path[path.length - 1];
  const parent = path[path.length - 2];
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'volumes':
    case 'imagePullSecrets':
    case 'env':
    case 'resourceClaims':
    case 'schedulingGates':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'volumeDevices':
      return 'devicePath';
    case 'ports':
      // containers[].ports merge by containerPort; a Service's spec.ports by port
      return parent === 'spec' ? 'port' : 'containerPort';
    case 'conditions':
      return 'type';
    case 'ownerReferences':
      return 'uid';
    case 'hostAliases':
      return 'ip';
    case 'topologySpreadConstraints':
      return 'topologyKey';
    default:
      return undefined;
  }
}

/** Primitive lists whose patch strategy is "merge" (set union) rather than replace. */
function isMergedPrimitiveList(path: readonly string[]): boolean {
  return path[path.length - 1] === 'finalizers';
}

const DIRECTIVE = '$patch';

export function applyStrategicMergePatch(original: Json | undefined, patch: Json): Json {
  return smpValue(original, patch, []);
}

function smpValue(original: Json | undefined, patch: Json, path: string[]): Json {
  if (isObject(patch)) return smpObject(isObject(original) ? original : undefined, patch, path);
  return clone(patch);
}

function smpObject(original: JsonObject | undefined, patch: JsonObject, path: string[]): JsonObject {
  const directive = patch[DIRECTIVE];
  if (directive === 'replace') {
    const out = clone(patch);
    delete out[DIRECTIVE];
    return out;
  }
  if (directive === 'delete') return {};
  const out: JsonObject = original ? clone(original) : {};
  const retain = patch['$retainKeys'];
  const orders = new Map<string, Json[]>();
  const deletions = new Map<string, Json[]>();
  for (const [k, v] of Object.entries(patch)) {
    if (k === DIRECTIVE || k === '$retainKeys') continue;
    if (k.startsWith('$setElementOrder/')) {
      if (Array.isArray(v)) orders.set(k.slice('$setElementOrder/'.length), v);
      continue;
    }
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      if (Array.isArray(v)) deletions.set(k.slice('$deleteFromPrimitiveList/'.length), v);
      continue;
    }
    const childPath = [...path, k];
    if (v === null) {
      delete out[k];
    } else if (Array.isArray(v)) {
      out[k] = smpList(Array.isArray(out[k]) ? (out[k] as Json[]) : undefined, v, childPath);
    } else if (isObject(v)) {
      if (v[DIRECTIVE] === 'delete') delete out[k];
      else out[k] = smpObject(isObject(out[k]) ? (out[k] as JsonObject) : undefined, v, childPath);
    } else {
      out[k] = v;
    }
  }
  for (const [k, del] of deletions) {
    const cur = out[k];
    if (Array.isArray(cur)) out[k] = cur.filter((x) => !del.some((d) => deepEqual(d, x)));
  }
  for (const [k, order] of orders) {
    const cur = out[k];
    if (Array.isArray(cur)) out[k] = applyElementOrder(cur, order, listMergeKey([...path, k]));
  }
  if (Array.isArray(retain)) {
    for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  }
  return out;
}

function smpList(original: Json[] | undefined, patch: Json[], path: string[]): Json[] {
  const key = listMergeKey(path);
  if (!key) {
    if (isMergedPrimitiveList(path)) {
      const out = original ? clone(original) : [];
      for (const v of patch) if (!out.some((x) => deepEqual(x, v))) out.push(clone(v));
      return out;
    }
    // atomic list; `$patch: replace` items are just stripped of the directive
    return patch
      .filter((p) => !(isObject(p) && p[DIRECTIVE] !== undefined && Object.keys(p).length === 1))
      .map((p) => clone(p));
  }
  if (patch.some((p) => isObject(p) && p[DIRECTIVE] === 'replace')) {
    return patch.filter((p) => !(isObject(p) && p[DIRECTIVE] === 'replace')).map((p) => clone(p));
  }
  const out: Json[] = original ? clone(original) : [];
  for (const item of patch) {
    if (!isObject(item)) {
      out.push(clone(item));
      continue;
    }
    const id = item[key];
    const idx = out.findIndex((x) => isObject(x) && deepEqual(x[key], id));
    if (item[DIRECTIVE] === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = smpObject(out[idx] as JsonObject, item, path);
    else out.push(smpObject(undefined, item, path));
  }
  return out;
}

/**
 * `$setElementOrder/<list>` gives the final relative order of the listed merge keys; items the
 * server has that the order does not name keep their place after them (as the apimachinery
 * implementation does for server-only items).
 */
function applyElementOrder(list: Json[], order: Json[], key: string | undefined): Json[] {
  const idOf = (x: Json): string => JSON.stringify(key && isObject(x) ? x[key] : x);
  const rank = new Map<string, number>();
  order.forEach((o, i) => rank.set(JSON.stringify(key && isObject(o) ? o[key] : o), i));
  const named = list.filter((x) => rank.has(idOf(x))).sort((a, b) => rank.get(idOf(a))! - rank.get(idOf(b))!);
  const rest = list.filter((x) => !rank.has(idOf(x)));
  return [...named, ...rest];
}
