// The pod loop: watches the pods bound to this node and makes the node match
// them — sandbox, IP, containers, restarts, status, graceful deletion — one
// pod at a time per pod (a keyed work queue), decisions from reconcile.ts.
//
// Restart safety: everything the loop needs is on disk under
// <dataDir>/pods/<uid>/ (pod.json, sandbox.json, per-container run files) and in
// /proc; containers run under their own supervisors. A new Kubelet adopts
// what it finds; pods that no longer exist are cleaned up, orphaned pod
// namespaces (ours: their host veth is in our node namespace) deleted, and IPs
// of pods that are gone handed back to the IPAM (reclaim).
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { deepEqual } from '../core/deep-equal.ts';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { ApiClient } from '../client/types.ts';
import { Informer, changedIn, type InformerHandlers } from '../client/informer.ts';
import type { InformerFactory } from '../client/informer-factory.ts';
import { WorkQueue } from '../client/work-queue.ts';
import { isKubeError } from '../core/errors.ts';
import type { KubeObject } from '../core/types.ts';
import { ContainerRuntime, ContainerConfigError, type ContainerObservation } from './containers.ts';
import type { NamespaceSupport } from './container-plan.ts';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts';
import { DEFAULT_NETNS_PREFIX, hashOfHostVeth, hashOfNetns, uidHash } from './names.ts';
import { listLinks } from './ip-exec.ts';
import { recordEvent } from '../client/events.ts';
import { BRIDGE_NAME, DEFAULT_CLUSTER_DOMAIN, DEFAULT_NAMESPACE, KUBERNETES_SERVICE } from '../core/well-known.ts';
import { readLogs, type LogOptions } from './logs.ts';
import { parseEnviron, type ContainerProcess } from './exec-plan.ts';
import {
  containersOf, ipamKey, kubeletPodView, podName,
  type ContainerStateWaiting, type KubeletPod,
} from './pod-spec.ts';
import { reconcilePod, type ObservedPod, type PodAction } from './reconcile.ts';
import { podDir, readSandboxRecord, SandboxManager, writeAtomic, type SandboxRecord } from './sandbox.ts';
import type { PodNetwork } from './sandbox-plan.ts';
import { podStatus } from './status.ts';
import { Prober, probeFailureMessage } from './prober.ts';
import { podServiceEnv, type EnvService } from './service-env.ts';
import type { Registry } from 'prom-client';
import type { PodCgroups } from './cgroups.ts';
import { UsageSampler } from './usage.ts';
import type { UsageSummary } from '../core/usage-summary.ts';

export interface KubeletIpam {
  allocate(podKey: string): Promise<PodNetwork>;
  release(podKey: string): Promise<void>;
  reclaim(live: Set<string>): Promise<void>;
}

export interface KubeletDeps {
  nodeName: string;
  nodeIp: string;
  dataDir: string;
  netnsPrefix?: string;
  bridge?: string;
  mtu: number;
  dnsIp: string;
  clusterDomain?: string;
  /** See SandboxConfig.nodeNetns: set when this process does not run in the node's namespace. */
  nodeNetns?: string;
  ipam: KubeletIpam;
  client: ApiClient;
  /**
   * The agent's informer factory: the kubelet's pods (spec.nodeName=<self>,
   * whole objects) come from it. Without one the kubelet watches on its own.
   */
  informers?: InformerFactory;
  logger: Logger;
  backoff?: BackoffOptions;
  /** How often every pod is looked at again (container exits, back-off ends). Default 1 s, as the kubelet's PLEG. */
  resyncMs?: number;
  /** Retry period while the IP pool is exhausted. Default 5 s. */
  sandboxRetryMs?: number;
  /** Parallel pod workers. Default 4. */
  workers?: number;
  namespaces?: NamespaceSupport;
  /** Pod cgroups (cgroups.ts): limits, OOM kills, usage. Without them pods run in the agent's cgroup and nothing is measured. */
  cgroups?: PodCgroups;
  /** The usage sampler's period (with cgroups). Default 10 s, as the kubelet's housekeeping. */
  usageIntervalMs?: number;
  /** Where the usage figures are published (with cgroups). */
  metrics?: Registry;
}

/** <dataDir>/pods/<uid>/pod.json: which pod a directory belongs to. */
interface PodRecord {
  uid: string;
  namespace: string;
  name: string;
}

