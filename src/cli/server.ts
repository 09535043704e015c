// `meshlet server`: the control plane in one process — the Redis store (a
// private redis-server with --redis auto), the API server, the controllers and
// the scheduler, which reach the API like any other client, with an admin token.
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { generateTokenFile, loadTokenFile, type TokenSet } from '../api/auth.ts';
import { ADMIN_GROUP } from '../core/well-known.ts';
import { startApiServer } from '../api/server.ts';
import { ensureServingCert } from '../api/tls.ts';
import { createClient } from '../client/http-client.ts';
import { InformerFactory } from '../client/informer-factory.ts';
import { stripManagedFields } from '../client/slim-objects.ts';
import type { ApiClient } from '../client/types.ts';
import { RedisStore } from '../store/redis-store.ts';
import { STORE_FSYNC_MODES, superviseRedis, type StoreFsync } from '../store/redis-process.ts';
import { DEFAULT_CLUSTER_CIDR, parseCidr } from '../core/cidr.ts';
import { parsePortRange } from '../api/node-ports.ts';
import { nodeLossOptions } from './server-node-loss.ts';
import { UsageError, booleanOption, integerOption, listOption, parseHostPort, stringOption, type RunCommand } from './args.ts';
import { createLogger, exitOnSignals } from './runtime.ts';
import { httpUrl } from './server-url.ts';
import { ensureKubernetesEndpoints, ensureKubernetesService, type AdvertisedAddress } from '../api/bootstrap.ts';
import { ClusterIpAllocator } from '../api/cluster-ip.ts';
import { isKubeError } from '../core/errors.ts';
import { DEFAULT_SERVICE_CIDR, firstServiceAddress } from '../core/service-cidr.ts';
import { DEFAULT_CLUSTER_DOMAIN, DEFAULT_NAMESPACE, KUBERNETES_SERVICE } from '../core/well-known.ts';
import { listenInNetns, relayConnections } from './netns-listener.ts';
import { isValidNetnsName } from '../kubelet/names.ts';
import { isIP } from 'node:net';
import { parseLbPool, type LbPool } from '../controllers/service-lb-pool.ts';
import { parseGoDuration } from '../api/protobuf/duration.ts';

export const DEFAULT_SERVER_DATA_DIR = '/var/lib/meshlet/server';
export const DEFAULT_LISTEN = '127.0.0.1:6443';
const STOP_STEP_TIMEOUT_MS = 5000;

/** What --address-file holds once the server serves. */
export interface ServerAddress {
  host: string;
  port: number;
  socketPath?: string;
  pid: number;
  /** The self-signed serving certificate (its own CA) when the TCP port speaks https. */
  caFile?: string;
}

export function adminToken(tokens: TokenSet): string | undefined {
  for (const [token, identity] of tokens) if (identity.groups.includes(ADMIN_GROUP)) return token;
  return undefined;
}

function writeFileAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}

/** The pod network the node-IPAM controller hands out: --cluster-cidr, --node-subnet-size, --subnet-lease-ttl. */
export function podNetworkPool(cmd: RunCommand): { clusterCidr: string; nodeSubnetSize: number; leaseTtlMs?: number } {
  const clusterCidr = stringOption(cmd.options, 'cluster-cidr') ?? DEFAULT_CLUSTER_CIDR;
  try {
    parseCidr(clusterCidr);
  } catch (err) {
    throw new UsageError(`--cluster-cidr: ${(err as Error).message}`);
  }
  const ttl = stringOption(cmd.options, 'subnet-lease-ttl');
  return {
    clusterCidr,
    nodeSubnetSize: integerOption(cmd.options, 'node-subnet-size', 1, 128, 24),
    ...(ttl !== undefined ? { leaseTtlMs: integerOption(cmd.options, 'subnet-lease-ttl', 2, 10 * 365 * 86400, 86400) * 1000 } : {}),
  };
}

/** --lb-pool (repeatable, comma-separated CIDRs or A-B ranges): the LoadBalancer address pool. */
export function loadBalancerPool(cmd: RunCommand): LbPool | undefined {
  try {
    return parseLbPool(listOption(cmd.options, 'lb-pool'));
  } catch (err) {
    throw new UsageError(`--lb-pool: ${(err as Error).message}`);
  }
}

/** --horizontal-pod-autoscaler-sync-period DURATION (Go syntax, default 15s as upstream): in milliseconds. */
export function hpaSyncPeriodMs(cmd: RunCommand): number | undefined {
  const text = stringOption(cmd.options, 'horizontal-pod-autoscaler-sync-period');
  if (text === undefined) return undefined;
  let ms: number;
  try {
    ms = parseGoDuration(text) / 1e6;
  } catch {
    throw new UsageError(`--horizontal-pod-autoscaler-sync-period: "${text}" is not a duration (e.g. 15s, 500ms, 1m)`);
  }
  if (!(ms >= 100 && ms <= 3_600_000)) throw new UsageError(`--horizontal-pod-autoscaler-sync-period: must be between 100ms and 1h, not ${text}`);
  return ms;
}

