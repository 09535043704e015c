import type { Status, StatusCause } from './types.ts';

/** The reasons meshlet answers with; each maps to one HTTP code. */
export const REASON_CODES = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  AlreadyExists: 409,
  Conflict: 409,
  Gone: 410,
  Expired: 410,
  RequestEntityTooLarge: 413,
  UnsupportedMediaType: 415,
  Invalid: 422,
  TooManyRequests: 429,
  InternalError: 500,
  ServiceUnavailable: 503,
  Timeout: 504,
} as const;

export type Reason = keyof typeof REASON_CODES;

export interface ErrorDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
  /** How long a client should wait before retrying (also sent as the Retry-After header). */
  retryAfterSeconds?: number;
}

/** An error that becomes a Kubernetes Status object on the wire. */
export class KubeError extends Error {
  readonly reason: Reason;
  readonly code: number;
  readonly details?: ErrorDetails;

  constructor(reason: Reason, message: string, details?: ErrorDetails) {
    super(message);
    this.name = 'KubeError';
    this.reason = reason;
    this.code = REASON_CODES[reason];
    this.details = details;
  }

  toStatus(): Status {
    const status: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) status.details = this.details;
    return status;
  }
}

export function notFound(kind: string, group: string, name: string): KubeError {
  const what = group ? `${kind}.${group}` : kind;
  return new KubeError('NotFound', `${what} "${name}" not found`, { name, group, kind });
}

export function alreadyExists(kind: string, group: string, name: string): KubeError {
  const what = group ? `${kind}.${group}` : kind;
  return new KubeError('AlreadyExists', `${what} "${name}" already exists`, { name, group, kind });
}

export function conflict(kind: string, group: string, name: string, why: string): KubeError {
  const what = group ? `${kind}.${group}` : kind;
  return new KubeError(
    'Conflict',
    `Operation cannot be fulfilled on ${what} "${name}": ${why}`,
    { name, group, kind },
  );
}

export function invalid(kind: string, group: string, name: string, causes: StatusCause[]): KubeError {
  const what = group ? `${kind}.${group}` : kind;
  const summary = causes.map((c) => `${c.field ?? ''}: ${c.message ?? c.reason ?? 'invalid'}`).join(', ');
  return new KubeError('Invalid', `${what} "${name}" is invalid: ${summary}`, { name, group, kind, causes });
}

export function isKubeError(err: unknown, reason?: Reason): err is KubeError {
  return err instanceof KubeError && (reason === undefined || err.reason === reason);
}
