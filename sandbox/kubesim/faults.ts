/**
 * Fault injection: rules matched against each API request (verb, resource, namespace, name)
 * that add latency, fail it with a chosen status (500/503/429 …), answer 409 Conflict storms to
 * writes, or drop watches after N events. Every injected fault is logged.
 */
import { randomBytes } from 'node:crypto';
import type { KubesimLogger } from './logger.js';
import { statusBody } from './status-errors.js';
import type { StatusBody } from './types.js';

interface FaultMatch {
  /** API verbs (get, list, watch, create, update, patch, delete); all when omitted. */
  verbs?: string[];
  /** Resource plural, optionally with subresource (`deployments`, `deployments/scale`); all when omitted. */
  resource?: string;
  namespace?: string;
  name?: string;
  /** Probability per matching request, 0..1 (default 1). */
  rate?: number;
  /** Stop after this many injections (default unlimited). */
  count?: number;
}

export type FaultSpec =
  | (FaultMatch & {
      type: 'error';
      code: number;
      reason?: string;
      message?: string;
      retryAfterSeconds?: number;
    })
  | (FaultMatch & { type: 'conflict' })
  | (FaultMatch & { type: 'latency'; ms: number })
  | (FaultMatch & { type: 'drop-watch'; afterEvents: number });

export type Fault = FaultSpec & { id: string; hits: number };

export interface RequestAttrs {
  verb: string;
  resource: string; // plural or plural/sub
  namespace?: string;
  name?: string;
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  410: 'Expired',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export class FaultInjector {
  private faults: Fault[] = [];

  constructor(private readonly logger: KubesimLogger) {}

  add(spec: FaultSpec): string {
    const id = randomBytes(4).toString('hex');
    this.faults.push({ ...spec, id, hits: 0 });
    this.logger.log('warn', 'faults', `fault ${id} armed: ${JSON.stringify(spec)}`);
    return id;
  }

  remove(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    if (this.faults.length !== before) this.logger.log('warn', 'faults', `fault ${id} removed`);
    return this.faults.length !== before;
  }

  clear(): void {
    if (this.faults.length) this.logger.log('warn', 'faults', `all ${this.faults.length} faults cleared`);
    this.faults = [];
  }

  list(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  private matches(f: Fault, a: RequestAttrs): boolean {
    if (f.count !== undefined && f.hits >= f.count) return false;
    if (f.verbs && !f.verbs.includes(a.verb)) return false;
    if (
      f.resource &&
      f.resource !== '*' &&
      f.resource !== a.resource &&
      f.resource !== a.resource.split('/')[0]
    )
      return false;
    if (f.namespace && f.namespace !== a.namespace) return false;
    if (f.name && f.name !== a.name) return false;
    if (f.rate !== undefined && Math.random() >= f.rate) return false;
    return true;
  }

  private hit(f: Fault, a: RequestAttrs, what: string): void {
    f.hits++;
    this.logger.log(
      'warn',
      'faults',
      `fault ${f.id} (${f.type}) injected on ${a.verb} ${a.resource}${a.namespace ? ` ns=${a.namespace}` : ''}${a.name ? ` name=${a.name}` : ''}: ${what}`,
    );
  }

  /** Latency to add and the error to answer with (if any) for one request. */
  forRequest(
    a: RequestAttrs,
    qualified: string,
  ): { latencyMs: number; error?: { status: StatusBody; headers: Record<string, string> } } {
    let latencyMs = 0;
    let error: { status: StatusBody; headers: Record<string, string> } | undefined;
    for (const f of this.faults) {
      if (f.type === 'latency') {
        if (this.matches(f, a)) {
          this.hit(f, a, `+${f.ms}ms`);
          latencyMs += f.ms;
        }
      } else if (!error && f.type === 'error' && this.matches(f, a)) {
        const reason = f.reason ?? REASONS[f.code] ?? 'InternalError';
        const message =
          f.message ??
          (f.code === 429
            ? 'Too many requests, please try again later.'
            : f.code === 503
              ? 'the server is currently unable to handle the request'
              : `Internal error occurred: injected fault ${f.id}`);
        const headers: Record<string, string> =
          f.retryAfterSeconds !== undefined ? { 'Retry-After': String(f.retryAfterSeconds) } : {};
        error = {
          status: statusBody(
            f.code,
            reason,
            message,
            f.retryAfterSeconds !== undefined ? { retryAfterSeconds: f.retryAfterSeconds } : undefined,
          ),
          headers,
        };
        this.hit(f, a, `${f.code} ${reason}`);
      } else if (
        !error &&
        f.type === 'conflict' &&
        (f.verbs ?? ['update', 'patch']).includes(a.verb) &&
        this.matches(f, a)
      ) {
        const name = a.name ?? '';
        error = {
          status: statusBody(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${qualified} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
            { name, kind: a.resource },
          ),
          headers: {},
        };
        this.hit(f, a, '409 Conflict');
      }
    }
    return { latencyMs, error };
  }

  /** For a new watch: drop it after this many events (undefined: never). */
  watchDropAfter(a: RequestAttrs): number | undefined {
    for (const f of this.faults) {
      if (f.type === 'drop-watch' && this.matches({ ...f, verbs: undefined }, a)) {
        this.hit(f, a, `watch will be dropped after ${f.afterEvents} events`);
        return f.afterEvents;
      }
    }
    return undefined;
  }
}
