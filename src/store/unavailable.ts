// When the store's Redis cannot serve, requests fail at once with 503
// ServiceUnavailable and a Retry-After, instead of waiting in a client queue.
// Which Redis failures mean "not now, try again" is decided here, from the error alone.
import { KubeError } from '../core/errors.ts';

/** What clients are told to wait before retrying, in seconds. */
export const STORE_RETRY_AFTER_SECONDS = 1;

/**
 * Reply prefixes with which a live Redis says it cannot serve this now: still loading its
 * AOF, persistence failing (it then refuses writes), a replica after failover, a script
 * running too long, a master lost.
 */
const UNAVAILABLE_REPLIES = ['LOADING', 'MISCONF', 'READONLY', 'BUSY', 'MASTERDOWN', 'TRYAGAIN', 'CLUSTERDOWN', 'NOREPLICAS'];

/**
 * True for errors that mean Redis is unreachable or cannot serve now. Server replies
 * (ioredis's ReplyError, named "ReplyError") count only with one of the prefixes above;
 * every other error the client raises is about the connection (closed, not writable,
 * retries exhausted, timed out, refused). Pure.
 */
export function isStoreUnavailable(err: unknown): boolean {
  if (!(err instanceof Error) || err instanceof KubeError) return false;
  if (err.name === 'ReplyError') return UNAVAILABLE_REPLIES.some((p) => err.message.startsWith(p));
  return true;
}

export function storeUnavailable(why: string): KubeError {
  return new KubeError('ServiceUnavailable', `the store is unavailable: ${why}`, { retryAfterSeconds: STORE_RETRY_AFTER_SECONDS });
}

/** The error a store call rethrows: unavailability as 503, anything else unchanged. */
export function storeError(err: unknown): unknown {
  return isStoreUnavailable(err) ? storeUnavailable((err as Error).message) : err;
}
