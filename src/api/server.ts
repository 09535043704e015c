// The meshlet API server: Kubernetes REST over HTTP on TCP and/or a unix socket.
// Routing (router.ts) → authentication/authorization (auth.ts) → the registry
// (registry.ts) or a watch stream (watch-stream.ts); replies through http-io.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { existsSync, unlinkSync, statSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import { KubeError, isKubeError } from '../core/errors.ts';
import { apiVersionOf } from '../core/resources.ts';
import type { Json, KubeObject } from '../core/types.ts';
import type { Store } from '../store/types.ts';
import { authenticate, authorize, authorizeNonResource, forbiddenPodOfOtherNode, nodeAdmission, nodePodCheck, type Identity, type TokenSet } from './auth.ts';
import { ensureDefaultNamespaces, ensureKubeDns } from './bootstrap.ts';
import {
  AGGREGATED_DISCOVERY_CONTENT_TYPE,
  aggregatedDiscovery,
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  versionInfo,
  wantsAggregatedDiscovery,
} from './discovery.ts';
import {
  DEFAULT_MAX_BODY_BYTES,
  decodeBody,
  includeObjectParam,
  type DecodeOptions,
  negotiateReply,
  readBody,
  toStatus,
  wantsTable,
  writeJson,
  writeObject,
  writeStatus,
  writeText,
} from './http-io.ts';
import { createApiMetrics, type ApiMetrics } from './metrics.ts';
import { openApiV2Document, openApiV2ETag, openApiV3Document, openApiV3Root } from './openapi.ts';
import { OPENAPI_V2_PROTOBUF_MEDIA_TYPE, encodeOpenApiV2 } from './openapi-v2-protobuf.ts';
import { ClusterIpAllocator } from './cluster-ip.ts';
import { DEFAULT_NODE_PORT_RANGE, NodePortAllocator } from './node-ports.ts';
import { DEFAULT_SERVICE_CIDR } from '../core/service-cidr.ts';
import type { DefaultTolerationSeconds } from './default-tolerations.ts';
import { Registry, parseFilter, type Admit, type Reply } from './registry.ts';
import { servePodLogs } from './pod-logs.ts';
import { HPA_V1_API_VERSION, HPA_V1_VERBS, hpaV1ToV2, refuseV1Verb, replyAsV1 } from './hpa-v1.ts';
import { serveMetrics } from './metrics-api.ts';
import { UsageScraper } from './metrics-api-scraper.ts';
import { queryFlag } from './query-params.ts';
import { STREAM_SUBRESOURCES, route, type DiscoveryRoute, type ResourceRoute } from './router.ts';
import { serveStreamUpgrade, type StreamProxyDeps } from './stream-proxy.ts';
import { tableFor } from './tables.ts';
import { serveWatch, type ActiveWatch } from './watch-stream.ts';

export interface ApiServerOptions {
  store: Store;
  /** TCP, e.g. 127.0.0.1:6443 (port 0 = any). */
  listen?: { host: string; port: number };
  /** Also listen on this unix socket (lab nodes in other network namespaces reach the server this way). */
  socketPath?: string;
  tokens: TokenSet;
  /** Default 3 MiB → 413 beyond. */
  maxBodyBytes?: number;
  logger?: Logger;
  /**
   * Serving certificate for the TCP listener. With it, the TCP port speaks
   * https and plain http alike (told apart by the first byte): kubectl needs
   * https to send its token at all; meshlet's own clients may use http.
   * The unix socket is always plain http.
   */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** How often idle watches with allowWatchBookmarks get a BOOKMARK. Default 10 s. */
  watchBookmarkIntervalMs?: number;
  /** Where Service ClusterIPs come from. Default 10.96.0.0/16. */
  serviceCidr?: string;
  /** Where Service node ports come from, "FIRST-LAST". Default 30000-32767. */
  serviceNodePortRange?: string;
  /** Seconds new pods tolerate the not-ready and unreachable NoExecute taints (default 300 each). */
  defaultTolerations?: DefaultTolerationSeconds;
  /** metrics.k8s.io's scrape of the kubelets: per-node timeout (default 2 s), cache TTL (default 5 s), concurrency (default 16). */
  resourceMetrics?: { scrapeTimeoutMs?: number; cacheTtlMs?: number; concurrency?: number };
}

