/**
 * Cascading deletion by ownerReferences. The real garbage collector is asynchronous; kubesim
 * deletes dependents in the same tick (Background and Foreground alike), which is what a
 * client can observe once a `kubectl delete` has returned. Orphan strips the owner reference.
 */
import { R, type ResourceType } from './resources.js';
import type { Store } from './store.js';
import type { KObject } from './types.js';

export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

export function deleteWithDependents(
  store: Store,
  rt: ResourceType,
  ns: string | undefined,
  name: string,
  policy: PropagationPolicy,
  opts: { dryRun?: boolean } = {},
): KObject | undefined {
  const obj = store.get(rt, ns, name);
  if (!obj) return undefined;
  if (opts.dryRun) return obj;
  const uid = obj.metadata.uid!;
  const gone = store.remove(rt, ns, name);
  for (const dep of store.dependentsOf(uid)) {
    if (policy === 'Orphan') {
      const refs = (dep.object.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
      store.update(dep.rt, {
        ...dep.object,
        metadata: { ...dep.object.metadata, ownerReferences: refs.length ? refs : undefined },
      });
    } else {
      deleteWithDependents(
        store,
        dep.rt,
        dep.object.metadata.namespace,
        dep.object.metadata.name!,
        'Background',
      );
    }
  }
  if (rt === R.namespaces) {
    // namespace deletion removes everything in it
    for (const t of store.namespacedTypes()) {
      for (const o of store.list(t, name))
        deleteWithDependents(store, t, name, o.metadata.name!, 'Background');
    }
  }
  return gone;
}
