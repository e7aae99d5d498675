/**
 * v1 Events as the kubelet and controllers record them: deduplicated by (object, type,
 * reason, message) with a growing `count`, bounded in number so a crashlooping pod cannot
 * grow memory without limit.
 */
import { randomBytes } from 'node:crypto';
import { isoTime } from './clock.js';
import { R } from './resources.js';
import type { Store } from './store.js';
import type { KObject } from './types.js';

export interface EventRecorder {
  record(
    obj: KObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    component: string,
    fieldPath?: string,
  ): void;
}

export function createEventRecorder(
  store: Store,
  now: () => number,
  opts: { max?: number } = {},
): EventRecorder {
  const max = opts.max ?? 3000;
  const byKey = new Map<string, { ns: string; name: string }>();
  const order: string[] = [];
  return {
    record(obj, type, reason, message, component, fieldPath) {
      const ns = obj.metadata.namespace ?? 'default';
      const key = `${obj.metadata.uid}|${type}|${reason}|${message}|${fieldPath ?? ''}`;
      const ts = isoTime(now());
      const existing = byKey.get(key);
      if (existing) {
        const ev = store.get(R.events, existing.ns, existing.name);
        if (ev) {
          store.update(R.events, {
            ...ev,
            count: ((ev.count as number | undefined) ?? 1) + 1,
            lastTimestamp: ts,
          });
          return;
        }
      }
      const name = `${obj.metadata.name}.${randomBytes(8).toString('hex')}`;
      store.create(R.events, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: ns },
        involvedObject: {
          kind: obj.kind,
          namespace: obj.metadata.namespace,
          name: obj.metadata.name,
          uid: obj.metadata.uid,
          apiVersion: obj.apiVersion,
          resourceVersion: obj.metadata.resourceVersion,
          ...(fieldPath ? { fieldPath } : {}),
        },
        reason,
        message,
        source: {
          component,
          ...(component === 'kubelet'
            ? { host: (obj.spec as { nodeName?: string } | undefined)?.nodeName }
            : {}),
        },
        firstTimestamp: ts,
        lastTimestamp: ts,
        count: 1,
        type,
        eventTime: null,
        reportingComponent: component,
        reportingInstance: '',
      });
      byKey.set(key, { ns, name });
      order.push(key);
      while (order.length > max) {
        const old = order.shift()!;
        const ref = byKey.get(old);
        byKey.delete(old);
        if (ref) store.remove(R.events, ref.ns, ref.name);
      }
    },
  };
}