export interface ApiServer {
  address: { host: string; port: number } | undefined;
  socketPath?: string;
  metrics: MetricsRegistry;
  close(): Promise<void>;
}

/** Paths anyone may read without a token. */
const ANONYMOUS: ReadonlySet<string> = new Set(['version', 'health']);
/** Longest a watch may run without timeoutSeconds; clients re-watch. */
const DEFAULT_WATCH_TIMEOUT_S = 1800;

interface Context {
  store: Store;
  registry: Registry;
  tokens: TokenSet;
  maxBodyBytes: number;
  logger: Logger;
  metrics: ApiMetrics;
  watches: Set<ActiveWatch>;
  bookmarkIntervalMs: number;
  scraper: UsageScraper;
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  if (!opts.listen && !opts.socketPath) throw new Error('startApiServer: give listen and/or socketPath');
  const logger = opts.logger ?? pino({ level: 'info' }).child({ component: 'apiserver' });
  await ensureDefaultNamespaces(opts.store);
  const clusterIps = new ClusterIpAllocator(opts.store.leases, opts.serviceCidr ?? DEFAULT_SERVICE_CIDR);
  const nodePorts = new NodePortAllocator(opts.store.leases, opts.serviceNodePortRange ?? DEFAULT_NODE_PORT_RANGE);
  const registry = new Registry(opts.store, { clusterIps, nodePorts, defaultTolerations: opts.defaultTolerations });
  const repaired = await registry.repairAllocations();
  if (repaired > 0) logger.info({ released: repaired }, 'released ClusterIPs and node ports held by no Service');
  try {
    if (await ensureKubeDns(opts.store, clusterIps)) logger.info({ clusterIP: clusterIps.dnsAddress }, 'created Service kube-system/kube-dns');
  } catch (err) {
    if (!isKubeError(err, 'Invalid')) throw err;
    logger.error({ err, clusterIP: clusterIps.dnsAddress }, 'cannot create Service kube-system/kube-dns: another Service holds the cluster DNS address');
  }
  const metrics = createApiMetrics();
  const ctx: Context = {
    store: opts.store,
    registry,
    tokens: opts.tokens,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    logger,
    metrics,
    watches: new Set(),
    bookmarkIntervalMs: opts.watchBookmarkIntervalMs ?? 10_000,
    scraper: new UsageScraper({
      tokens: opts.tokens,
      logger,
      registry: metrics.registry,
      timeoutMs: opts.resourceMetrics?.scrapeTimeoutMs,
      cacheTtlMs: opts.resourceMetrics?.cacheTtlMs,
      concurrency: opts.resourceMetrics?.concurrency,
    }),
  };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    handle(ctx, req, res).catch((err: unknown) => {
      logger.error({ err }, 'request handler failed');
      if (!res.headersSent) writeStatus(res, toStatus(err));
      else res.destroy();
    });
  };
  const streams: StreamProxyDeps = {
    store: opts.store,
    tokens: opts.tokens,
    logger,
    observe: (resource, code, seconds) => ctx.metrics.observeRequest('create', resource, code, seconds),
  };
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    track(socket as Socket);
    void serveStreamUpgrade(streams, req, socket, head);
  };
  const listeners: NetServer[] = [];
  const httpServers: Server[] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  let address: ApiServer['address'];
  if (opts.listen) {
    const plain = createServer(handler);
    plain.on('upgrade', upgrade);
    httpServers.push(plain);
    const secure = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handler) : undefined;
    secure?.on('upgrade', upgrade);
    if (secure) httpServers.push(secure);
    const tcp = createNetServer((socket) => {
      track(socket);
      if (!secure) return plain.emit('connection', socket);
      dispatchByFirstByte(socket, plain, secure);
    });
    await listen(tcp, () => tcp.listen(opts.listen!.port, opts.listen!.host));
    const a = tcp.address() as AddressInfo;
    address = { host: a.address, port: a.port };
    listeners.push(tcp);
  }
  if (opts.socketPath) {
    if (existsSync(opts.socketPath) && statSync(opts.socketPath).isSocket()) unlinkSync(opts.socketPath);
    const unix = createServer(handler);
    unix.on('connection', track);
    unix.on('upgrade', upgrade);
    await listen(unix, () => unix.listen(opts.socketPath));
    httpServers.push(unix);
    listeners.push(unix);
  }
  logger.info({ address, socketPath: opts.socketPath }, 'API server listening');
  let closed = false;
  return {
    address,
    socketPath: opts.socketPath,
    metrics: ctx.metrics.registry,
    async close() {
      if (closed) return;
      closed = true;
      for (const w of ctx.watches) w.close();
      const stopped = listeners.map((l) => new Promise<void>((resolve) => l.close(() => resolve())));
      for (const s of httpServers) s.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await Promise.all(stopped);
    },
  };
}

