// `meshlet server`'s node-loss options: how long a silent node stays Ready
// (the node grace), the default tolerations pods get at admission and the
// zone-aware eviction rates of the node lifecycle controller.
import { DEFAULT_TOLERATION_SECONDS, type DefaultTolerationSeconds } from '../api/default-tolerations.ts';
import { LEASE_RENEW_INTERVAL_MS } from '../agent/node-object.ts';
import { NODE_GRACE_MS } from '../controllers/node-lifecycle.ts';
import { DEFAULT_EVICTION_RATES, type EvictionRateOptions } from '../controllers/zone-disruption.ts';
import { integerOption, numberOption, type OptionValues } from './args.ts';

const MAX_SECONDS = 10 * 365 * 86400;
/** The node grace must outlast an agent's lease renewal interval, or every node would flap to Unknown between renewals. */
export const MIN_NODE_GRACE_SECONDS = LEASE_RENEW_INTERVAL_MS / 1000 + 1;

export function nodeLossOptions(options: OptionValues): { nodeGraceMs: number; defaultTolerations: DefaultTolerationSeconds; eviction: EvictionRateOptions } {
  const d = DEFAULT_EVICTION_RATES;
  return {
    nodeGraceMs: integerOption(options, 'node-monitor-grace-period', MIN_NODE_GRACE_SECONDS, MAX_SECONDS, NODE_GRACE_MS / 1000) * 1000,
    defaultTolerations: {
      notReady: integerOption(options, 'default-not-ready-toleration-seconds', 0, MAX_SECONDS, DEFAULT_TOLERATION_SECONDS.notReady),
      unreachable: integerOption(options, 'default-unreachable-toleration-seconds', 0, MAX_SECONDS, DEFAULT_TOLERATION_SECONDS.unreachable),
    },
    eviction: {
      nodeEvictionRate: numberOption(options, 'node-eviction-rate', 0, 1e6, d.nodeEvictionRate),
      secondaryNodeEvictionRate: numberOption(options, 'secondary-node-eviction-rate', 0, 1e6, d.secondaryNodeEvictionRate),
      unhealthyZoneThreshold: numberOption(options, 'unhealthy-zone-threshold', 0, 1, d.unhealthyZoneThreshold),
      largeClusterSizeThreshold: integerOption(options, 'large-cluster-size-threshold', 0, 1_000_000, d.largeClusterSizeThreshold),
    },
  };
}