/** --netns-listen NETNS=HOST:PORT: also accept API connections there (relayed to the TCP listener). */
export function netnsListen(cmd: RunCommand): { netns: string; host: string; port: number } | undefined {
  const text = stringOption(cmd.options, 'netns-listen');
  if (text === undefined) return undefined;
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`--netns-listen: "${text}" is not NETNS=HOST:PORT`);
  const { host, port } = parseHostPort(text.slice(eq + 1));
  if (!isIP(host) || port === 0) throw new UsageError(`--netns-listen: "${text}" needs an IP address and a port`);
  const netns = text.slice(0, eq);
  if (!isValidNetnsName(netns)) throw new UsageError(`--netns-listen: ${JSON.stringify(netns)} is not a network namespace name`);
  return { netns, host, port };
}

/**
 * --advertise-address IP[:PORT]: where pods reach this API server (default/kubernetes' endpoints).
 * The port defaults to the TCP listener's. Without the flag, the listen address when it is a
 * specific, non-loopback IP; otherwise none (the Service then has no endpoints).
 */
export function advertisedAddress(cmd: RunCommand, bound: { host: string; port: number }): AdvertisedAddress | undefined {
  const text = stringOption(cmd.options, 'advertise-address');
  if (text === undefined) {
    const h = bound.host;
    const loopbackOrAny = h === '0.0.0.0' || h === '::' || h.startsWith('127.') || h === '::1';
    return isIP(h) && !loopbackOrAny ? { ip: h, port: bound.port } : undefined;
  }
  if (isIP(text)) return { ip: text, port: bound.port };
  const { host, port } = parseHostPort(text);
  if (!isIP(host) || port === 0) throw new UsageError(`--advertise-address: "${text}" is not IP or IP:PORT`);
  return { ip: host, port };
}

/** Names and addresses the serving certificate carries beyond loopback: what pods use to reach default/kubernetes. */
function servingCertHosts(listenHost: string, serviceCidr: string, advertised: string | undefined): string[] {
  const names = [`${KUBERNETES_SERVICE}`, `${KUBERNETES_SERVICE}.${DEFAULT_NAMESPACE}`, `${KUBERNETES_SERVICE}.${DEFAULT_NAMESPACE}.svc`,
    `${KUBERNETES_SERVICE}.${DEFAULT_NAMESPACE}.svc.${DEFAULT_CLUSTER_DOMAIN}`];
  const hosts = [firstServiceAddress(serviceCidr), ...names];
  if (listenHost !== '0.0.0.0' && listenHost !== '::') hosts.unshift(listenHost);
  if (advertised && !hosts.includes(advertised)) hosts.unshift(advertised);
  return hosts;
}

