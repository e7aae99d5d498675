/**
 * Kubernetes `Status` error bodies, worded like the real API server's so kubectl prints the
 * familiar `Error from server (NotFound): deployments.apps "x" not found`.
 */
import { qualifiedResource, type ResourceType } from './resources.js';
import type { StatusBody } from './types.js';

export class ApiError extends Error {
  constructor(
    readonly status: StatusBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(status.message);
  }
}

export function statusBody(
  code: number,
  reason: string,
  message: string,
  details?: StatusBody['details'],
): StatusBody {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

type Rt = Pick<ResourceType, 'group' | 'plural'>;

export function notFound(rt: Rt, name: string): ApiError {
  return new ApiError(
    statusBody(404, 'NotFound', `${qualifiedResource(rt)} "${name}" not found`, {
      name,
      group: rt.group || undefined,
      kind: rt.plural,
    }),
  );
}

export function alreadyExists(rt: Rt, name: string): ApiError {
  return new ApiError(
    statusBody(409, 'AlreadyExists', `${qualifiedResource(rt)} "${name}" already exists`, {
      name,
      group: rt.group || undefined,
      kind: rt.plural,
    }),
  );
}

export function conflict(rt: Rt, name: string): ApiError {
  return new ApiError(
    statusBody(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualifiedResource(rt)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      {
        name,
        group: rt.group || undefined,
        kind: rt.plural,
      },
    ),
  );
}

export function invalid(
  kind: string,
  group: string,
  name: string,
  causes: { field: string; message: string; reason?: string }[],
): ApiError {
  const gk = group ? `${kind}.${group}` : kind;
  const msg = `${gk} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`;
  return new ApiError(
    statusBody(422, 'Invalid', msg, {
      name,
      group: group || undefined,
      kind,
      causes: causes.map((c) => ({
        reason: c.reason ?? 'FieldValueInvalid',
        message: c.message,
        field: c.field,
      })),
    }),
  );
}

export function badRequest(message: string): ApiError {
  return new ApiError(statusBody(400, 'BadRequest', message));
}

export function methodNotAllowed(): ApiError {
  return new ApiError(
    statusBody(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
  );
}

export function notFoundPath(): ApiError {
  return new ApiError(statusBody(404, 'NotFound', 'the server could not find the requested resource', {}));
}

export function gone(message: string): ApiError {
  return new ApiError(statusBody(410, 'Expired', message));
}
