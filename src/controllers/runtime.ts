// The imperative shell every controller shares: informer events → keys → a
// work queue whose worker syncs one key at a time.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ApiClient } from '../client/types.ts';
import { objectKey, type Informer } from '../client/informer.ts';
import type { SharedInformers } from '../client/informer-factory.ts';
import { WorkQueue } from '../client/work-queue.ts';
import type { KubeObject } from '../core/types.ts';

export interface ControllerDeps {
  client: ApiClient;
  /** This leadership term's handles on the process's informers (released when the term ends). */
  informers: SharedInformers;
  logger: Logger;
  /** Where controllers register their Prometheus metrics (the server's /metrics), if anywhere. */
  registry?: Registry;
}

export interface Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  /** Starts the workers (after the informers synced). */
  start(): void;
  stop(): Promise<void>;
}

export function newController(
  name: string,
  deps: ControllerDeps,
  sync: (key: string) => Promise<void>,
  opts: { workers?: number; onStart?: () => void; onStop?: () => void } = {},
): Controller {
  const log = deps.logger.child({ controller: name });
  const queue = new WorkQueue({
    onError: (key, err, failures) => log.warn({ key, err: String(err), failures }, 'sync failed; retrying'),
  });
  return {
    name,
    queue,
    start() {
      queue.start(sync, opts.workers ?? 2);
      opts.onStart?.();
    },
    async stop() {
      opts.onStop?.();
      await queue.shutDown();
    },
  };
}

/** Enqueue an object's own key on every add/update/delete. */
export function enqueueSelf(informer: Informer, queue: WorkQueue): void {
  informer.addHandlers({
    onAdd: (o) => queue.add(objectKey(o)),
    onUpdate: (_old, o) => queue.add(objectKey(o)),
    onDelete: (o) => queue.add(objectKey(o)),
  });
}

/** Enqueue keys derived from an object (e.g. its owner) on every change. */
export function enqueueMapped(informer: Informer, queue: WorkQueue, keys: (obj: KubeObject) => string[]): void {
  const push = (o: KubeObject): void => {
    for (const k of keys(o)) queue.add(k);
  };
  informer.addHandlers({
    onAdd: push,
    onUpdate: (old, o) => {
      push(old);
      push(o);
    },
    onDelete: push,
  });
}