/** A TLS ClientHello starts with 0x16: such connections go to the https server, the rest to plain http. */
function dispatchByFirstByte(socket: Socket, plain: Server, secure: Server): void {
  socket.once('readable', () => {
    const first: Buffer | null = socket.read(1);
    if (first === null) {
      // Closed before sending anything.
      socket.destroy();
      return;
    }
    socket.unshift(first);
    (first[0] === 0x16 ? secure : plain).emit('connection', socket);
  });
}

function listen(server: NetServer, start: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
    start();
  });
}

async function handle(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = process.hrtime.bigint();
  const url = new URL(req.url ?? '/', 'http://localhost');
  let verb = (req.method ?? 'GET').toLowerCase();
  let resource = '';
  let user: string | undefined;
  let watch: ActiveWatch | undefined;
  const finish = (): void => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    ctx.metrics.observeRequest(verb, resource, res.statusCode, seconds);
    ctx.logger.debug({ method: req.method, path: url.pathname, query: url.search, user, code: res.statusCode, ms: Math.round(seconds * 1000) }, 'request');
  };
  negotiateReply(req, res);
  try {
    const r = route(req.method ?? 'GET', url.pathname, url.searchParams);
    let identity: Identity | undefined;
    if (!ANONYMOUS.has(r.type)) {
      identity = authenticate(ctx.tokens, req.headers.authorization);
      user = identity.user;
    }
    if (r.type === 'resource') {
      verb = r.verb;
      resource = r.subresource ? `${r.gr}/${r.subresource}` : r.gr;
      const attrs = { verb: r.verb, resource: r.gr, subresource: r.subresource, namespace: r.namespace, name: r.name };
      authorize(identity!, attrs);
      const node = nodePodCheck(identity!, attrs);
      if (node !== undefined) {
        const pod = await ctx.store.get('pods', r.namespace ?? '', r.name ?? '');
        const boundTo = (pod?.spec as { nodeName?: string } | undefined)?.nodeName;
        if (pod && boundTo !== node) throw forbiddenPodOfOtherNode(identity!, attrs);
      }
      if (r.subresource && STREAM_SUBRESOURCES.has(r.subresource) && r.gr === 'pods') {
        throw new KubeError('BadRequest', 'Upgrade request required');
      }
      if (r.servedAs && !HPA_V1_VERBS.has(r.verb)) throw refuseV1Verb(r.verb);
      if (r.verb === 'watch') {
        watch = await startWatch(ctx, r, req, res, url.searchParams);
      } else if (r.verb === 'get' && r.gr === 'pods' && r.subresource === 'log') {
        await servePodLogs(ctx.store, ctx.tokens, { namespace: r.namespace ?? '', name: r.name ?? '' }, url.searchParams, req, res);
      } else {
        const who = identity!;
        const admit: Admit = (old, next) => {
          const refused = nodeAdmission(who, attrs, old, next);
          if (refused) throw refused;
        };
        const reply = await resourceRequest(ctx, r, req, url.searchParams, admit);
        writeObject(res, reply.code, reply.body);
      }
    } else if (r.type === 'resourceMetrics') {
      verb = r.verb;
      resource = r.gr;
      authorize(identity!, { verb: r.verb, resource: r.gr, namespace: r.namespace, name: r.name });
      writeObject(res, 200, await serveMetrics({ store: ctx.store, scraper: ctx.scraper }, r, url.searchParams));
    } else {
      if (identity) authorizeNonResource(identity, url.pathname);
      await discoveryRequest(ctx, r, req, res);
    }
  } catch (err) {
    const status = toStatus(err);
    if (status.code === 413) res.setHeader('Connection', 'close');
    if (status.code >= 500) ctx.logger.error({ err, path: url.pathname }, 'internal error');
    writeStatus(res, status);
  }
  if (watch) {
    ctx.watches.add(watch);
    ctx.metrics.watchOpened();
    const w = watch;
    void w.done.then(() => {
      ctx.watches.delete(w);
      ctx.metrics.watchClosed();
      finish();
    });
  } else finish();
}

