// What reconcile functions ask for, as data, and the one place that carries it out.
import type { Logger } from 'pino';
import { isKubeError } from '../core/errors.ts';
import type { KubeObject } from '../core/types.ts';
import type { ApiClient, DeleteOpts, PatchType } from '../client/types.ts';
import { eventFor } from '../client/events.ts';

export type Action =
  | { op: 'create'; gr: string; object: KubeObject }
  | { op: 'update'; gr: string; object: KubeObject; subresource?: 'status' }
  | {
      op: 'patch';
      gr: string;
      namespace: string;
      name: string;
      patch: unknown;
      patchType: PatchType;
      subresource?: 'status';
    }
  | { op: 'delete'; gr: string; namespace: string; name: string; options?: DeleteOpts }
  /** PUT /api/v1/namespaces/<name>/finalize with this namespace object. */
  | { op: 'finalize'; object: KubeObject }
  /** A core/v1 Event about `regarding`. */
  | { op: 'event'; regarding: KubeObject; type: 'Normal' | 'Warning'; reason: string; message: string };

export interface ActionResult {
  action: Action;
  error?: unknown;
  object?: KubeObject;
}

async function applyOne(client: ApiClient, a: Action, component: string): Promise<KubeObject | undefined> {
  switch (a.op) {
    case 'create':
      return client.create(a.gr, a.object);
    case 'update':
      return client.update(a.gr, a.object, a.subresource);
    case 'patch':
      return client.patch(a.gr, a.namespace, a.name, a.patch, a.patchType, { subresource: a.subresource });
    case 'delete':
      try {
        return await client.delete(a.gr, a.namespace, a.name, a.options);
      } catch (err) {
        if (isKubeError(err, 'NotFound')) return undefined; // already gone: what we wanted
        throw err;
      }
    case 'finalize':
      // ApiClient.update types only status|scale; the HTTP client builds the path from any subresource name.
      return client.update('namespaces', a.object, 'finalize');
    case 'event':
      return client.create('events', eventFor(a.regarding, a, { component }, Date.now()));
  }
}

/**
 * Carries out actions in order. Every action is attempted; failures are logged
 * and returned. Events never fail the batch.
 */
export async function applyActions(
  client: ApiClient,
  actions: readonly Action[],
  opts: { logger?: Logger; component: string },
): Promise<ActionResult[]> {
  const results: ActionResult[] = [];
  for (const action of actions) {
    try {
      const object = await applyOne(client, action, opts.component);
      results.push({ action, object });
      if (action.op !== 'event') opts.logger?.debug({ op: action.op, gr: 'gr' in action ? action.gr : 'namespaces' }, 'applied');
    } catch (err) {
      if (action.op === 'event') {
        opts.logger?.debug({ err }, 'could not record event');
        results.push({ action });
        continue;
      }
      results.push({ action, error: err });
    }
  }
  return results;
}

/** Throws the first error of a batch (so the work queue retries the key). */
export function throwFirstError(results: readonly ActionResult[]): void {
  const failed = results.find((r) => r.error !== undefined);
  if (failed) throw failed.error;
}

/**
 * The results without creates refused because the object exists: the cache had
 * not yet seen what an earlier sync created (or another made it), not an error.
 */
export function exceptAlreadyCreated(results: readonly ActionResult[]): ActionResult[] {
  return results.filter((r) => !(r.action.op === 'create' && isKubeError(r.error, 'AlreadyExists')));
}
