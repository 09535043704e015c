// `meshlet server`'s node-loss options: the default tolerations pods get at
// admission and the zone-aware eviction rates of the node lifecycle controller.
import { DEFAULT_TOLERATION_SECONDS, type DefaultTolerationSeconds } from '../api/default-tolerations.ts';
import { DEFAULT_EVICTION_RATES, type EvictionRateOptions } from '../controllers/zone-disruption.ts';
import { integerOption, numberOption, type OptionValues } from './args.ts';

const MAX_SECONDS = 10 * 365 * 86400;

export function nodeLossOptions(options: OptionValues): { defaultTolerations: DefaultTolerationSeconds; eviction: EvictionRateOptions } {
  const d = DEFAULT_EVICTION_RATES;
  return {
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
