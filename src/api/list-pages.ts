// limit/continue paging, with tokens any API server sharing the store can serve.
// As kube-apiserver does, a continue token carries what the next page needs: the
// resourceVersion of the first page and the key ("namespace/name") of the last
// item sent. The next page is the state at that version (the store rebuilds it
// from its event history, Store.listAt) after that key, so the pages together are
// one consistent list. A token whose version has left the history is 410 Expired;
// a token that does not decode is 400. Pure.
import { KubeError } from '../core/errors.ts';
import type { KubeObject } from '../core/types.ts';
import { objectKey } from '../store/history.ts';

export interface Page {
  items: KubeObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

/** What a continue token holds. */
export interface ContinueToken {
  /** The resourceVersion of the first page: every page is the list at that version. */
  resourceVersion: string;
  /** The key of the last item already sent; the next page starts after it. */
  start: string;
}

/** The token's version tag, so a future format can be told apart. */
const TOKEN_VERSION = 'meshlet.io/v1';

export function expiredContinue(): KubeError {
  return new KubeError(
    'Expired',
    'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
  );
}

export function parseLimit(text: string | null): number | undefined {
  if (text === null || text === '') return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new KubeError('BadRequest', `limit: invalid value "${text}": must be a non-negative integer`);
  return n === 0 ? undefined : n;
}

export function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: TOKEN_VERSION, rv: token.resourceVersion, start: token.start }), 'utf8').toString('base64url');
}

export function decodeContinue(text: string): ContinueToken {
  const invalid = (why: string): KubeError => new KubeError('BadRequest', `invalid continue token: ${why}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid('not base64url-encoded JSON');
  }
  const t = parsed as { v?: unknown; rv?: unknown; start?: unknown } | null;
  if (typeof t !== 'object' || t === null || t.v !== TOKEN_VERSION) throw invalid(`not a ${TOKEN_VERSION} token`);
  if (typeof t.rv !== 'string' || !/^\d+$/.test(t.rv)) throw invalid('no resourceVersion');
  if (typeof t.start !== 'string' || t.start === '') throw invalid('no start key');
  return { resourceVersion: t.rv, start: t.start };
}

/**
 * One page of items (already filtered and sorted by key) at resourceVersion: the
 * first limit of them, and a token for the rest when there is more.
 */
export function pageOf(items: readonly KubeObject[], resourceVersion: string, limit: number | undefined): Page {
  if (limit === undefined || items.length <= limit) return { items: [...items], resourceVersion };
  const page = items.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page,
    resourceVersion,
    continue: encodeContinue({ resourceVersion, start: objectKey(last) }),
    remainingItemCount: items.length - limit,
  };
}
