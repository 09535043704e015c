// A watch over HTTP: newline-delimited JSON events, chunked, until the client
// goes away, timeoutSeconds passes or the server closes.
//
// Too old a resourceVersion: like kube-apiserver, the reply is HTTP 200 followed
// by one {"type":"ERROR","object":<Status 410 Expired>} event, then the stream
// ends. client-go (kubectl) and client-node both relist on that.
import type { ServerResponse } from 'node:http';
import { KubeError, isKubeError } from '../core/errors.ts';
import { apiVersionOf, type ResourceInfo } from '../core/resources.ts';
import type { KubeObject, Status, WatchEventType } from '../core/types.ts';
import type { Store, StoreEvent, StoreWatch } from '../store/types.ts';
import { matchesFilter, type Filter } from './registry.ts';
import { toStatus } from './http-io.ts';

export interface WatchRequest {
  info: ResourceInfo;
  gr: string;
  namespace?: string;
  filter: Filter;
  /** '' or '0': start with the current state (synthetic ADDED events). */
  resourceVersion: string;
  allowBookmarks: boolean;
  bookmarkIntervalMs: number;
  timeoutSeconds?: number;
  /** How each object goes on the wire (the object itself, or a one-row Table). */
  encode: (obj: KubeObject) => unknown;
}

export interface WatchEventOut {
  type: WatchEventType;
  object: KubeObject;
}

/**
 * Turns store events into what a selector-filtered watcher sees. Tracks which
 * keys the watcher currently holds, so an object that stops matching becomes
 * DELETED and one that starts matching becomes ADDED. Pure apart from its set.
 */
export class SelectionTracker {
  private readonly held = new Set<string>();
  constructor(private readonly filter: Filter) {}

  private static key(obj: KubeObject): string {
    return `${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;
  }

  /** Records an object the watcher was sent in the initial state. */
  hold(obj: KubeObject): void {
    this.held.add(SelectionTracker.key(obj));
  }

  next(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: KubeObject, knownHistory: boolean): WatchEventOut | undefined {
    const key = SelectionTracker.key(obj);
    const matches = matchesFilter(this.filter, obj);
    const wasHeld = this.held.has(key);
    if (type === 'DELETED') {
      this.held.delete(key);
      return matches || wasHeld ? { type, object: obj } : undefined;
    }
    if (matches) {
      this.held.add(key);
      if (type === 'MODIFIED' && !wasHeld && knownHistory) return { type: 'ADDED', object: obj };
      return { type, object: obj };
    }
    if (wasHeld) {
      this.held.delete(key);
      return { type: 'DELETED', object: obj };
    }
    return undefined;
  }
}

export interface ActiveWatch {
  /** Ends the stream (server shutdown). */
  close(): void;
  /** Settles when the stream has ended for any reason. */
  done: Promise<void>;
}

function parseStartVersion(rv: string): string {
  if (rv !== '' && !/^\d+$/.test(rv)) throw new KubeError('BadRequest', `invalid resourceVersion "${rv}"`);
  return rv;
}

/** The Status of an ERROR event; Gone becomes 410 Expired "too old resource version" as kube-apiserver says it. */
function errorStatus(err: unknown, rv: string): Status {
  return isKubeError(err, 'Gone') ? new KubeError('Expired', `too old resource version: ${rv}`).toStatus() : toStatus(err);
}

/** Starts streaming. Throws (before any header is written) for bad requests. */
export async function serveWatch(store: Store, req: WatchRequest, res: ServerResponse): Promise<ActiveWatch> {
  const startRv = parseStartVersion(req.resourceVersion === '0' ? '' : req.resourceVersion);
  const tracker = new SelectionTracker(req.filter);
  let ended = false;
  let storeWatch: StoreWatch | undefined;
  let timer: NodeJS.Timeout | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));

  const send = (type: WatchEventType, object: unknown): void => {
    if (ended) return;
    res.write(JSON.stringify({ type, object }) + '\n');
  };
  const end = (): void => {
    if (ended) return;
    ended = true;
    storeWatch?.close();
    if (timer) clearTimeout(timer);
    if (!res.writableEnded) res.end();
    resolveDone();
  };
  res.once('close', end);

  const bookmark = (rv: string): void => {
    if (!req.allowBookmarks) return;
    send('BOOKMARK', { kind: req.info.kind, apiVersion: apiVersionOf(req.info), metadata: { resourceVersion: rv } });
  };

  // Initial state (from a list snapshot) when no resourceVersion was given.
  let fromRv = startRv;
  let initial: KubeObject[] = [];
  if (fromRv === '') {
    const snapshot = await store.list(req.gr, req.namespace);
    fromRv = snapshot.resourceVersion;
    initial = snapshot.items.filter((o) => matchesFilter(req.filter, o));
  }
  const knownHistory = startRv === '';
  // An unreachable store is a plain 503 with Retry-After, before the 200 of the stream.
  if (!knownHistory) await store.currentResourceVersion();
  // The client went while the snapshot was read: no stream to start.
  if (ended) return { close: end, done };

  // Events may arrive while the stream is being set up; queue until headers are out.
  const pending: StoreEvent[] = [];
  let live = false;
  const onEvent = (event: StoreEvent): void => {
    if (!live) {
      pending.push(event);
      return;
    }
    deliver(event);
  };
  const deliver = (event: StoreEvent): void => {
    if (event.type === 'BOOKMARK') return bookmark(event.resourceVersion);
    if (event.type === 'ERROR') {
      // The store became unreachable: end the stream cleanly, as kube-apiserver ends its
      // watches, so the client watches again from its last version once the store is back.
      if (isKubeError(event.error, 'ServiceUnavailable')) return end();
      send('ERROR', errorStatus(event.error, fromRv));
      return end();
    }
    const out = tracker.next(event.type, event.object, knownHistory);
    if (out) send(out.type, req.encode(out.object));
  };

  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Transfer-Encoding': 'chunked',
  });
  // Clients that wait for headers before reading must not hang until the first event.
  res.flushHeaders();
  try {
    storeWatch = await store.watch(
      req.gr,
      { namespace: req.namespace, resourceVersion: fromRv, bookmarkIntervalMs: req.allowBookmarks ? req.bookmarkIntervalMs : 0 },
      onEvent,
    );
  } catch (err) {
    send('ERROR', errorStatus(err, fromRv));
    end();
    return { close: end, done };
  }
  // The client went (or the server closed) while the watch was being set up: nothing more to do.
  if (ended) {
    storeWatch.close();
    return { close: end, done };
  }
  for (const obj of initial) {
    tracker.hold(obj);
    send('ADDED', req.encode(obj));
  }
  live = true;
  for (const event of pending.splice(0)) deliver(event);
  if (!ended && req.timeoutSeconds !== undefined && req.timeoutSeconds > 0) timer = setTimeout(end, req.timeoutSeconds * 1000);
  return { close: end, done };
}