async function readDecodedBody(ctx: Context, req: IncomingMessage, opts?: DecodeOptions) {
  const body = await readBody(req, ctx.maxBodyBytes);
  return decodeBody(body, req.headers['content-type'], opts);
}

async function resourceRequest(ctx: Context, r: ResourceRoute, req: IncomingMessage, query: URLSearchParams, admit: Admit): Promise<Reply> {
  if (r.servedAs === HPA_V1_API_VERSION) return hpaV1Request(ctx, r, req, query, admit);
  const table = wantsTable(req.headers.accept);
  switch (r.verb) {
    case 'get': {
      const reply = await ctx.registry.get(r);
      if (table && !r.subresource) {
        const obj = reply.body as KubeObject;
        return { code: 200, body: tableFor(r.info, [obj], { includeObject: includeObjectParam(query), resourceVersion: obj.metadata.resourceVersion }) };
      }
      return reply;
    }
    case 'list': {
      const page = await ctx.registry.list(r, query);
      if (table) {
        return { code: 200, body: tableFor(r.info, page.items, { includeObject: includeObjectParam(query), resourceVersion: page.resourceVersion, continue: page.continue }) };
      }
      const metadata: Record<string, unknown> = { resourceVersion: page.resourceVersion };
      if (page.continue) metadata.continue = page.continue;
      if (page.remainingItemCount !== undefined) metadata.remainingItemCount = page.remainingItemCount;
      return { code: 200, body: { kind: r.info.listKind, apiVersion: apiVersionOf(r.info), metadata, items: page.items } };
    }
    case 'create':
      return ctx.registry.create(r, await readDecodedBody(ctx, req), query, admit);
    case 'update':
      return ctx.registry.update(r, await readDecodedBody(ctx, req), query, admit);
    case 'patch':
      return ctx.registry.patch(r, await readDecodedBody(ctx, req, { protobuf: false }), req.headers['content-type'], query, admit);
    case 'delete':
      return ctx.registry.delete(r, await readDecodedBody(ctx, req), query);
    case 'deletecollection':
      return ctx.registry.deleteCollection(r, await readDecodedBody(ctx, req), query);
    case 'watch':
      throw new KubeError('InternalError', 'watch is served as a stream');
  }
}

/** autoscaling/v1 HPAs: the v1 body converted to the stored v2, the reply back to v1 (src/api/hpa-v1.ts). */
async function hpaV1Request(ctx: Context, r: ResourceRoute, req: IncomingMessage, query: URLSearchParams, admit: Admit): Promise<Reply> {
  if (!HPA_V1_VERBS.has(r.verb) || r.subresource) throw refuseV1Verb(r.verb);
  const asV2 = (body: Json | undefined): Json | undefined =>
    body !== null && typeof body === 'object' && !Array.isArray(body) ? (hpaV1ToV2(body as unknown as KubeObject) as unknown as Json) : body;
  const v2Route: ResourceRoute = { ...r, servedAs: undefined };
  let reply: Reply;
  if (r.verb === 'create') reply = await ctx.registry.create(v2Route, asV2(await readDecodedBody(ctx, req)), query, admit);
  else if (r.verb === 'update') reply = await ctx.registry.update(v2Route, asV2(await readDecodedBody(ctx, req)), query, admit);
  else reply = await resourceRequest(ctx, v2Route, req, query, admit);
  return { code: reply.code, body: replyAsV1(reply.body) };
}

