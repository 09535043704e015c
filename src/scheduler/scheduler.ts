// The imperative shell: informers on nodes and pods keep the snapshot
// current; pending pods go through a work queue one decision at a time; the
// chosen node is assumed at once and the binding written in the background;
// pods that fit nowhere get PodScheduled=False and a FailedScheduling event
// and wait for the cluster to change (with per-pod backoff).

import type { Logger } from 'pino';
import { isKubeError } from '../core/errors.ts';
import type { KubeObject } from '../core/types.ts';
import type { ApiClient } from '../client/types.ts';
import { objectKey, splitKey, type Informer } from '../client/informer.ts';
import { SharedInformers, type InformerFactory } from '../client/informer-factory.ts';
import { WorkQueue, backoffDelay } from '../client/work-queue.ts';
import { runLeaderElection } from '../client/leader-election.ts';
import { recordEvent } from '../client/events.ts';
import { kubeTime } from '../core/time.ts';
import { mergeCondition } from '../controllers/objects.ts';
import type { Node, Pod, PodCondition } from './api-types.ts';
import { podInfoOf, type PodInfo } from './pod-info.ts';
import { Snapshot } from './snapshot.ts';
import { schedule, unschedulableMessage } from './schedule.ts';
import { KUBE_SYSTEM } from '../core/well-known.ts';

export const DEFAULT_SCHEDULER_NAME = 'default-scheduler';
export const LEASE_NAMESPACE = KUBE_SYSTEM;
export const LEASE_NAME = 'meshlet-scheduler';

/** kube-scheduler's podInitialBackoffSeconds / podMaxBackoffSeconds. */
const INITIAL_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 10_000;
/** Unschedulable pods are retried at least this often even if nothing seems to change. */
const UNSCHEDULABLE_FLUSH_MS = 60_000;
const MAX_BINDS_IN_FLIGHT = 32;

export interface SchedulerOptions {
  client: ApiClient;
  logger: Logger;
  identity?: string;
  schedulerName?: string;
  /** The process's informer factory (shared with the controllers); without one the scheduler lists and watches on its own. */
  informers?: InformerFactory;
}

/** Pods this scheduler must place: ours, unbound, not being deleted, not finished. */
export function needsScheduling(pod: Pod, schedulerName: string): boolean {
  const phase = pod.status?.phase;
  return (
    (pod.spec?.schedulerName ?? DEFAULT_SCHEDULER_NAME) === schedulerName &&
    !pod.spec?.nodeName &&
    !pod.metadata.deletionTimestamp &&
    phase !== 'Succeeded' &&
    phase !== 'Failed'
  );
}

export function bindingFor(pod: Pod, nodeName: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Binding',
    metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace, uid: pod.metadata.uid },
    target: { apiVersion: 'v1', kind: 'Node', name: nodeName },
  };
}

/** The PodScheduled=False condition for the pod, or undefined when it already carries exactly this. */
export function unschedulableCondition(pod: Pod, message: string, now: string): PodCondition | undefined {
  const next: PodCondition = { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null };
  const old = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (old && old.status === next.status && old.reason === next.reason && old.message === next.message) return undefined;
  const merged = mergeCondition(pod.status?.conditions, next, now);
  return merged.find((c) => c.type === 'PodScheduled') as PodCondition;
}

