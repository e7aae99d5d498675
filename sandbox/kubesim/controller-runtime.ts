/**
 * What the controllers share: the store, the scaled clock, the event recorder, and a tiny
 * deduplicating work queue (keys processed on the next macrotask, so a burst of pod updates
 * reconciles its ReplicaSet once). Controllers can be paused by the fault injector: a paused
 * controller keeps queueing keys and processes them all on resume.
 */
import type { SimClock } from './clock.js';
import type { EventRecorder } from './events.js';
import type { KubesimLogger } from './logger.js';
import type { Store } from './store.js';
import type { KObject } from './types.js';

export type ControllerName = 'deployment' | 'replicaset' | 'job' | 'kubelet' | 'garbage-collector';

export interface ClusterContext {
  store: Store;
  clock: SimClock;
  events: EventRecorder;
  logger: KubesimLogger;
  isPaused(c: ControllerName): boolean;
}

export class WorkQueue {
  private readonly pending = new Set<string>();
  private scheduled = false;
  private paused = false;

  constructor(
    private readonly name: string,
    private readonly process: (key: string) => void,
    private readonly logger: KubesimLogger,
  ) {}

  add(key: string): void {
    this.pending.add(key);
    this.schedule();
  }

  setPaused(p: boolean): void {
    this.paused = p;
    if (!p) this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.paused) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    if (this.paused) return;
    const keys = [...this.pending];
    this.pending.clear();
    for (const k of keys) {
      try {
        this.process(k);
      } catch (err) {
        this.logger.log(
          'warn',
          this.name,
          `reconcile ${k} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
      }
    }
  }
}

export function nsName(o: KObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

export function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

export function controllerRef(o: KObject): { uid: string; kind: string; name: string } | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller);
}
