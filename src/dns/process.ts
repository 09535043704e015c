// `meshlet dns` as a process: the feed socket, the health/metrics listener and
// a pid file (with the process start time, so whoever adopts it can prove it is
// the same process), and the DNS listeners either in this process or in N
// worker processes (node:cluster) sharing the sockets. Workers get the feed
// from the primary (a snapshot when they start, then every delta as it comes)
// and are restarted if they die. SIGTERM drains: listeners stop, answers in
// flight go out, then the process exits.
import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:http';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { AggregatorRegistry, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { listenHttp, type HttpListen, type Listening } from '../agent/http-listener.ts';
import { readStat } from '../kubelet/proc.ts';
import { RecursionAcl } from './acl.ts';
import { parseFeedLine, type FeedMessage } from './feed.ts';
import { FeedServer } from './feed-server.ts';
import { FeedState } from './feed-state.ts';
import { collectGarbage } from './node-flags.ts';
import { DnsMetrics, FeedMetrics } from './metrics.ts';
import { parseResolvConf } from './resolv-conf.ts';
import { Resolver } from './resolver.ts';
import { DnsServer, type BoundAddress, type ListenAddress } from './server.ts';
import { Upstreams, type UpstreamServer } from './upstream.ts';
import { ClusterZone, type PodMode } from './zone.ts';

export interface DnsConfig {
  listen: ListenAddress[];
  feedSocket: string;
  healthListen?: HttpListen;
  pidFile?: string;
  zone: string;
  ttl: number;
  podMode: PodMode;
  autopath: boolean;
  /** Upstream resolvers; empty: the nameservers of resolvConf. */
  upstreams: UpstreamServer[];
  resolvConf: string;
  upstreamTimeoutMs: number;
  recursionCidrs: string[];
  /** Search domains the pods have after the cluster's three (autopath); the kubelet writes none. */
  extraSearch: string[];
  cacheSize: number;
  workers: number;
  dnsAddresses: string[];
  drainMs: number;
  tcpIdleMs: number;
}

/** What the pid file holds: enough for an agent to find, verify and adopt the process. */
export interface DnsPidFile {
  pid: number;
  /** /proc/<pid>/stat start time (clock ticks since boot). */
  startTicks: number;
  startedAt: string;
  feedSocket: string;
  listen: BoundAddress[];
  health?: string;
  workers: number;
}

export function readDnsPidFile(path: string): DnsPidFile | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as DnsPidFile;
  } catch {
    return undefined;
  }
}

// A worker says hello, gets the current data (init), and only then binds, so no worker ever answers without it.
type WorkerMessage = { kind: 'hello' } | { kind: 'bound'; bound: BoundAddress[] };
type PrimaryMessage = { kind: 'init'; line?: string } | { kind: 'feed'; line: string } | { kind: 'drain' };

const WORKER_ENV = 'MESHLET_DNS_WORKER_CONFIG';

function upstreamsOf(config: DnsConfig): UpstreamServer[] {
  if (config.upstreams.length) return config.upstreams;
  let text = '';
  try {
    text = readFileSync(config.resolvConf, 'utf8');
  } catch {
    // no resolv.conf: no upstreams, every forward is SERVFAIL
  }
  return parseResolvConf(text).nameservers.map((host) => ({ host, port: 53 }));
}

/** One resolver with its listeners: the whole DNS of a single-process server or of one worker. */
async function startServing(config: DnsConfig, logger: Logger, metrics: DnsMetrics, initial?: FeedMessage): Promise<{ resolver: Resolver; server: DnsServer; upstream: Upstreams }> {
  const zone = new ClusterZone({ zone: config.zone, ttl: config.ttl, podMode: config.podMode, dnsAddresses: config.dnsAddresses });
  const servers = upstreamsOf(config);
  if (servers.length === 0) logger.warn('no upstream resolvers: names outside the cluster get SERVFAIL');
  const upstream = new Upstreams({
    servers,
    timeoutMs: config.upstreamTimeoutMs,
    observe: (server, seconds, outcome) => metrics.upstreamSeconds.observe({ server, outcome }, seconds),
  });
  const resolver = new Resolver({
    zone, forwarder: upstream, acl: new RecursionAcl(config.recursionCidrs), autopath: config.autopath,
    extraSearch: config.extraSearch, upstreamCacheSize: config.cacheSize, metrics,
  });
  if (initial) resolver.applyFeed(initial);
  const server = new DnsServer({ resolver, listen: config.listen, logger, metrics, tcpIdleMs: config.tcpIdleMs });
  await server.start();
  return { resolver, server, upstream };
}

