// The controller manager: every controller, run by whichever candidate holds
// the kube-system/meshlet-controller-manager Lease.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ApiClient } from '../client/types.ts';
import { InformerFactory, SharedInformers } from '../client/informer-factory.ts';
import { runLeaderElection } from '../client/leader-election.ts';
import { deploymentController } from './deployment.ts';
import { replicaSetController } from './replicaset.ts';
import { daemonSetController } from './daemonset.ts';
import { statefulSetController } from './statefulset.ts';
import { jobController } from './job.ts';
import { cronJobController } from './cronjob.ts';
import { disruptionController } from './disruption.ts';
import { hpaController, type HpaControllerOptions } from './hpa.ts';
import { endpointsController } from './endpoints.ts';
import { garbageCollector } from './garbage-collector.ts';
import { namespaceController } from './namespace.ts';
import { nodeLifecycleController } from './node-lifecycle.ts';
import { taintEvictionController } from './taint-eviction.ts';
import type { EvictionRateOptions } from './zone-disruption.ts';
import { nodeIpamController, type NodeIpamOptions } from './node-ipam.ts';
import { serviceLbController } from './service-lb.ts';
import type { LbPool } from './service-lb-pool.ts';
import type { Controller, ControllerDeps } from './runtime.ts';
import { KUBE_SYSTEM } from '../core/well-known.ts';

export const LEASE_NAMESPACE = KUBE_SYSTEM;
export const LEASE_NAME = 'meshlet-controller-manager';

export interface ControllerManagerOptions {
  logger: Logger;
  identity?: string;
  /** Leader election timings (defaults 15 s / 10 s / 2 s). */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Node heartbeat grace (default 40 s). */
  nodeGraceMs?: number;
  /** Zone-aware rates at which lost nodes get their NoExecute taint (default: upstream's). */
  eviction?: EvictionRateOptions;
  /** Controllers' Prometheus metrics go here (the server's registry). */
  registry?: Registry;
  /** The node-IPAM controller's subnet pool (the server's Redis); without it no node gets a subnet. */
  nodeIpam?: NodeIpamOptions;
  /**
   * The process's informer factory (shared with the scheduler). Its informers
   * may run while another server leads; only the leader registers handlers and
   * works. Without one, each leadership term lists and watches on its own.
   */
  informers?: InformerFactory;
  /** The LoadBalancer address pool (--lb-pool); without one LoadBalancer Services stay pending. */
  lbPool?: LbPool;
  /** The HPA controller's sync period (--horizontal-pod-autoscaler-sync-period) and metrics source. */
  hpa?: HpaControllerOptions;
}

/** Starts every controller on shared informers; returns their stop (which leaves a shared factory's watches running). */
export async function runControllers(
  client: ApiClient,
  logger: Logger,
  opts: { nodeGraceMs?: number; eviction?: EvictionRateOptions; registry?: Registry; nodeIpam?: NodeIpamOptions; informers?: InformerFactory; lbPool?: LbPool; hpa?: HpaControllerOptions } = {},
): Promise<() => Promise<void>> {
  const informers = opts.informers ? opts.informers.scope() : new SharedInformers(client, logger);
  const deps: ControllerDeps = { client, informers, logger, registry: opts.registry };
  const controllers: Controller[] = [
    deploymentController(deps),
    replicaSetController(deps),
    daemonSetController(deps),
    statefulSetController(deps),
    jobController(deps),
    cronJobController(deps),
    disruptionController(deps),
    hpaController(deps, opts.hpa),
    endpointsController(deps),
    garbageCollector(deps),
    namespaceController(deps),
    nodeLifecycleController(deps, { graceMs: opts.nodeGraceMs, eviction: opts.eviction }),
    taintEvictionController(deps),
    ...(opts.nodeIpam ? [nodeIpamController(deps, { graceMs: opts.nodeGraceMs, ...opts.nodeIpam })] : []),
    serviceLbController(deps, { pool: opts.lbPool }),
  ];
  informers.start();
  await informers.synced();
  for (const c of controllers) c.start();
  logger.info({ controllers: controllers.map((c) => c.name) }, 'controllers running');
  return async () => {
    await Promise.all(controllers.map((c) => c.stop()));
    await informers.stop();
  };
}

export async function startControllers(client: ApiClient, opts: ControllerManagerOptions): Promise<{ stop(): Promise<void> }> {
  const log = opts.logger.child({ component: 'controller-manager' });
  const identity = opts.identity ?? `${hostname()}_${randomBytes(4).toString('hex')}`;
  let stopRunning: Promise<(() => Promise<void>) | undefined> = Promise.resolve(undefined);

  const stopElection = runLeaderElection({
    client,
    namespace: LEASE_NAMESPACE,
    name: LEASE_NAME,
    identity,
    leaseDurationMs: opts.leaseDurationMs,
    renewDeadlineMs: opts.renewDeadlineMs,
    retryPeriodMs: opts.retryPeriodMs,
    logger: log,
    onStartedLeading: () => {
      const started = runControllers(client, log, { nodeGraceMs: opts.nodeGraceMs, eviction: opts.eviction, registry: opts.registry, nodeIpam: opts.nodeIpam, informers: opts.informers, lbPool: opts.lbPool, hpa: opts.hpa }).catch((err: unknown) => {
        log.error({ err }, 'controllers failed to start');
        return undefined;
      });
      stopRunning = started;
    },
    onStoppedLeading: async () => {
      const stop = await stopRunning;
      stopRunning = Promise.resolve(undefined);
      await stop?.();
    },
  });

  return {
    async stop() {
      await stopElection();
      const stop = await stopRunning;
      await stop?.();
    },
  };
}
