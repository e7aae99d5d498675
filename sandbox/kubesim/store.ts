/**
 * The in-memory object store: one global resourceVersion counter (like etcd's revision),
 * uid / generation / creationTimestamp bookkeeping, a bounded history of change events that
 * watches resume from (older versions answer 410 Expired), and synchronous change listeners
 * the controllers and the watch hub subscribe to.
 *
 * Objects handed out are the stored instances: callers must clone before changing them.
 */
import { randomUUID } from 'node:crypto';
import { isoTime } from './clock.js';
import { RESOURCE_TYPES, storeKeyOf, type ResourceType } from './resources.js';
import type { KObject } from './types.js';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: ChangeType;
  rt: ResourceType;
  object: KObject;
  /** The previous version for MODIFIED/DELETED. */
  old?: KObject;
  rv: number;
}

export interface StoreOptions {
  /** How many change events are kept for watches to resume from. */
  historySize?: number;
  now?: () => number;
}

function objectKey(ns: string | undefined, name: string): string {
  return `${ns ?? ''}/${name}`;
}

function sameContent(a: KObject, b: KObject): boolean {
  const strip = (o: KObject): string =>
    JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });
  return strip(a) === strip(b);
}

export class Store {
  private rv = 1;
  private readonly tables = new Map<string, Map<string, KObject>>();
  private readonly history: StoreEvent[] = [];
  /** Highest resourceVersion no longer in `history`: watches from below it get 410. */
  private compactedRv = 0;
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  private readonly historySize: number;
  private readonly now: () => number;

  constructor(opts: StoreOptions = {}) {
    this.historySize = opts.historySize ?? 20_000;
    this.now = opts.now ?? Date.now;
  }

  currentRv(): number {
    return this.rv;
  }

  oldestResumableRv(): number {
    return this.compactedRv;
  }

  private table(rt: ResourceType): Map<string, KObject> {
    const k = storeKeyOf(rt);
    let t = this.tables.get(k);
    if (!t) {
      t = new Map();
      this.tables.set(k, t);
    }
    return t;
  }

  get(rt: ResourceType, ns: string | undefined, name: string): KObject | undefined {
    return this.table(rt).get(objectKey(rt.namespaced ? ns : undefined, name));
  }

  /** All objects of a type, optionally in one namespace, sorted by namespace/name like etcd keys. */
  list(rt: ResourceType, ns?: string): KObject[] {
    const out: KObject[] = [];
    for (const o of this.table(rt).values()) if (ns === undefined || o.metadata.namespace === ns) out.push(o);
    return out.sort((a, b) =>
      objectKey(a.metadata.namespace, a.metadata.name ?? '').localeCompare(
        objectKey(b.metadata.namespace, b.metadata.name ?? ''),
      ),
    );
  }

  /** Stamps uid, resourceVersion, generation and creationTimestamp, and stores the object. */
  create(rt: ResourceType, obj: KObject, opts: { dryRun?: boolean } = {}): KObject {
    const stored: KObject = structuredClone(obj);
    const md = stored.metadata;
    md.uid = randomUUID();
    md.creationTimestamp = isoTime(this.now());
    if (stored.spec !== undefined) md.generation = 1;
    if (opts.dryRun) return stored;
    md.resourceVersion = String(++this.rv);
    this.table(rt).set(objectKey(rt.namespaced ? md.namespace : undefined, md.name!), stored);
    this.emit({ type: 'ADDED', rt, object: stored, rv: this.rv });
    return stored;
  }