/** One running scheduler (as leader). */
export class Scheduler {
  readonly snapshot = new Snapshot();
  private readonly informers: SharedInformers;
  private readonly nodes: Informer;
  private readonly pods: Informer;
  private readonly queue: WorkQueue;
  private readonly log: Logger;
  private readonly schedulerName: string;
  /** Pods that fit nowhere at their last attempt, waiting for the cluster to change. */
  private readonly unschedulable = new Set<string>();
  /** Failed attempts per pod since it last fitted, for the retry backoff. */
  private readonly attempts = new Map<string, number>();
  /** The last FailedScheduling message written per pod, to avoid repeating it. */
  private readonly lastMessage = new Map<string, string>();
  private readonly binds = new Set<Promise<void>>();
  private flushTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: SchedulerOptions) {
    this.schedulerName = opts.schedulerName ?? DEFAULT_SCHEDULER_NAME;
    this.log = opts.logger.child({ component: 'scheduler', scheduler: this.schedulerName, identity: opts.identity });
    this.informers = opts.informers ? opts.informers.scope() : new SharedInformers(opts.client, this.log);
    this.nodes = this.informers.informer('nodes');
    this.pods = this.informers.informer('pods');
    this.queue = new WorkQueue({
      baseDelayMs: INITIAL_BACKOFF_MS,
      maxDelayMs: MAX_BACKOFF_MS,
      onError: (key, err, failures) => this.log.warn({ pod: key, err, failures }, 'scheduling attempt failed; retrying'),
    });
  }

  async start(): Promise<void> {
    this.nodes.addHandlers({
      onAdd: (n) => this.onNode(n as Node),
      onUpdate: (_, n) => this.onNode(n as Node),
      onDelete: (n) => {
        this.snapshot.removeNode(n.metadata.name ?? '');
      },
    });
    this.pods.addHandlers({
      onAdd: (p) => this.onPod(p as Pod),
      onUpdate: (_, p) => this.onPod(p as Pod),
      onDelete: (p) => this.onPodDeleted(p as Pod),
    });
    this.informers.start();
    await this.informers.synced();
    if (this.stopped) return;
    this.queue.start((key) => this.scheduleOne(key));
    this.flushTimer = setInterval(() => this.retryUnschedulable(), UNSCHEDULABLE_FLUSH_MS);
    this.flushTimer.unref();
    this.log.info({ nodes: this.snapshot.nodes.length, pods: this.snapshot.podCount }, 'scheduler started');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    await this.queue.shutDown();
    await Promise.allSettled([...this.binds]);
    await this.informers.stop();
  }

  private onNode(node: Node): void {
    const before = this.snapshot.node(node.metadata.name ?? '');
    this.snapshot.setNode(node);
    const after = this.snapshot.node(node.metadata.name ?? '')!;
    // Heartbeats change nothing we filter on; only real changes wake waiting pods.
    if (!before || JSON.stringify(placementFacts(before)) !== JSON.stringify(placementFacts(after))) this.retryUnschedulable();
  }

  private onPod(pod: Pod): void {
    const key = objectKey(pod);
    const wasCounted = this.snapshot.placed(key);
    this.snapshot.setPod(pod);
    if (needsScheduling(pod, this.schedulerName)) {
      if (!this.unschedulable.has(key)) this.queue.add(key);
      return;
    }
    this.forgetPod(key);
    // A pod that stopped holding resources frees room for others.
    if (wasCounted && !this.snapshot.placed(key)) this.retryUnschedulable();
  }

  private onPodDeleted(pod: Pod): void {
    const key = objectKey(pod);
    const wasCounted = this.snapshot.placed(key);
    this.snapshot.removePod(key);
    this.forgetPod(key);
    if (wasCounted) this.retryUnschedulable();
  }

  private forgetPod(key: string): void {
    this.unschedulable.delete(key);
    this.attempts.delete(key);
    this.lastMessage.delete(key);
  }

  /** The cluster changed: give every waiting pod another try after its backoff. */
  private retryUnschedulable(): void {
    for (const key of this.unschedulable) {
      this.unschedulable.delete(key);
      this.queue.addAfter(key, backoffDelay(this.attempts.get(key) ?? 1, INITIAL_BACKOFF_MS, MAX_BACKOFF_MS));
    }
  }

  private async scheduleOne(key: string): Promise<void> {
    const pod = this.pods.get(key) as Pod | undefined;
    if (!pod || !needsScheduling(pod, this.schedulerName)) return;
    if (this.snapshot.placed(key)?.assumed) return; // a binding is in flight
    let info: PodInfo;
    try {
      info = podInfoOf(pod);
    } catch (err) {
      await this.markUnschedulable(pod, `pod requests cannot be read: ${(err as Error).message}`);
      return;
    }
    const result = schedule(info, this.snapshot);
    if (result.node === undefined) {
      await this.markUnschedulable(pod, unschedulableMessage(this.snapshot.nodes.length, result.reasons));
      return;
    }
    this.snapshot.assume(info, result.node);
    this.forgetPod(key);
    while (this.binds.size >= MAX_BINDS_IN_FLIGHT) await Promise.race(this.binds);
    const bind = this.bind(pod, info, result.node).finally(() => this.binds.delete(bind));
    this.binds.add(bind);
  }

  private async bind(pod: Pod, info: PodInfo, nodeName: string): Promise<void> {
    const { client } = this.opts;
    const key = info.key;
    try {
      await client.create('pods', bindingFor(pod, nodeName), 'binding');
    } catch (err) {
      this.snapshot.forget(key);
      if (isKubeError(err, 'NotFound')) return; // the pod is gone
      this.log.warn({ pod: key, node: nodeName, err }, 'binding failed; retrying');
      if (!this.stopped) this.queue.addRateLimited(key);
      return;
    }
    this.log.debug({ pod: key, node: nodeName }, 'bound');
    const { namespace, name } = splitKey(key);
    await this.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${namespace}/${name} to ${nodeName}`);
  }

  private async markUnschedulable(pod: Pod, message: string): Promise<void> {
    const key = objectKey(pod);
    const failures = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, failures);
    this.unschedulable.add(key);
    this.log.info({ pod: key, message, failures }, 'pod is unschedulable');
    const condition = unschedulableCondition(pod, message, kubeTime(Date.now()));
    if (condition) {
      try {
        await this.opts.client.patch(
          'pods',
          pod.metadata.namespace ?? '',
          pod.metadata.name ?? '',
          { status: { conditions: [condition] } },
          'strategic',
          { subresource: 'status' },
        );
      } catch (err) {
        if (isKubeError(err, 'NotFound')) return;
        throw err; // retried by the queue
      }
    }
    if (this.lastMessage.get(key) !== message) {
      this.lastMessage.set(key, message);
      await this.event(pod, 'Warning', 'FailedScheduling', message);
    }
  }

  private async event(pod: Pod, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    await recordEvent(this.opts.client, pod, { type, reason, message }, { component: this.schedulerName }, { logger: this.log });
  }
}

/** What of a node can make a pod fit or not (not its heartbeats). */
function placementFacts(n: NonNullable<ReturnType<Snapshot['node']>>): unknown {
  return [n.labels, n.taints, n.unschedulable, n.ready, n.allocatable];
}

/** Runs a scheduler until signal aborts (no leader election: the caller leads). */
export async function runScheduler(opts: SchedulerOptions & { signal?: AbortSignal }): Promise<void> {
  const scheduler = new Scheduler(opts);
  await new Promise<void>((resolve) => {
    if (opts.signal?.aborted) return resolve();
    opts.signal?.addEventListener('abort', () => resolve(), { once: true });
    // start() waits for the informers to sync; stop() ends that wait too.
    scheduler.start().catch((err: unknown) => opts.logger.error({ err }, 'scheduler failed to start'));
  });
  await scheduler.stop();
}

/**
 * Starts a scheduler that competes for the Lease kube-system/meshlet-scheduler
 * and schedules only while it holds it.
 */
export function startScheduler(
  client: ApiClient,
  opts: {
    logger: Logger;
    identity: string;
    schedulerName?: string;
    leaseDurationMs?: number;
    renewDeadlineMs?: number;
    retryPeriodMs?: number;
    /** Shared with the controllers: its informers may run in every server; only the leader schedules. */
    informers?: InformerFactory;
  },
): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const stopElection = runLeaderElection({
    client,
    namespace: LEASE_NAMESPACE,
    name: LEASE_NAME,
    identity: opts.identity,
    logger: opts.logger,
    leaseDurationMs: opts.leaseDurationMs,
    renewDeadlineMs: opts.renewDeadlineMs,
    retryPeriodMs: opts.retryPeriodMs,
    onStartedLeading: (signal) => {
      running = runScheduler({ client, logger: opts.logger, identity: opts.identity, schedulerName: opts.schedulerName, informers: opts.informers, signal }).catch((err: unknown) =>
        opts.logger.error({ err }, 'scheduler failed'),
      );
    },
    onStoppedLeading: async () => {
      await running;
    },
  });
  return {
    async stop() {
      await stopElection();
      await running;
    },
  };
}
