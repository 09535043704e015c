// The node's cluster DNS, as the agent runs it: the DNS address local on the
// node (dns-local.ts), the detached `meshlet dns` started or adopted
// (dns-process.ts), and the feed from the agent's one informer factory
// (dns-feed.ts). Stopping the agent stops only the feed: the DNS process keeps
// answering from its last data until the next agent reconnects.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { InformerFactory } from '../client/informer-factory.ts';
import type { FeedKind } from '../dns/feed.ts';
import type { Informer } from '../client/informer.ts';
import { DnsFeeder, FEED_RESOURCES } from './dns-feed.ts';
import { DnsNotrack, ensureDnsAddresses } from './dns-local.ts';
import { ensureDnsProcess, type DnsProcessConfig, type DnsProcessHandle } from './dns-process.ts';

export interface NodeDnsOptions {
  agentDataDir: string;
  config: DnsProcessConfig;
  informers: InformerFactory;
  logger: Logger;
  metrics?: Registry;
}

export interface NodeDns {
  process: DnsProcessHandle;
  feeder: DnsFeeder;
  stop(): void;
}

export async function startNodeDns(o: NodeDnsOptions): Promise<NodeDns> {
  const logger = o.logger.child({ part: 'dns' });
  await ensureDnsAddresses([o.config.dnsIp], logger);
  await new DnsNotrack({ logger }).sync([o.config.dnsIp]);
  const proc = await ensureDnsProcess({ agentDataDir: o.agentDataDir, config: o.config, logger });
  const informers = Object.fromEntries(
    (Object.entries(FEED_RESOURCES) as [FeedKind, string][]).map(([kind, gr]) => [kind, o.informers.informer(gr)]),
  ) as Record<FeedKind, Informer>;
  const feeder = new DnsFeeder({ socketPath: proc.pidFile.feedSocket, informers, logger, ...(o.metrics ? { metrics: o.metrics } : {}) });
  await feeder.start();
  return {
    process: proc,
    feeder,
    stop: () => {
      feeder.stop();
      for (const i of Object.values(informers)) void i.stop();
    },
  };
}