const EVENT_REPEAT_MS = 60_000;

/** The Services a pod's environment may name: its namespace's (an index bucket, not every Service) and default/kubernetes. */
function podEnvServices(services: Informer, namespace: string): EnvService[] {
  const master = services.getByName(DEFAULT_NAMESPACE, KUBERNETES_SERVICE);
  return [...(services.list(namespace) as EnvService[]), ...(master ? [master as EnvService] : [])];
}

/** The kubelet's handlers on its pods' informer: a pod is queued when it comes, goes, or changes what the kubelet acts on (kubeletPodView). */
export function kubeletPodHandlers(enqueue: (key: string) => void): InformerHandlers {
  const queue = (obj: KubeObject): void => enqueue(podName(obj));
  return { relevant: changedIn(kubeletPodView), onAdd: queue, onUpdate: (_o, n) => queue(n), onDelete: queue };
}

export class Kubelet {
  readonly runtime: ContainerRuntime;
  readonly sandboxes: SandboxManager;
  readonly prober: Prober;
  /** The usage sampler (with cgroups only). */
  readonly usage: UsageSampler | undefined;
  private readonly informer: Informer;
  /** The shared Services cache (with an informer factory only). */
  private readonly services: Informer | undefined;
  private readonly queue: WorkQueue;
  private readonly log: Logger;
  private readonly prefix: string;
  /** Pods with state on disk, by uid. */
  private readonly onDisk = new Map<string, PodRecord>();
  /** Waiting reasons decided at the last sync, by pod uid. */
  private readonly waiting = new Map<string, Record<string, ContainerStateWaiting>>();
  private readonly recentEvents = new Map<string, number>();
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: KubeletDeps) {
    this.prefix = deps.netnsPrefix ?? DEFAULT_NETNS_PREFIX;
    this.log = deps.logger.child({ component: 'kubelet', node: deps.nodeName });
    // Service environment variables from the agent's shared Services cache (the proxy's and DNS's informer, no watch of its own).
    this.services = deps.informers?.informer('services');
    const services = this.services;
    this.runtime = new ContainerRuntime({
      dataDir: deps.dataDir, nodeName: deps.nodeName, hostIP: deps.nodeIp, namespaces: deps.namespaces,
      ...(deps.cgroups ? { cgroups: deps.cgroups } : {}),
      ...(services ? { serviceEnv: (pod: KubeletPod) => podServiceEnv(podEnvServices(services, pod.metadata.namespace ?? ''), pod.metadata.namespace ?? '', pod.spec?.enableServiceLinks) } : {}),
    });
    this.sandboxes = new SandboxManager(deps.dataDir, {
      netnsPrefix: this.prefix,
      bridge: deps.bridge ?? BRIDGE_NAME,
      mtu: deps.mtu,
      dnsIp: deps.dnsIp,
      clusterDomain: deps.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN,
      nodeNetns: deps.nodeNetns,
    });
    const ownPods = { fieldSelector: `spec.nodeName=${deps.nodeName}` };
    this.informer = deps.informers
      ? deps.informers.informer('pods', { ...ownPods, transform: 'none' })
      : new Informer({ client: deps.client, gr: 'pods', ...ownPods, logger: this.log });
    this.prober = new Prober({
      logger: this.log,
      nodeNetns: deps.nodeNetns,
      onChange: (key) => this.queue.add(key),
      onFailure: (key, _container, kind, output) => {
        const pod = this.informer.get(key) as KubeletPod | undefined;
        // Liveness and startup failures are few per run (up to the kill) and each is reported; readiness ones are deduplicated.
        if (pod) void this.event(pod, 'Warning', 'Unhealthy', probeFailureMessage(kind, output), kind !== 'readiness');
      },
    });
    this.usage = deps.cgroups
      ? new UsageSampler({
          cgroups: deps.cgroups, nodeName: deps.nodeName, intervalMs: deps.usageIntervalMs, registry: deps.metrics, logger: this.log,
          pods: () => [...this.onDisk.values()],
        })
      : undefined;
    this.queue = new WorkQueue({
      baseDelayMs: 1000,
      maxDelayMs: 60_000,
      onError: (key, err, failures) => this.log.warn({ pod: key, err, failures }, 'pod sync failed; retrying'),
    });
  }

  /** Adopts what is on disk, starts watching, cleans up what no longer exists, starts the workers. */
  async start(): Promise<void> {
    await mkdir(join(this.deps.dataDir, 'pods'), { recursive: true });
    for (const uid of this.runtime.podUids()) {
      const rec = readPodRecord(this.deps.dataDir, uid);
      if (rec) this.onDisk.set(uid, rec);
    }
    this.informer.addHandlers(kubeletPodHandlers((key) => this.queue.add(key)));
    this.informer.start();
    this.services?.start();
    // Containers start only once the Services are known, so their environment names every Service that exists (as upstream's serviceHasSynced).
    await Promise.all([this.informer.synced(), this.services?.synced()]);
    await this.cleanupOrphans();
    for (const rec of this.onDisk.values()) this.queue.add(`${rec.namespace}/${rec.name}`);
    this.queue.start((key) => this.sync(key), this.deps.workers ?? 4);
    this.prober.start();
    this.usage?.start();
    const resync = () => {
      for (const pod of this.informer.list()) this.queue.add(podName(pod));
      for (const rec of this.onDisk.values()) this.queue.add(`${rec.namespace}/${rec.name}`);
      this.resyncTimer = setTimeout(resync, this.deps.resyncMs ?? 1000);
      this.resyncTimer.unref();
    };
    this.resyncTimer = setTimeout(resync, this.deps.resyncMs ?? 1000);
    this.resyncTimer.unref();
    this.log.info({ adopted: this.onDisk.size }, 'kubelet started');
  }

  /** Stops watching and working. Containers keep running (a new Kubelet adopts them). */
  async stop(): Promise<void> {
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.usage?.stop();
    this.prober.stop();
    await this.queue.shutDown();
    await this.informer.stop();
    await this.services?.stop();
  }

  /** Waits until no pod work is queued (tests). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** The pods' and node's usage over the sampler's last window (the agent serves it at KUBELET_USAGE_PATH). */
  usageSummary(): UsageSummary {
    if (!this.usage) throw new Error(`node ${this.deps.nodeName} runs pods without cgroups: no usage figures`);
    return this.usage.summary();
  }

  /** A container's log stream (the agent serves it over HTTP). */
  readLogs(namespace: string, name: string, container: string | undefined, opts: LogOptions = {}): Readable {
    const pod = this.informer.get(`${namespace}/${name}`) as KubeletPod | undefined;
    const uid = pod?.metadata.uid;
    if (!pod || !uid) throw new Error(`pod ${namespace}/${name} is not on node ${this.deps.nodeName}`);
    const c = container ?? containersOf(pod)[0]?.name;
    if (!c) throw new Error(`pod ${namespace}/${name} has no containers`);
    return readLogs(this.runtime, uid, c, opts);
  }

  /**
   * The running process of a container, to exec into or attach to (the agent's
   * streaming endpoints). Throws when the pod is not here or the container is not running.
   */
  containerProcess(namespace: string, name: string, container: string | undefined): ContainerProcess {
    const pod = this.informer.get(`${namespace}/${name}`) as KubeletPod | undefined;
    const uid = pod?.metadata.uid;
    if (!pod || !uid) throw new Error(`pod ${namespace}/${name} is not on node ${this.deps.nodeName}`);
    const specs = containersOf(pod);
    const c = container ?? specs[0]?.name;
    if (!c || !specs.some((s) => s.name === c)) throw new Error(`container ${c ?? ''} not found in pod ${namespace}/${name}`);
    const cur = this.runtime.observe(uid, c)?.current;
    if (!cur?.running || cur.pid === undefined) throw new Error(`container ${c} of pod ${namespace}/${name} is not running`);
    const info = this.runtime.currentRun(uid, c);
    let env: Record<string, string> = {};
    try {
      env = parseEnviron(readFileSync(`/proc/${cur.pid}/environ`, 'latin1'));
    } catch {
      /* gone meanwhile: the exec itself will say so */
    }
    return { pid: cur.pid, namespaces: cur.namespaces, env, console: info?.console, tty: info?.tty === true };
  }

  /** The pod's network namespace (port-forward connects from inside it) and uid. */
  podSandbox(namespace: string, name: string): { netns: string; uid: string } {
    const pod = this.informer.get(`${namespace}/${name}`) as KubeletPod | undefined;
    const uid = pod?.metadata.uid;
    if (!pod || !uid) throw new Error(`pod ${namespace}/${name} is not on node ${this.deps.nodeName}`);
    const netns = this.sandboxes.names(uid).netns;
    if (!existsSync(join('/run/netns', netns))) throw new Error(`pod ${namespace}/${name} has no sandbox yet`);
    return { netns, uid };
  }

  private livePods(): KubeletPod[] {
    return (this.informer.list() as KubeletPod[]).filter((p) => p.spec?.nodeName === this.deps.nodeName && p.metadata.uid);
  }

  /** Orphaned pod namespaces (our veth, no pod) go; IPs of pods that are gone go back to the IPAM. */
  private async cleanupOrphans(): Promise<void> {
    const known = new Set<string>();
    const liveKeys = new Set<string>();
    const liveUids = new Set<string>();
    for (const p of this.livePods()) {
      liveUids.add(p.metadata.uid!);
      known.add(uidHash(p.metadata.uid!));
      liveKeys.add(ipamKey(p.metadata.namespace ?? '', p.metadata.name ?? '', p.metadata.uid!));
    }
    for (const rec of this.onDisk.values()) {
      liveUids.add(rec.uid);
      known.add(uidHash(rec.uid));
      liveKeys.add(ipamKey(rec.namespace, rec.name, rec.uid));
    }
    try {
      const ours = new Set((await listLinks(this.deps.nodeNetns)).map(hashOfHostVeth).filter((h): h is string => !!h));
      for (const netns of await this.sandboxes.listPodNetns()) {
        const h = hashOfNetns(this.prefix, netns);
        if (!h || known.has(h) || !ours.has(h)) continue;
        this.log.info({ netns }, 'removing orphaned pod sandbox');
        await this.runtime.killAllInNetns(netns);
        await this.sandboxes.deleteNetns(netns);
      }
    } catch (err) {
      this.log.warn({ err }, 'orphaned sandbox cleanup failed');
    }
    try {
      // Pods with state on disk are cleaned up by their own sync (their cgroups go after their processes).
      await this.deps.cgroups?.cleanup(liveUids);
    } catch (err) {
      this.log.warn({ err }, 'leftover pod cgroup cleanup failed');
    }
    try {
      await this.deps.ipam.reclaim(liveKeys);
    } catch (err) {
      this.log.warn({ err }, 'IP reclaim failed');
    }
  }

  private async observe(uid: string, names: string[]): Promise<{ observed: ObservedPod; sandbox?: SandboxRecord }> {
    const sandbox = await readSandboxRecord(this.deps.dataDir, uid);
    const sandboxReady = sandbox ? await this.sandboxes.isReady(sandbox) : false;
    const netnsExists = existsSync(join('/run/netns', this.sandboxes.names(uid).netns));
    const containers: Record<string, ContainerObservation | undefined> = {};
    for (const name of new Set([...names, ...this.runtime.containerNames(uid)])) containers[name] = this.runtime.observe(uid, name);
    return { observed: { sandboxReady, sandboxExists: !!sandbox || netnsExists, containers }, sandbox };
  }

  private async sync(key: string): Promise<void> {
    const pod = this.informer.get(key) as KubeletPod | undefined;
    const mine = pod && pod.spec?.nodeName === this.deps.nodeName && pod.metadata.uid ? pod : undefined;
    for (const rec of [...this.onDisk.values()]) {
      if (`${rec.namespace}/${rec.name}` === key && rec.uid !== mine?.metadata.uid) await this.syncGone(rec);
    }
    if (mine) await this.syncPod(mine);
  }

  /** A pod with state here that the API no longer has (or that was re-created under a new uid). */
  private async syncGone(rec: PodRecord): Promise<void> {
    const { observed } = await this.observe(rec.uid, []);
    this.log.info({ pod: `${rec.namespace}/${rec.name}`, uid: rec.uid, running: Object.values(observed.containers).filter((o) => o?.current?.running).length }, 'cleaning up a pod the API no longer has here (deleted, or now another uid or node)');
    for (const action of reconcilePod(undefined, observed, Date.now(), { backoff: this.deps.backoff })) {
      await this.execute(action, undefined, rec);
    }
  }

  private async syncPod(pod: KubeletPod): Promise<void> {
    const uid = pod.metadata.uid!;
    const rec: PodRecord = { uid, namespace: pod.metadata.namespace ?? '', name: pod.metadata.name ?? '' };
    if (!this.onDisk.has(uid)) {
      await mkdir(podDir(this.deps.dataDir, uid), { recursive: true });
      await writeAtomic(join(podDir(this.deps.dataDir, uid), 'pod.json'), JSON.stringify(rec));
      this.onDisk.set(uid, rec);
    }
    const names = containersOf(pod).map((c) => c.name);
    const first = await this.observe(uid, names);
    const { observed } = first;
    observed.unhealthy = this.prober.kills(pod, observed.containers, Date.now());
    const actions = reconcilePod(pod, observed, Date.now(), { backoff: this.deps.backoff ?? DEFAULT_BACKOFF });
    const waiting: Record<string, ContainerStateWaiting> = {};
    this.waiting.set(uid, waiting);
    let removed = false;
    for (const action of actions) {
      const outcome = await this.execute(action, pod, rec, waiting);
      if (outcome === 'removed') removed = true;
      if (outcome === 'stop') break;
    }
    if (removed) return;
    // In the steady state (nothing done) the first observation still holds: the per-second
    // resync of every pod need not read the sandbox record and /proc twice.
    await this.reportStatus(pod, actions.length === 0 ? first : undefined);
  }

  private async reportStatus(pod: KubeletPod, seen?: { observed: ObservedPod; sandbox?: SandboxRecord }): Promise<void> {
    const uid = pod.metadata.uid!;
    const { observed, sandbox } = seen ?? (await this.observe(uid, containersOf(pod).map((c) => c.name)));
    this.prober.sync(pod, observed.containers, sandbox?.ip);
    const status = podStatus(
      pod,
      {
        hostIP: this.deps.nodeIp,
        podIP: sandbox?.ip,
        sandboxReady: observed.sandboxReady,
        containers: observed.containers,
        waiting: this.waiting.get(uid) ?? {},
        probes: this.prober.health(pod, observed.containers, Date.now()),
      },
      Date.now(),
    );
    const stored = (pod.status ?? {}) as Record<string, unknown>;
    const comparable = Object.fromEntries(Object.keys(status).map((k) => [k, stored[k]]));
    if (deepEqual(normalise(status), normalise(comparable))) return;
    try {
      await this.deps.client.patch('pods', pod.metadata.namespace ?? '', pod.metadata.name ?? '', { status }, 'merge', { subresource: 'status' });
    } catch (err) {
      if (isKubeError(err, 'NotFound')) return;
      throw err;
    }
  }

  /** Carries out one action. 'stop' ends this sync pass (retried later); 'removed' means the pod's state is gone. */
  private async execute(
    action: PodAction,
    pod: KubeletPod | undefined,
    rec: PodRecord,
    waiting: Record<string, ContainerStateWaiting> = {},
  ): Promise<'ok' | 'stop' | 'removed'> {
    const key = `${rec.namespace}/${rec.name}`;
    switch (action.type) {
      case 'createSandbox': {
        if (!pod) return 'ok';
        let net: PodNetwork;
        try {
          net = await this.deps.ipam.allocate(ipamKey(rec.namespace, rec.name, rec.uid));
        } catch (err) {
          const message = `failed to allocate a pod IP: ${(err as Error).message}`;
          await this.event(pod, 'Warning', 'FailedCreatePodSandBox', message);
          if ((err as Error).name === 'IpPoolExhaustedError') {
            this.queue.addAfter(key, this.deps.sandboxRetryMs ?? 5000);
            return 'stop';
          }
          throw err;
        }
        try {
          await this.sandboxes.create(pod, net);
        } catch (err) {
          await this.event(pod, 'Warning', 'FailedCreatePodSandBox', `failed to set up the pod sandbox: ${(err as Error).message}`);
          throw err;
        }
        return 'ok';
      }
      case 'startContainer': {
        if (!pod) return 'ok';
        const c = containersOf(pod).find((x) => x.name === action.name);
        const sandbox = await readSandboxRecord(this.deps.dataDir, rec.uid);
        if (!c || !sandbox) return 'ok';
        const running = this.runtime.observe(rec.uid, c.name)?.current?.running;
        if (running) await this.runtime.stop(rec.uid, c.name, 0);
        try {
          const { run, skippedEnv } = await this.runtime.start(pod, c, sandbox);
          for (const s of skippedEnv) await this.event(pod, 'Warning', 'EnvVarSkipped', `container ${c.name}: ${s.name}: ${s.reason}`);
          await this.event(pod, 'Normal', 'Started', `Started container ${c.name}`, true);
          this.log.info({ pod: key, container: c.name, restart: run.restart, pid: run.pid, namespaces: run.namespaces }, 'container started');
        } catch (err) {
          if (err instanceof ContainerConfigError) {
            waiting[c.name] = { reason: 'CreateContainerConfigError', message: err.message };
            return 'ok';
          }
          await this.event(pod, 'Warning', 'Failed', `Error: failed to start container ${c.name}: ${(err as Error).message}`);
          throw err;
        }
        return 'ok';
      }
      case 'wait':
        waiting[action.name] = { reason: action.reason, message: action.message };
        if (pod && action.reason === 'CrashLoopBackOff') await this.event(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${action.name} in pod ${pod.metadata.name}_${pod.metadata.namespace}(${rec.uid})`);
        if (pod && action.reason === 'CreateContainerConfigError') await this.event(pod, 'Warning', 'Failed', `Error: ${action.message}`);
        return 'ok';
      case 'stopContainer':
        if (pod) await this.event(pod, 'Normal', 'Killing', action.message ?? `Stopping container ${action.name}`, true);
        await this.runtime.stop(rec.uid, action.name, action.graceSeconds);
        return 'ok';
      case 'teardownSandbox': {
        const { netns } = this.sandboxes.names(rec.uid);
        await this.runtime.killAllInNetns(netns);
        await this.sandboxes.teardownNetwork(rec.uid);
        await this.deps.ipam.release(ipamKey(rec.namespace, rec.name, rec.uid));
        return 'ok';
      }
      case 'finishDeletion':
        try {
          await this.deps.client.delete('pods', rec.namespace, rec.name, { gracePeriodSeconds: 0, preconditions: { uid: rec.uid } });
        } catch (err) {
          if (!isKubeError(err, 'NotFound') && !isKubeError(err, 'Conflict')) throw err;
        }
        return 'ok';
      case 'removePodState':
        await this.runtime.removeConsoles(rec.uid);
        // After teardownSandbox: the pod's processes are gone (any stray is killed by removePod).
        await this.deps.cgroups?.removePod(rec.uid);
        await this.sandboxes.remove(rec.uid);
        // Idempotent: also frees an IP allocated before a crash left no sandbox to tear down.
        await this.deps.ipam.release(ipamKey(rec.namespace, rec.name, rec.uid));
        this.onDisk.delete(rec.uid);
        this.waiting.delete(rec.uid);
        this.prober.forget(rec.uid);
        return 'removed';
      case 'requeue':
        this.queue.addAfter(key, action.afterMs);
        return 'ok';
    }
  }

  /** Records an Event about the pod; the same reason and message at most once a minute unless `always`. */
  private async event(pod: KubeletPod, type: 'Normal' | 'Warning', reason: string, message: string, always = false): Promise<void> {
    const dedupe = `${pod.metadata.uid}|${reason}|${message}`;
    const now = Date.now();
    if (!always && (this.recentEvents.get(dedupe) ?? 0) > now - EVENT_REPEAT_MS) return;
    this.recentEvents.set(dedupe, now);
    if (this.recentEvents.size > 10_000) this.recentEvents.clear();
    const ns = pod.metadata.namespace ?? DEFAULT_NAMESPACE;
    if (type === 'Warning') this.log.warn({ pod: `${ns}/${pod.metadata.name}`, reason }, message);
    await recordEvent(this.deps.client, { ...pod, apiVersion: 'v1', kind: 'Pod' }, { type, reason, message }, { component: 'kubelet', host: this.deps.nodeName }, { logger: this.log, now });
  }
}

function readPodRecord(dataDir: string, uid: string): PodRecord | undefined {
  try {
    const rec = JSON.parse(readFileSync(join(podDir(dataDir, uid), 'pod.json'), 'utf8')) as PodRecord;
    return rec.uid === uid ? rec : undefined;
  } catch {
    return undefined;
  }
}

/** Status as JSON round-trips it (drops undefined), for comparison with the stored one. */
function normalise(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}