async function startWatch(ctx: Context, r: ResourceRoute, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<ActiveWatch> {
  const table = wantsTable(req.headers.accept);
  const includeObject = includeObjectParam(query);
  const timeoutText = query.get('timeoutSeconds');
  const timeoutSeconds = timeoutText ? Number(timeoutText) : DEFAULT_WATCH_TIMEOUT_S;
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0) throw new KubeError('BadRequest', `timeoutSeconds: invalid value "${timeoutText}"`);
  return serveWatch(
    ctx.store,
    {
      info: r.info,
      gr: r.gr,
      namespace: r.namespace,
      filter: parseFilter(r.info, query, r.name),
      resourceVersion: query.get('resourceVersion') ?? '',
      allowBookmarks: queryFlag(query, 'allowWatchBookmarks'),
      bookmarkIntervalMs: ctx.bookmarkIntervalMs,
      timeoutSeconds,
      encode: table
        ? (obj) => tableFor(r.info, [obj], { includeObject, resourceVersion: obj.metadata.resourceVersion })
        : (obj) => obj,
    },
    res,
  );
}

async function discoveryRequest(ctx: Context, r: DiscoveryRoute, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const found = (body: unknown): void => {
    if (body === undefined) throw new KubeError('NotFound', 'the server could not find the requested resource');
    writeJson(res, 200, body);
  };
  switch (r.type) {
    case 'version':
      return found(versionInfo());
    case 'apiVersions':
    case 'apiGroupList':
      res.setHeader('Vary', 'Accept');
      if (wantsAggregatedDiscovery(req.headers.accept)) {
        return writeJson(res, 200, aggregatedDiscovery(r.type === 'apiVersions'), AGGREGATED_DISCOVERY_CONTENT_TYPE);
      }
      return found(r.type === 'apiVersions' ? apiVersions(req.headers.host ?? 'localhost') : apiGroupList());
    case 'apiGroup':
      return found(apiGroup(r.group));
    case 'apiResourceList':
      return found(apiResourceList(r.group, r.version));
    case 'openapiV2':
      return serveOpenApiV2(req, res);
    case 'openapiV3Root':
      return found(openApiV3Root());
    case 'openapiV3Document':
      return found(openApiV3Document(r.group, r.version));
    case 'metrics':
      return writeText(res, 200, await ctx.metrics.registry.metrics(), ctx.metrics.registry.contentType);
    case 'health':
      if (r.check === 'readyz') {
        try {
          await ctx.store.currentResourceVersion();
        } catch (err) {
          return writeText(res, 503, `[-]store failed: ${(err as Error).message}\nreadyz check failed\n`);
        }
      }
      return writeText(res, 200, 'ok');
  }
}

let openApiV2Protobuf: Buffer | undefined;

/** /openapi/v2 as gnostic protobuf when asked (client-go asks for nothing else), JSON otherwise. */
function serveOpenApiV2(req: IncomingMessage, res: ServerResponse): void {
  const etag = openApiV2ETag();
  res.setHeader('ETag', etag);
  res.setHeader('Vary', 'Accept');
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304);
    res.end();
    return;
  }
  if ((req.headers.accept ?? '').includes(OPENAPI_V2_PROTOBUF_MEDIA_TYPE)) {
    openApiV2Protobuf ??= encodeOpenApiV2(openApiV2Document());
    // Go's mime parser rejects the '@' of the requested type: upstream answers octet-stream too.
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': openApiV2Protobuf.length });
    res.end(openApiV2Protobuf);
    return;
  }
  writeJson(res, 200, openApiV2Document());
}