export async function runServer(cmd: RunCommand): Promise<number | undefined> {
  const dataDir = stringOption(cmd.options, 'data-dir') ?? DEFAULT_SERVER_DATA_DIR;
  const listen = parseHostPort(stringOption(cmd.options, 'listen') ?? DEFAULT_LISTEN);
  const socketPath = stringOption(cmd.options, 'socket');
  const redisOption = stringOption(cmd.options, 'redis') ?? 'auto';
  const historyGiven = stringOption(cmd.options, 'history') !== undefined;
  const history = integerOption(cmd.options, 'history', 100, 10_000_000, 0);
  const fsyncText = stringOption(cmd.options, 'store-fsync');
  if (fsyncText !== undefined && !(STORE_FSYNC_MODES as readonly string[]).includes(fsyncText)) {
    throw new UsageError(`--store-fsync: must be one of ${STORE_FSYNC_MODES.join(', ')}, not ${JSON.stringify(fsyncText)}`);
  }
  if (fsyncText !== undefined && redisOption !== 'auto') {
    throw new UsageError('--store-fsync applies to the private redis-server (--redis auto); set appendfsync on your own Redis');
  }
  const storeFsync: StoreFsync = (fsyncText as StoreFsync | undefined) ?? 'everysec';
  const serviceCidr = stringOption(cmd.options, 'service-cidr');
  if (serviceCidr !== undefined) {
    try {
      parseCidr(serviceCidr);
    } catch (err) {
      throw new UsageError(`--service-cidr: ${(err as Error).message}`);
    }
  }
  const nodePortRange = stringOption(cmd.options, 'service-node-port-range');
  if (nodePortRange !== undefined) {
    try {
      parsePortRange(nodePortRange);
    } catch (err) {
      throw new UsageError(`--service-node-port-range: ${(err as Error).message}`);
    }
  }
  const podNetwork = podNetworkPool(cmd);
  const nodeLoss = nodeLossOptions(cmd.options);
  const extraListen = netnsListen(cmd);
  const lbPool = loadBalancerPool(cmd);
  const hpaSyncMs = hpaSyncPeriodMs(cmd);
  const advertisedGiven = advertisedAddress(cmd, listen);
  const withControllers = !booleanOption(cmd.options, 'no-controllers');
  const withScheduler = !booleanOption(cmd.options, 'no-scheduler');
  const addressFile = stringOption(cmd.options, 'address-file');
  const withTls = !booleanOption(cmd.options, 'no-tls');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const logger = createLogger('server');

  let tokenFile = stringOption(cmd.options, 'token-file');
  if (!tokenFile) {
    tokenFile = join(dataDir, 'tokens.csv');
    if (!existsSync(tokenFile) || !adminToken(loadTokenFile(tokenFile))) {
      generateTokenFile(tokenFile, [{ user: 'admin', uid: 'admin', groups: [ADMIN_GROUP] }]);
      process.stderr.write(`meshlet server: generated token file ${tokenFile} (user admin, group ${ADMIN_GROUP})\n`);
    }
  }
  const tokens = loadTokenFile(tokenFile);
  const admin = adminToken(tokens);
  if ((withControllers || withScheduler) && !admin) {
    throw new Error(`token file ${tokenFile} has no ${ADMIN_GROUP} identity: the controllers and the scheduler need one`);
  }

  // Stopped in reverse order, each step bounded so that shutdown always ends.
  const cleanups: { what: string; fn: () => Promise<void> | void }[] = [];
  const onStop = (what: string, fn: () => Promise<void> | void): void => {
    cleanups.push({ what, fn });
  };
  const stop = async (): Promise<void> => {
    for (const { what, fn } of cleanups.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      try {
        const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), STOP_STEP_TIMEOUT_MS)));
        if ((await Promise.race([Promise.resolve(fn()), timedOut])) === 'timeout') {
          logger.warn({ step: what }, `stopping ${what} took over ${STOP_STEP_TIMEOUT_MS / 1000} s; going on`);
        }
      } catch (err) {
        logger.warn({ err, step: what }, 'error while stopping');
      } finally {
        clearTimeout(timer);
      }
    }
    logger.info('stopped');
  };
  try {
    let redisUrl = redisOption;
    let hostWentDown = false;
    if (redisOption === 'auto') {
      // Restarted if it dies; the store reconnects to the same socket.
      const redis = await superviseRedis(
        { dir: join(dataDir, 'redis'), persistence: storeFsync },
        {
          exited: (pid, how) => logger.error({ pid, how }, 'private redis-server exited; starting it again'),
          restarted: (p) => logger.info({ pid: p.pid }, 'private redis-server started again'),
          restartFailed: (err, delayMs) => logger.error({ err, delayMs }, 'cannot start the private redis-server; trying again'),
        },
      );
      onStop('redis-server', () => redis.stop());
      redisUrl = redis.url;
      for (const what of redis.first.recovered) logger.warn(what);
      hostWentDown = redis.first.previousEnd === 'host-down' && redis.first.persistence === 'everysec';
      logger.info(
        { pid: redis.first.pid, socket: redis.socketPath, persistence: `appendonly, appendfsync ${storeFsync}`, previousEnd: redis.first.previousEnd },
        'started private redis-server',
      );
    }
    const store = await RedisStore.connect(redisUrl, historyGiven ? { historySize: history } : {});
    onStop('store', () => store.close());
    if (hostWentDown) {
      // The host went down under a running everysec Redis: its last second of acknowledged
      // writes may be gone, and with them versions clients saw. Never hand those out again.
      const rv = await store.fence();
      logger.warn({ resourceVersion: rv }, 'the host went down while the store ran: fenced the resourceVersion counter; older watches relist');
    }

    // kubectl sends tokens only over https; the TCP port answers https and plain http alike.
    const cert = withTls ? ensureServingCert(join(dataDir, 'pki'), servingCertHosts(listen.host, serviceCidr ?? DEFAULT_SERVICE_CIDR, advertisedGiven?.ip)) : undefined;
    const api = await startApiServer({
      store,
      listen,
      ...(socketPath ? { socketPath } : {}),
      tokens,
      logger,
      defaultTolerations: nodeLoss.defaultTolerations,
      ...(serviceCidr ? { serviceCidr } : {}),
      ...(nodePortRange ? { serviceNodePortRange: nodePortRange } : {}),
      ...(cert ? { tls: { cert: cert.cert, key: cert.key } } : {}),
    });
    onStop('API server', () => api.close());
    const address = api.address ?? listen;
    if (extraListen) {
      const server = await listenInNetns(extraListen.netns, extraListen.host, extraListen.port);
      const target = { host: address.host === '0.0.0.0' ? '127.0.0.1' : address.host === '::' ? '::1' : address.host, port: address.port };
      const close = relayConnections(server, target, (err) => logger.error({ err }, 'netns listener failed'));
      onStop('netns listener', close);
      logger.info({ netns: extraListen.netns, host: extraListen.host, port: extraListen.port }, 'API also listening inside a network namespace (relayed)');
    }
    await bootstrapKubernetesService(store, serviceCidr ?? DEFAULT_SERVICE_CIDR, advertisedAddress(cmd, address), logger);

    const selfUrl = socketPath ? `unix://${socketPath}` : httpUrl(address.host, address.port);
    // One informer cache for the controllers and the scheduler: one watch per kind, running in every
    // server; only the leaders (of their own Leases) register handlers and work.
    let informers: InformerFactory | undefined;
    if ((withControllers || withScheduler) && admin) {
      const client: ApiClient = createClient({ server: selfUrl, token: admin, userAgent: 'meshlet-informers' });
      onStop('informers\' client', () => client.close());
      informers = new InformerFactory({ client, logger: logger.child({ component: 'informers' }), registry: api.metrics, defaultTransform: stripManagedFields });
      informers.start();
      onStop('informers', () => informers?.stop());
    }
    if (withControllers && admin) {
      const client: ApiClient = createClient({ server: selfUrl, token: admin, userAgent: 'meshlet-controllers' });
      onStop('controllers\' client', () => client.close());
      const { startControllers } = await import('../controllers/index.ts');
      // The node-IPAM controller's subnet pool lives in the store's Redis: only the server holds its address.
      const { Ipam } = await import('../overlay/ipam.ts');
      const ipam = await Ipam.connect(redisUrl, { clusterCidr: podNetwork.clusterCidr, nodePrefix: podNetwork.nodeSubnetSize });
      onStop('node IPAM pool', () => ipam.close());
      const controllers = await startControllers(client, {
        logger: logger.child({ component: 'controllers' }),
        informers,
        nodeGraceMs: nodeLoss.nodeGraceMs,
        eviction: nodeLoss.eviction,
        registry: api.metrics,
        nodeIpam: { ipam, ...(podNetwork.leaseTtlMs ? { ttlMs: podNetwork.leaseTtlMs } : {}) },
        ...(lbPool ? { lbPool } : {}),
        ...(hpaSyncMs !== undefined ? { hpa: { syncPeriodMs: hpaSyncMs } } : {}),
      });
      onStop('controllers', () => controllers.stop());
      logger.info('controllers started');
    }
    if (withScheduler && admin) {
      const client: ApiClient = createClient({ server: selfUrl, token: admin, userAgent: 'meshlet-scheduler' });
      onStop('scheduler\'s client', () => client.close());
      const { startScheduler } = await import('../scheduler/scheduler.ts');
      const identity = `${hostname()}_${process.pid}_${randomBytes(4).toString('hex')}`;
      const scheduler = startScheduler(client, { logger: logger.child({ component: 'scheduler' }), identity, informers });
      onStop('scheduler', () => scheduler.stop());
      logger.info({ identity }, 'scheduler started (leader election on kube-system/meshlet-scheduler)');
    }

    if (addressFile) {
      const written: ServerAddress = {
        host: address.host,
        port: address.port,
        pid: process.pid,
        ...(socketPath ? { socketPath } : {}),
        ...(cert ? { caFile: cert.certPath } : {}),
      };
      writeFileAtomic(addressFile, JSON.stringify(written) + '\n');
    }
  } catch (err) {
    await stop();
    throw err;
  }
  exitOnSignals(logger, stop);
  return undefined;
}

/** default/kubernetes and its endpoints naming this server (see bootstrap.ts). */
async function bootstrapKubernetesService(
  store: RedisStore, serviceCidr: string, advertised: AdvertisedAddress | undefined, logger: ReturnType<typeof createLogger>,
): Promise<void> {
  const clusterIps = new ClusterIpAllocator(store.leases, serviceCidr);
  try {
    if (await ensureKubernetesService(store, clusterIps, advertised?.port ?? 443)) {
      logger.info({ clusterIP: firstServiceAddress(serviceCidr) }, 'created Service default/kubernetes');
    }
  } catch (err) {
    if (!isKubeError(err, 'Invalid')) throw err;
    logger.error({ err }, 'cannot create Service default/kubernetes: another Service holds the range\'s first address');
  }
  if (!advertised) {
    logger.warn('no --advertise-address (and the listen address is loopback or any): default/kubernetes has no endpoints');
    return;
  }
  const written = await ensureKubernetesEndpoints(store, advertised);
  if (written.length > 0) logger.info({ ...advertised, written }, 'default/kubernetes endpoints name this API server');
}
