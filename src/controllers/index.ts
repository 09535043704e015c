// The controller manager: every controller, run by whichever candidate holds
// the kube-system/meshlet-controller-manager Lease.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ApiClient } from '../client/types.ts';
import { InformerFactory, SharedInformers } from '../client/informer-factory.ts';
import { runLeaderElection } from '../client/leader-election.ts';
import { deploymentController } from './deployment.ts';
import { replicaSetController } from './replicaset.ts';
import { jobController } from './job.ts';
import { cronJobController } from './cronjob.ts';
import { endpointsController } from './endpoints.ts';
import { garbageCollector } from './garbage-collector.ts';
import { namespaceController } from './namespace.ts';
import { nodeLifecycleController } from './node-lifecycle.ts';
import { nodeIpamController, type NodeIpamOptions } from './node-ipam.ts';
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
  /** The node-IPAM controller's subnet pool (the server's Redis); without it no node gets a subnet. */
  nodeIpam?: NodeIpamOptions;
  /**
   * The process's informer factory (shared with the scheduler). Its informers
   * may run while another server leads; only the leader registers handlers and
   * works. Without one, each leadership term lists and watches on its own.
   */
  informers?: InformerFactory;
}

/** Starts every controller on shared informers; returns their stop (which leaves a shared factory's watches running). */
export async function runControllers(
  client: ApiClient,
  logger: Logger,
  opts: { nodeGraceMs?: number; nodeIpam?: NodeIpamOptions; informers?: InformerFactory } = {},
): Promise<() => Promise<void>> {
  const informers = opts.informers ? opts.informers.scope() : new SharedInformers(client, logger);
  const deps: ControllerDeps = { client, informers, logger };
  const controllers: Controller[] = [
    deploymentController(deps),
    replicaSetController(deps),
    jobController(deps),
    cronJobController(deps),
    endpointsController(deps),
    garbageCollector(deps),
    namespaceController(deps),
    nodeLifecycleController(deps, { graceMs: opts.nodeGraceMs }),
    ...(opts.nodeIpam ? [nodeIpamController(deps, { graceMs: opts.nodeGraceMs, ...opts.nodeIpam })] : []),
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
      const started = runControllers(client, log, { nodeGraceMs: opts.nodeGraceMs, nodeIpam: opts.nodeIpam, informers: opts.informers }).catch((err: unknown) => {
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
