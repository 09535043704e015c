// The agent's service-proxy block: its options and its start, kept out of
// agent.ts so that the agent only says where it runs.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { InformerFactory } from '../client/informer-factory.ts';
import { parseCidr } from '../core/cidr.ts';
import { DEFAULT_SERVICE_CIDR, clusterDnsAddress } from '../core/service-cidr.ts';
import { Proxier } from '../proxy/proxier.ts';
import { UsageError, booleanOption, stringOption, type RunCommand } from './args.ts';

export interface ProxyConfig {
  serviceCidrs: string[];
  clusterCidrs: string[];
  clusterDns: string;
}

/** The proxy's settings from the agent's options; undefined with --no-proxy. */
export function proxyConfig(cmd: RunCommand, clusterCidr: string, clusterDns: string | undefined): ProxyConfig | undefined {
  if (booleanOption(cmd.options, 'no-proxy')) return undefined;
  const text = stringOption(cmd.options, 'service-cidr') ?? DEFAULT_SERVICE_CIDR;
  const serviceCidrs = text.split(',').map((c) => c.trim()).filter(Boolean);
  for (const c of serviceCidrs) {
    try {
      parseCidr(c);
    } catch (err) {
      throw new UsageError(`--service-cidr: ${(err as Error).message}`);
    }
  }
  if (!serviceCidrs.length) throw new UsageError('--service-cidr: at least one CIDR');
  // The node-local DNS answers the cluster DNS address (the 10th of the first Service CIDR unless given).
  return { serviceCidrs, clusterCidrs: [clusterCidr], clusterDns: clusterDns ?? clusterDnsAddress(serviceCidrs[0]) };
}

/** Start the proxy; returns its stop (the rules stay for the next agent to adopt). */
export async function startProxy(opts: ProxyConfig & { informers: InformerFactory; nodeName: string; logger: Logger; registry: Registry }): Promise<() => Promise<void>> {
  const proxier = new Proxier(opts);
  proxier.start().then(
    () => opts.logger.info({ serviceCidrs: opts.serviceCidrs, clusterDns: opts.clusterDns }, 'service proxy started'),
    (err: unknown) => opts.logger.error({ err }, 'service proxy failed to start'),
  );
  return () => proxier.stop();
}