  /**
   * Replaces an existing object. Bumps generation when spec changed; a write that changes
   * nothing keeps the old resourceVersion and emits no event (as the API server does).
   */
  update(rt: ResourceType, obj: KObject, opts: { dryRun?: boolean } = {}): KObject {
    const key = objectKey(rt.namespaced ? obj.metadata.namespace : undefined, obj.metadata.name!);
    const prev = this.table(rt).get(key);
    if (!prev) throw new Error(`kubesim store: update of missing ${storeKeyOf(rt)} ${key}`);
    const next: KObject = structuredClone(obj);
    next.metadata.uid = prev.metadata.uid;
    next.metadata.creationTimestamp = prev.metadata.creationTimestamp;
    next.metadata.generation = prev.metadata.generation;
    if (next.spec !== undefined && JSON.stringify(next.spec) !== JSON.stringify(prev.spec)) {
      next.metadata.generation = (prev.metadata.generation ?? 0) + 1;
    }
    next.metadata.resourceVersion = prev.metadata.resourceVersion;
    if (sameContent(prev, next)) return prev;
    if (opts.dryRun) return next;
    next.metadata.resourceVersion = String(++this.rv);
    this.table(rt).set(key, next);
    this.emit({ type: 'MODIFIED', rt, object: next, old: prev, rv: this.rv });
    return next;
  }

  /** Writes an object verbatim (admin API): only resourceVersion is assigned. */
  put(rt: ResourceType, obj: KObject): KObject {
    const key = objectKey(rt.namespaced ? obj.metadata.namespace : undefined, obj.metadata.name!);
    const prev = this.table(rt).get(key);
    const next: KObject = structuredClone(obj);
    next.metadata.uid ??= prev?.metadata.uid ?? randomUUID();
    next.metadata.creationTimestamp ??= prev?.metadata.creationTimestamp ?? isoTime(this.now());
    next.metadata.resourceVersion = String(++this.rv);
    this.table(rt).set(key, next);
    this.emit({
      type: prev ? 'MODIFIED' : 'ADDED',
      rt,
      object: next,
      ...(prev ? { old: prev } : {}),
      rv: this.rv,
    });
    return next;
  }

  remove(
    rt: ResourceType,
    ns: string | undefined,
    name: string,
    opts: { dryRun?: boolean } = {},
  ): KObject | undefined {
    const key = objectKey(rt.namespaced ? ns : undefined, name);
    const prev = this.table(rt).get(key);
    if (!prev) return undefined;
    if (opts.dryRun) return prev;
    this.table(rt).delete(key);
    // the DELETED event carries the object at a new resourceVersion, like the real server
    const gone: KObject = { ...prev, metadata: { ...prev.metadata, resourceVersion: String(++this.rv) } };
    this.emit({ type: 'DELETED', rt, object: gone, old: prev, rv: this.rv });
    return gone;
  }

  namespacedTypes(): ResourceType[] {
    return RESOURCE_TYPES.filter((r) => r.namespaced);
  }

  /** Objects of any type with an ownerReference to `uid`. */
  dependentsOf(uid: string): { rt: ResourceType; object: KObject }[] {
    const out: { rt: ResourceType; object: KObject }[] = [];
    for (const t of this.tables.values()) {
      for (const o of t.values()) {
        if (o.metadata.ownerReferences?.some((r) => r.uid === uid))
          out.push({ rt: this.rtOf(o)!, object: o });
      }
    }
    return out;
  }

  private readonly rtByObject = new WeakMap<KObject, ResourceType>();
  private rtOf(o: KObject): ResourceType | undefined {
    return this.rtByObject.get(o);
  }

  /** Events with rv > `fromRv` for one store key, or 'expired' when history no longer reaches back. */
  eventsSince(fromRv: number, rt: ResourceType): StoreEvent[] | 'expired' {
    if (fromRv < this.compactedRv) return 'expired';
    const key = storeKeyOf(rt);
    const out: StoreEvent[] = [];
    // history is sorted by rv; binary-search the start
    let lo = 0;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.history[mid]!.rv <= fromRv) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.history.length; i++) {
      const e = this.history[i]!;
      if (storeKeyOf(e.rt) === key) out.push(e);
    }
    return out;
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(e: StoreEvent): void {
    this.rtByObject.set(e.object, e.rt);
    this.history.push(e);
    if (this.history.length > this.historySize) {
      const dropped = this.history.splice(0, this.history.length - this.historySize);
      this.compactedRv = dropped[dropped.length - 1]!.rv;
    }
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        // a listener bug must not corrupt the store's write path
        console.error('kubesim: store listener failed', err);
      }
    }
  }
}