function writePidFile(path: string, content: DnsPidFile): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(content)}\n`);
  renameSync(tmp, path);
}

async function startHealth(listen: HttpListen, ready: () => { ok: boolean; message: string }, metricsText: () => Promise<{ type: string; text: string }>): Promise<Listening> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' || path === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const r = ready();
      res.writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${r.message}\n`);
    } else if (path === '/metrics') {
      metricsText().then(
        (m) => res.writeHead(200, { 'content-type': m.type }).end(m.text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  return listenHttp(server, listen, 'socketPath' in listen ? 0o600 : undefined);
}

export interface RunningDns {
  bound: BoundAddress[];
  stop(): Promise<void>;
}

/** Starts the DNS (primary side in worker mode). */
export async function runDns(config: DnsConfig, logger: Logger): Promise<RunningDns> {
  const feedMetrics = new FeedMetrics();
  const st = readStat(process.pid);
  const feedSocket = resolvePath(config.feedSocket);
  let snapshots = 0;
  const noteApplied = (m: FeedMessage, counts: Record<string, number>): void => {
    if (m.type === 'snapshot') snapshots++;
    feedMetrics.seq.set(m.seq);
    feedMetrics.messages.inc({ type: m.type });
    for (const [kind, n] of Object.entries(counts)) feedMetrics.objects.set({ kind }, n);
  };
  const ready = (): { ok: boolean; message: string } => (snapshots > 0 ? { ok: true, message: 'ok' } : { ok: false, message: 'no cluster data yet (no snapshot on the feed)' });

  let bound: BoundAddress[];
  let stopServing: () => Promise<void>;
  let apply: (m: FeedMessage, line: string) => void | Promise<void>;
  let metricsText: () => Promise<{ type: string; text: string }>;

  if (config.workers <= 1) {
    const metrics = new DnsMetrics({ defaultMetrics: true });
    const { resolver, server, upstream } = await startServing(config, logger, metrics);
    bound = server.bound;
    apply = async (m) => {
      if (m.type === 'snapshot') {
        await resolver.applyFeedGradually(m, collectGarbage);
        collectGarbage();
      } else resolver.applyFeed(m);
      const c = resolver.zone.counts();
      noteApplied(m, { Service: c.services, EndpointSlice: c.endpointSlices, Pod: c.pods, Namespace: c.namespaces });
    };
    const merged = Registry.merge([metrics.registry, feedMetrics.registry]);
    metricsText = async () => ({ type: merged.contentType, text: await merged.metrics() });
    stopServing = async () => {
      await server.drain(config.drainMs);
      upstream.close();
    };
  } else {
    const state = new FeedState();
    const workers = new Set<Worker>();
    /** Workers that have had their init snapshot: they get every later delta. */
    const inited = new Set<Worker>();
    let stopping = false;
    let firstBound: BoundAddress[] | undefined;
    const aggregator = new AggregatorRegistry();
    cluster.setupPrimary({ execArgv: process.execArgv });
    const fork = (): Promise<BoundAddress[]> =>
      new Promise((resolve, reject) => {
        const w = cluster.fork({ [WORKER_ENV]: JSON.stringify(config) });
        workers.add(w);
        let started = false;
        w.on('message', (msg: WorkerMessage) => {
          if (msg.kind === 'hello') {
            // Bring it up to date before it serves: everything so far as one snapshot.
            w.send({ kind: 'init', ...(snapshots > 0 ? { line: JSON.stringify(state.snapshot()) } : {}) } satisfies PrimaryMessage);
            inited.add(w);
          } else if (msg.kind === 'bound') {
            started = true;
            resolve(msg.bound);
          }
        });
        w.on('exit', (code, signal) => {
          workers.delete(w);
          inited.delete(w);
          if (!started) reject(new Error(`DNS worker exited before serving (code ${code}, signal ${signal})`));
          else if (!stopping) {
            logger.error({ code, signal }, 'DNS worker died; starting another');
            setTimeout(() => void fork().catch((err: unknown) => logger.error({ err }, 'restarting a DNS worker failed')), 500);
          }
        });
      });
    try {
      for (let i = 0; i < config.workers; i++) {
        const b = await fork();
        firstBound ??= b;
      }
    } catch (err) {
      stopping = true;
      for (const w of workers) w.kill();
      throw err;
    }
    bound = firstBound ?? [];
    apply = (m, line) => {
      state.apply(m);
      for (const w of inited) w.send({ kind: 'feed', line } satisfies PrimaryMessage);
      noteApplied(m, state.counts());
    };
    metricsText = async () => ({
      type: aggregator.contentType,
      text: `${await aggregator.clusterMetrics()}\n${await feedMetrics.registry.metrics()}`,
    });
    stopServing = async () => {
      stopping = true;
      const exits = [...workers].map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))));
      for (const w of workers) w.send({ kind: 'drain' } satisfies PrimaryMessage);
      const timer = setTimeout(() => {
        for (const w of workers) w.kill('SIGKILL');
      }, config.drainMs + 2000);
      await Promise.all(exits);
      clearTimeout(timer);
    };
  }

  const feed = new FeedServer({
    path: feedSocket, logger,
    apply: (m, line) => apply(m, line),
    onConnected: (c) => feedMetrics.connected.set(c ? 1 : 0),
  });
  await feed.start();
  const health = config.healthListen ? await startHealth(config.healthListen, ready, metricsText) : undefined;
  if (config.pidFile) {
    writePidFile(config.pidFile, {
      pid: process.pid, startTicks: st?.startTicks ?? 0, startedAt: new Date().toISOString(), feedSocket, listen: bound,
      ...(config.healthListen ? { health: 'socketPath' in config.healthListen ? config.healthListen.socketPath : `${config.healthListen.host}:${health?.port}` } : {}),
      workers: Math.max(1, config.workers),
    });
  }
  logger.info({ listen: bound, feedSocket, workers: Math.max(1, config.workers), zone: config.zone, podMode: config.podMode, autopath: config.autopath }, 'DNS serving');
  return {
    bound,
    stop: async () => {
      await stopServing();
      await feed.close();
      await health?.close();
      if (config.pidFile) rmSync(config.pidFile, { force: true });
    },
  };
}

