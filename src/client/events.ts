// Recording a core/v1 Event about an object: the one shape every component
// (controllers, scheduler, kubelet) writes, and the one way to write it, which
// never fails the caller (an event that cannot be written is logged and dropped).
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { DEFAULT_NAMESPACE } from '../core/well-known.ts';
import { kubeTime } from '../core/time.ts';
import type { KubeObject } from '../core/types.ts';
import type { ApiClient } from './types.ts';

export interface EventNote {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Who reports: the component, and for node components the node (source.host, reportingInstance). */
export interface EventSource {
  component: string;
  host?: string;
}

/** Pure but for the random name suffix: the Event about `regarding`, in its namespace (cluster-scoped: default). */
export function eventFor(regarding: KubeObject, note: EventNote, source: EventSource, now: Date | number): KubeObject {
  const m = regarding.metadata;
  const ts = kubeTime(now);
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${m.name ?? 'object'}.${randomBytes(8).toString('hex')}`, namespace: m.namespace || DEFAULT_NAMESPACE },
    involvedObject: {
      apiVersion: regarding.apiVersion,
      kind: regarding.kind,
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
    },
    reason: note.reason,
    message: note.message,
    type: note.type,
    source: { component: source.component, ...(source.host ? { host: source.host } : {}) },
    reportingComponent: source.component,
    reportingInstance: source.host ?? source.component,
    firstTimestamp: ts,
    lastTimestamp: ts,
    count: 1,
  };
}

/** Writes the Event; true when written. Failures are logged at debug and swallowed. */
export async function recordEvent(
  client: ApiClient,
  regarding: KubeObject,
  note: EventNote,
  source: EventSource,
  opts: { logger?: Logger; now?: Date | number } = {},
): Promise<boolean> {
  try {
    await client.create('events', eventFor(regarding, note, source, opts.now ?? Date.now()));
    return true;
  } catch (err) {
    opts.logger?.debug({ err, reason: note.reason, regarding: `${regarding.metadata.namespace ?? ''}/${regarding.metadata.name ?? ''}` }, 'could not record event');
    return false;
  }
}
