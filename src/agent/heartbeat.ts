// Registers the Node and keeps it alive: the heartbeat Lease every 10 s, the
// Node's status when it is missing, marked not Ready, stale or changed.
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ApiClient } from '../client/types.ts';
import { isKubeError } from '../core/errors.ts';
import type { KubeObject } from '../core/types.ts';
import {
  LEASE_DURATION_SECONDS, LEASE_RENEW_INTERVAL_MS,
  buildNode, buildNodeLease, buildNodeStatus, leaseRenewal, nodeAction, type NodeFacts,
} from './node-object.ts';
import { LEASES, NODE_LEASE_NAMESPACE } from '../core/well-known.ts';

const FAILURE_RETRY_MS = 2000;

export interface Heartbeat {
  /** Time of the last complete heartbeat (lease renewed, node checked), if any. */
  lastSuccess(): Date | undefined;
  /** True while the last success is younger than the lease duration. */
  healthy(now?: Date): boolean;
  stop(): Promise<void>;
}

export interface HeartbeatOptions {
  client: ApiClient;
  facts: NodeFacts;
  logger: Logger;
  metrics: Registry;
  intervalMs?: number;
}

export function startHeartbeat(opts: HeartbeatOptions): Heartbeat {
  const { client, facts, logger } = opts;
  const name = facts.nodeName;
  const beats = new Counter({
    name: 'meshlet_agent_heartbeats_total',
    help: 'Heartbeats (lease renewal and node check) by result',
    labelNames: ['result'],
    registers: [opts.metrics],
  });
  const lastBeat = new Gauge({
    name: 'meshlet_agent_last_heartbeat_timestamp_seconds',
    help: 'Unix time of the last successful heartbeat',
    registers: [opts.metrics],
  });
  const statusPosts = new Counter({
    name: 'meshlet_agent_node_status_updates_total',
    help: 'Node status updates posted',
    registers: [opts.metrics],
  });

  let last: Date | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  async function ensureNode(now: Date): Promise<KubeObject> {
    let node = await client.get('nodes', '', name);
    const action = nodeAction(node, facts, now);
    if (action === 'create' || !node) {
      try {
        node = await client.create('nodes', buildNode(facts));
        logger.info({ node: name }, 'registered node');
      } catch (err) {
        if (!isKubeError(err, 'AlreadyExists')) throw err;
        node = await client.get('nodes', '', name);
        if (!node) throw err;
      }
    }
    if (action !== 'none') {
      node = await client.patch('nodes', '', name, { status: buildNodeStatus(facts, now, node) }, 'merge', { subresource: 'status' });
      statusPosts.inc();
      logger.debug({ node: name, action }, 'posted node status');
    }
    return node;
  }

  async function renewLease(now: Date, node: KubeObject): Promise<void> {
    try {
      await client.patch(LEASES, NODE_LEASE_NAMESPACE, name, leaseRenewal(name, now), 'merge');
    } catch (err) {
      if (!isKubeError(err, 'NotFound')) throw err;
      try {
        await client.create(LEASES, buildNodeLease(name, now, node.metadata.uid));
      } catch (createErr) {
        if (!isKubeError(createErr, 'AlreadyExists')) throw createErr;
        await client.patch(LEASES, NODE_LEASE_NAMESPACE, name, leaseRenewal(name, now), 'merge');
      }
    }
  }

  /** Resolves to whether the heartbeat succeeded. */
  async function tick(): Promise<boolean> {
    const now = new Date();
    try {
      const node = await ensureNode(now);
      await renewLease(now, node);
      last = now;
      beats.inc({ result: 'success' });
      lastBeat.set(now.getTime() / 1000);
      return true;
    } catch (err) {
      beats.inc({ result: 'failure' });
      logger.warn({ err, node: name }, 'heartbeat failed');
      return false;
    }
  }

  function schedule(delay: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      const interval = opts.intervalMs ?? LEASE_RENEW_INTERVAL_MS;
      // After a failure, retry sooner than the renewal interval.
      running = tick().then((ok) => schedule(ok ? interval : Math.min(interval, FAILURE_RETRY_MS)));
    }, delay);
  }
  schedule(0);

  return {
    lastSuccess: () => last,
    healthy: (now = new Date()) => last !== undefined && now.getTime() - last.getTime() < LEASE_DURATION_SECONDS * 1000,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