/** True in a worker forked by runDns. */
export function isDnsWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV] !== undefined;
}

/** The body of a worker process: serve, take the feed from the primary, drain when told. */
export async function runDnsWorker(logger: Logger): Promise<void> {
  const config = JSON.parse(process.env[WORKER_ENV] ?? '{}') as DnsConfig;
  const metrics = new DnsMetrics({ defaultMetrics: false });
  AggregatorRegistry.setRegistries([metrics.registry]);
  // Messages are events: listen before anything is awaited, and hold deltas until the resolver exists.
  let serving: Awaited<ReturnType<typeof startServing>> | undefined;
  const early: PrimaryMessage[] = [];
  let gotInit: (m: PrimaryMessage) => void = () => undefined;
  const init = new Promise<PrimaryMessage>((r) => (gotInit = r));
  let chain: Promise<void> = Promise.resolve();
  const handle = (msg: PrimaryMessage): void => {
    if (!serving) return void early.push(msg);
    if (msg.kind === 'feed') {
      const resolver = serving.resolver;
      chain = chain.then(async () => {
        try {
          const m = parseFeedLine(msg.line);
          if (m.type === 'snapshot') {
            await resolver.applyFeedGradually(m, collectGarbage);
            collectGarbage();
          } else resolver.applyFeed(m);
        } catch (err) {
          logger.error({ err }, 'worker could not apply a feed message');
        }
      });
    } else if (msg.kind === 'drain') {
      const s = serving;
      void s.server.drain(config.drainMs).then(() => {
        s.upstream.close();
        process.exit(0);
      });
    }
  };
  process.on('message', (msg: PrimaryMessage) => (msg.kind === 'init' ? gotInit(msg) : handle(msg)));
  process.send?.({ kind: 'hello' } satisfies WorkerMessage);
  const first = await init;
  serving = await startServing(config, logger, metrics, first.kind === 'init' && first.line ? parseFeedLine(first.line) : undefined);
  collectGarbage();
  for (const m of early.splice(0)) handle(m);
  const { server } = serving;
  // The primary's signals reach the whole process group: the primary decides when workers stop.
  process.on('SIGTERM', () => undefined);
  process.on('SIGINT', () => undefined);
  process.send?.({ kind: 'bound', bound: server.bound } satisfies WorkerMessage);
}
