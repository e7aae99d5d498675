/**
 * Restoring a Deployment to an exact pod template — the atomic deploy's undo, and what the
 * rollback action builds on. The write is a PUT guarded twice: the template must still be the one
 * this run applied (`expected`; otherwise someone changed it since, and we do not overwrite their
 * change), and the PUT carries the resourceVersion that check was made on (409 → read and check
 * again). Server-side defaulting is ignored in comparisons by comparing canonical JSON of what
 * the server returned on both sides.
 */
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import { KubeApiError, resourcePath, retryKube, type KubeClient } from './client.js';
import type { Deployment, PodTemplateSpec } from './types.js';

/** JSON with sorted keys: equal for objects that differ only in key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** Templates equal ignoring the controller's `pod-template-hash` label (as kubectl rollout undo does). */
export function sameTemplate(a: PodTemplateSpec | undefined, b: PodTemplateSpec | undefined): boolean {
  const strip = (t: PodTemplateSpec | undefined): unknown => {
    const c = structuredClone(t ?? {});
    if (c.metadata?.labels) {
      delete c.metadata.labels['pod-template-hash'];
      if (Object.keys(c.metadata.labels).length === 0) delete c.metadata.labels;
    }
    if (c.metadata && Object.keys(c.metadata).length === 0) delete c.metadata;
    return c;
  };
  return canonicalJson(strip(a)) === canonicalJson(strip(b));
}

export interface RestoreRequest {
  name: string;
  /** The exact template to put back. */
  template: PodTemplateSpec;
  /** Annotation values to put back (undefined = remove), e.g. kubernetes.io/change-cause. */
  annotations?: Record<string, string | undefined>;
  /** Only restore if the live template is still this one (the one this run applied). */
  expected?: PodTemplateSpec;
}

export type RestoreStatus = 'restored' | 'unchanged' | 'conflict';

export interface RestoreOutcome {
  name: string;
  status: RestoreStatus;
  message: string;
  /** The Deployment after the restore (restored/unchanged). */
  deployment?: Deployment;
}

/** Puts one Deployment's template back; see the module comment for the guards. */
export async function restoreDeployment(
  client: KubeClient,
  namespace: string,
  req: RestoreRequest,
  options: { logger?: Logger; signal?: AbortSignal } = {},
): Promise<RestoreOutcome> {
  const path = resourcePath('deployments', namespace, req.name);
  return retryKube(
    async () => {
      const live = await client.request<Deployment>({ path });
      if (sameTemplate(live.spec?.template, req.template)) {
        return {
          name: req.name,
          status: 'unchanged',
          message: 'already at the previous template',
          deployment: live,
        };
      }
      if (req.expected && !sameTemplate(live.spec?.template, req.expected)) {
        return {
          name: req.name,
          status: 'conflict',
          message: `changed by someone else since this run patched it (resourceVersion ${live.metadata.resourceVersion ?? '?'}); not overwritten`,
          deployment: live,
        };
      }
      const annotations = { ...(live.metadata.annotations ?? {}) };
      for (const [k, v] of Object.entries(req.annotations ?? {})) {
        if (v === undefined) delete annotations[k];
        else annotations[k] = v;
      }
      const body: Deployment = {
        ...live,
        metadata: { ...live.metadata, annotations },
        spec: { ...live.spec, template: structuredClone(req.template) },
      };
      delete (body as { status?: unknown }).status;
      const updated = await client.request<Deployment>({ method: 'PUT', path, body });
      return {
        name: req.name,
        status: 'restored',
        message: 'previous template restored',
        deployment: updated,
      };
    },
    {
      what: `restore deployment ${namespace}/${req.name}`,
      maxAttempts: 10,
      initialDelayMs: 100,
      retryable: (e) => {
        if (e instanceof KubeApiError && e.conflict) {
          options.logger?.debug(`restore ${req.name}: conflict (${errorMessage(e)}); re-reading`);
          return true;
        }
        return e instanceof KubeApiError
          ? e.status === 429 || e.status >= 500
          : (e as { netCode?: string } | null)?.netCode !== undefined;
      },
      ...(options.signal ? { signal: options.signal } : {}),
    },
  );
}
