// What the workload benchmarks share: a private control plane (redis + API
// server, the controller manager, optionally the scheduler) in this process,
// simulated Node objects, and the bench playing every kubelet: a pod bound to
// a node turns Running and Ready as soon as a watch shows it, and a pod being
// deleted gracefully is confirmed at once (grace 0), as a kubelet does once
// its containers stopped. No container runs: the figures are the control
// plane's (controllers, scheduler, API server, store, watches).
import { pino } from 'pino';
import { startTestApiServer, type TestApiServer } from '../test/helpers/api-server.ts';
import { createClient } from '../src/client/http-client.ts';
import { startControllers } from '../src/controllers/index.ts';
import { Scheduler } from '../src/scheduler/scheduler.ts';
import { makeNode } from '../src/scheduler/fixtures.ts';
import { isKubeError } from '../src/core/errors.ts';
import type { ApiClient, ClientWatch } from '../src/client/types.ts';
import type { KubeObject, WatchEvent } from '../src/core/types.ts';
import { forEachConcurrently } from './stats.ts';

export interface ControlPlane {
  api: TestApiServer;
  client: ApiClient;
  stop(): Promise<void>;
}

export async function startControlPlane(opts: { scheduler?: boolean } = {}): Promise<ControlPlane> {
  const api = await startTestApiServer();
  const client = createClient({ server: api.url, token: api.token });
  const logger = pino({ level: 'silent' });
  const manager = await startControllers(client, { logger, identity: 'mlt-w4wl-bench', retryPeriodMs: 200 });
  const scheduler = opts.scheduler ? new Scheduler({ client, logger, identity: 'mlt-w4wl-bench' }) : undefined;
  await scheduler?.start();
  return {
    api,
    client,
    async stop() {
      await scheduler?.stop();
      await manager.stop();
      client.close();
      await api.stop();
    },
  };
}

/** Creates these Nodes at once (`concurrency` requests in flight), each with a Ready status. */
export async function createNodes(client: ApiClient, names: readonly string[], labels: Record<string, string> = {}, concurrency = names.length): Promise<void> {
  await forEachConcurrently(names.length, concurrency, async (i) => {
    const node = makeNode(names[i], { labels, cpu: '8', memory: '32Gi', pods: 110 });
    const status = node.status;
    delete node.status;
    const created = await client.create('nodes', node as KubeObject);
    await client.update('nodes', { ...created, status: status as Record<string, unknown> }, 'status');
  });
}

const ignoreNotFound = (err: unknown): void => {
  if (!isKubeError(err, 'NotFound') && !isKubeError(err, 'Conflict')) throw err;
};

/** Plays the kubelet of every node: see the header. */
export class KubeletPlayer {
  private watch?: ClientWatch;
  private readonly started = new Set<string>();
  private readonly confirmed = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private ipSeq = 0;
  errors = 0;

  constructor(private readonly client: ApiClient) {}

  async start(): Promise<void> {
    const { resourceVersion } = await this.client.list('pods', { limit: 1 });
    this.watch = await this.client.watch('pods', { resourceVersion }, (ev) => this.onEvent(ev));
  }

  private onEvent(ev: WatchEvent): void {
    if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED') return;
    const pod = ev.object;
    const uid = pod.metadata.uid ?? '';
    const nodeName = (pod.spec as { nodeName?: string } | undefined)?.nodeName;
    if (!nodeName) return;
    if (pod.metadata.deletionTimestamp) {
      if (this.confirmed.has(uid)) return;
      this.confirmed.add(uid);
      this.track(this.client.delete('pods', pod.metadata.namespace ?? '', pod.metadata.name ?? '', { gracePeriodSeconds: 0, preconditions: { uid } }).then(() => undefined, ignoreNotFound));
      return;
    }
    if (this.started.has(uid)) return;
    this.started.add(uid);
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const n = ++this.ipSeq;
    const cond = (type: string) => ({ type, status: 'True', lastTransitionTime: now });
    const status = {
      phase: 'Running',
      podIP: `10.200.${(n >> 8) & 255}.${n & 255}`,
      startTime: now,
      conditions: [cond('PodScheduled'), cond('Initialized'), cond('ContainersReady'), cond('Ready')],
    };
    this.track(this.client.patch('pods', pod.metadata.namespace ?? '', pod.metadata.name ?? '', { status }, 'merge', { subresource: 'status' }).then(() => undefined, ignoreNotFound));
  }

  private track(p: Promise<void>): void {
    const q = p.catch(() => void this.errors++).finally(() => this.pending.delete(q));
    this.pending.add(q);
  }

  async stop(): Promise<void> {
    this.watch?.close();
    await Promise.all([...this.pending]);
  }
}

/** Seconds since `start` (a process.hrtime.bigint() value). */
export const secondsSince = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;
