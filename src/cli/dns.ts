// `meshlet dns`: the node-local cluster DNS as its own long-lived process, fed
// by the agent over a unix socket (src/dns/feed.ts), so an agent restart or
// upgrade loses no lookup.
import { mkdirSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { checkCidr, LOOPBACK_CIDRS } from '../dns/acl.ts';
import { isDnsWorker, runDns, runDnsWorker, type DnsConfig } from '../dns/process.ts';
import type { ListenAddress } from '../dns/server.ts';
import type { UpstreamServer } from '../dns/upstream.ts';
import { POD_MODES, type PodMode } from '../dns/zone.ts';
import { nameKey } from '../dns/wire.ts';
import { DEFAULT_CLUSTER_CIDR } from '../core/cidr.ts';
import { UsageError, booleanOption, parseHealthListen, integerOption, listOption, parseHostPort, stringOption, type RunCommand } from './args.ts';
import { createLogger, exitOnSignals } from './runtime.ts';

export const DEFAULT_DNS_DATA_DIR = '/var/lib/meshlet/dns';

/** HOST:PORT, [V6]:PORT, or a bare address (port 53). */
export function parseDnsAddress(text: string, defaultPort: number): ListenAddress {
  const bare = text.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare)) return { host: bare, port: defaultPort };
  const hp = parseHostPort(text);
  if (!isIP(hp.host)) throw new UsageError(`"${text}": the host must be an IP address`);
  return hp;
}

export function dnsConfig(cmd: RunCommand): DnsConfig {
  const o = cmd.options;
  const dataDir = resolve(stringOption(o, 'data-dir') ?? DEFAULT_DNS_DATA_DIR);
  const listen = (listOption(o, 'listen').length ? listOption(o, 'listen') : ['127.0.0.1:53']).map((t) => parseDnsAddress(t, 53));
  const upstreams: UpstreamServer[] = listOption(o, 'upstream').map((t) => parseDnsAddress(t, 53));
  const podMode = (stringOption(o, 'pods') ?? 'verified') as PodMode;
  if (!POD_MODES.includes(podMode)) throw new UsageError(`--pods must be one of ${POD_MODES.join(', ')}`);
  const zone = stringOption(o, 'zone') ?? 'cluster.local';
  try {
    nameKey(zone);
  } catch (err) {
    throw new UsageError(`--zone: ${(err as Error).message}`);
  }
  const cidr = (what: string, t: string): string => {
    try {
      return checkCidr(t);
    } catch {
      throw new UsageError(`--${what} "${t}" is not an address or CIDR`);
    }
  };
  const allow = listOption(o, 'allow-recursion').map((t) => cidr('allow-recursion', t));
  const clusterCidrs = (listOption(o, 'cluster-cidr').length ? listOption(o, 'cluster-cidr') : [DEFAULT_CLUSTER_CIDR]).map((t) => cidr('cluster-cidr', t));
  const nodeIps = listOption(o, 'node-ip').map((t) => cidr('node-ip', t));
  const dnsAddresses = listOption(o, 'dns-address').map((t) => {
    if (!isIP(t)) throw new UsageError(`--dns-address "${t}" is not an IP address`);
    return t;
  });
  const search = listOption(o, 'search').map((d) => {
    try {
      nameKey(d);
      return d;
    } catch (err) {
      throw new UsageError(`--search "${d}": ${(err as Error).message}`);
    }
  });
  return {
    listen,
    feedSocket: resolve(stringOption(o, 'feed-socket') ?? join(dataDir, 'feed.sock')),
    healthListen: parseHealthListen(stringOption(o, 'health-listen') ?? join(dataDir, 'health.sock')),
    pidFile: resolve(stringOption(o, 'pid-file') ?? join(dataDir, 'dns.pid')),
    zone,
    ttl: integerOption(o, 'ttl', 0, 86400, 5),
    podMode,
    autopath: !booleanOption(o, 'no-autopath'),
    upstreams,
    resolvConf: stringOption(o, 'resolv-conf') ?? '/etc/resolv.conf',
    upstreamTimeoutMs: integerOption(o, 'upstream-timeout', 50, 10_000, 1000),
    recursionCidrs: allow.length ? allow : [...LOOPBACK_CIDRS, ...clusterCidrs, ...nodeIps],
    extraSearch: search,
    cacheSize: integerOption(o, 'cache-size', 0, 10_000_000, 10_000),
    workers: integerOption(o, 'workers', 1, 64, 1),
    dnsAddresses,
    drainMs: integerOption(o, 'drain-timeout', 0, 60_000, 2000),
    tcpIdleMs: integerOption(o, 'tcp-idle-timeout', 100, 600_000, 10_000),
  };
}

export async function runDnsCommand(cmd: RunCommand): Promise<number | undefined> {
  const logger = createLogger('dns');
  if (isDnsWorker()) {
    await runDnsWorker(logger.child({ worker: process.pid }));
    return undefined;
  }
  const config = dnsConfig(cmd);
  mkdirSync(resolve(stringOption(cmd.options, 'data-dir') ?? DEFAULT_DNS_DATA_DIR), { recursive: true });
  const running = await runDns(config, logger);
  exitOnSignals(logger, () => running.stop());
  return undefined;
}
