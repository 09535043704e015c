// limit/continue paging. A paged list is one consistent snapshot: the first page
// takes the (filtered) snapshot, later pages are served from memory under an
// opaque token. Tokens live ttlMs and at most maxSnapshots are kept (oldest
// dropped first); an unknown, expired or mismatched token is 410 Expired.
import { randomBytes } from 'node:crypto';
import { KubeError } from '../core/errors.ts';
import type { KubeObject } from '../core/types.ts';

export interface Page {
  items: KubeObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

interface Snapshot {
  /** Which list this is (kind, namespace, selectors); a token only continues the same list. */
  query: string;
  items: KubeObject[];
  offset: number;
  resourceVersion: string;
  expiresAt: number;
}

export interface PagerOptions {
  ttlMs?: number;
  maxSnapshots?: number;
  now?: () => number;
}

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

export class ListPager {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly ttlMs: number;
  private readonly maxSnapshots: number;
  private readonly now: () => number;

  constructor(opts: PagerOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.maxSnapshots = opts.maxSnapshots ?? 64;
    this.now = opts.now ?? Date.now;
  }

  /** The first page of a full (already filtered) snapshot. */
  first(query: string, items: KubeObject[], resourceVersion: string, limit: number | undefined): Page {
    if (limit === undefined || items.length <= limit) return { items, resourceVersion };
    return this.pageFrom({ query, items, offset: 0, resourceVersion, expiresAt: this.now() + this.ttlMs }, limit);
  }

  /** A later page; throws 410 Expired for unknown/expired tokens. */
  next(query: string, token: string, limit: number | undefined): Page {
    this.sweep();
    const snap = this.snapshots.get(token);
    if (!snap || snap.query !== query) throw expiredContinue();
    this.snapshots.delete(token);
    return this.pageFrom(snap, limit ?? snap.items.length);
  }

  get size(): number {
    return this.snapshots.size;
  }

  private pageFrom(snap: Snapshot, limit: number): Page {
    const end = snap.offset + limit;
    const items = snap.items.slice(snap.offset, end);
    if (end >= snap.items.length) return { items, resourceVersion: snap.resourceVersion };
    const token = randomBytes(18).toString('base64url');
    this.sweep();
    while (this.snapshots.size >= this.maxSnapshots) {
      const oldest = this.snapshots.keys().next().value;
      if (oldest === undefined) break;
      this.snapshots.delete(oldest);
    }
    this.snapshots.set(token, { ...snap, offset: end, expiresAt: this.now() + this.ttlMs });
    return { items, resourceVersion: snap.resourceVersion, continue: token, remainingItemCount: snap.items.length - end };
  }

  private sweep(): void {
    const t = this.now();
    for (const [token, snap] of this.snapshots) if (snap.expiresAt <= t) this.snapshots.delete(token);
  }
}
