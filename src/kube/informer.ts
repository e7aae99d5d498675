/**
 * A list-then-watch cache of one resource collection, the way client-go's reflector keeps one:
 * list, watch from the list's resourceVersion, resume from the last seen resourceVersion when the
 * stream ends or drops, relist on 410 Gone, back off on transient errors. `onChange` sees the
 * whole current set after every change, so the deploy's decisions stay pure functions of it.
 */
import { systemClock, type Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import { KubeApiError, isRetryableKubeError, retryKube, type KubeClient, type WatchEvent } from './client.js';
import type { KList, KObject, StatusBody } from './types.js';

export interface InformerOptions<T extends KObject> {
  client: KubeClient;
  /** Collection path, e.g. resourcePath('pods', ns). */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  signal: AbortSignal;
  onChange: (items: ReadonlyMap<string, T>) => void;
  clock?: Clock;
  logger?: Logger;
  /** Server-side watch timeout; the watch is reopened after it. */
  watchTimeoutSeconds?: number;
}

export interface InformerStats {
  lists: number;
  watches: number;
  events: number;
}

/** Runs until the signal aborts (then rejects with its reason) or a permanent error occurs. */
export async function runInformer<T extends KObject>(opts: InformerOptions<T>): Promise<never> {
  const clock = opts.clock ?? systemClock;
  const items = new Map<string, T>();
  const stats: InformerStats = { lists: 0, watches: 0, events: 0 };
  const selectors = {
    ...(opts.labelSelector ? { labelSelector: opts.labelSelector } : {}),
    ...(opts.fieldSelector ? { fieldSelector: opts.fieldSelector } : {}),
  };
  let resourceVersion: string | undefined;
  let failures = 0;
  for (;;) {
    if (opts.signal.aborted) throw opts.signal.reason;
    if (resourceVersion === undefined) {
      const list = await retryKube(
        () => opts.client.request<KList<T>>({ path: opts.path, query: selectors, signal: opts.signal }),
        { what: `list ${opts.path}`, signal: opts.signal, clock, maxAttempts: 8 },
      );
      stats.lists++;
      items.clear();
      for (const item of list.items ?? []) items.set(item.metadata.name ?? '', item);
      resourceVersion = list.metadata?.resourceVersion ?? '0';
      opts.onChange(items);
    }
    let gone = false;
    let sawEvent = false;
    try {
      stats.watches++;
      await opts.client.watch<T | StatusBody>(
        {
          path: opts.path,
          query: {
            ...selectors,
            resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: opts.watchTimeoutSeconds ?? 60,
          },
          signal: opts.signal,
        },
        (event: WatchEvent<T | StatusBody>) => {
          stats.events++;
          sawEvent = true;
          if (event.type === 'ERROR') {
            const status = event.object as StatusBody;
            if (status.code === 410 || status.reason === 'Expired' || status.reason === 'Gone') gone = true;
            else opts.logger?.debug(`watch ${opts.path}: error event ${status.message ?? ''}`);
            return;
          }
          const obj = event.object as T;
          const rv = obj.metadata?.resourceVersion;
          if (rv) resourceVersion = rv;
          if (event.type === 'BOOKMARK') return;
          const name = obj.metadata.name ?? '';
          if (event.type === 'DELETED') items.delete(name);
          else items.set(name, obj);
          opts.onChange(items);
        },
      );
      failures = sawEvent ? 0 : failures + 1;
    } catch (e) {
      if (opts.signal.aborted) throw opts.signal.reason;
      if (e instanceof KubeApiError && e.gone) gone = true;
      else if (isRetryableKubeError(e) || isStreamError(e)) {
        failures++;
        opts.logger?.debug(
          `watch ${opts.path} dropped (${errorMessage(e)}); resuming from ${resourceVersion}`,
        );
      } else throw e;
    }
    if (gone) {
      opts.logger?.debug(`watch ${opts.path}: resourceVersion ${resourceVersion} too old, relisting`);
      resourceVersion = undefined;
      continue;
    }
    if (failures > 0) await clock.sleep(Math.min(2_000, 50 * 2 ** Math.min(failures, 6)), opts.signal);
    // a watch that keeps dying without delivering anything cannot be trusted to catch up: the
    // list is the ground truth (client-go's reflector relists on repeated watch failures too)
    if (failures >= 3 && failures % 3 === 0) {
      opts.logger?.debug(`watch ${opts.path}: ${failures} failed watches in a row, relisting`);
      resourceVersion = undefined;
    }
  }
}

function isStreamError(e: unknown): boolean {
  return (
    e instanceof SyntaxError || (e instanceof Error && /aborted|socket hang up|premature/i.test(e.message))
  );
}
