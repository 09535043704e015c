// metrics.k8s.io against a real API server and real kubelet servers (unix
// sockets): `kubectl top pods -A`'s request (GET /apis/metrics.k8s.io/v1beta1/pods)
// over <pods> pods on <nodes> nodes, uncached (every request scrapes every
// kubelet) and cached (the 5 s TTL), against a plain pods list in the same run
// as the baseline; and `top nodes` with one hung node (bounded by the 2 s timeout).
//
//   node --import tsx bench/metrics-api.bench.ts [--pods 1000] [--nodes 10] [--requests 30]
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import pino from 'pino';
import { generateTokenFile, loadTokenFile } from '../src/api/auth.ts';
import { startApiServer, type ApiServer } from '../src/api/server.ts';
import { startKubeletServer, type KubeletServer } from '../src/agent/kubelet-server.ts';
import type { KubeObject } from '../src/core/types.ts';
import type { UsageSummary } from '../src/core/usage-summary.ts';
import { KUBELET_ENDPOINT_ANNOTATION, NODES_GROUP, NODE_USER_PREFIX } from '../src/core/well-known.ts';
import { startRedis } from '../src/store/redis-process.ts';
import { RedisStore } from '../src/store/redis-store.ts';
import { machineInfo, median, parseFlags, percentile, printResult } from './stats.ts';

const flags = parseFlags(process.argv.slice(2), { pods: 1000, nodes: 10, requests: 30 });
const sample = (cpu: number, mem: number) => ({ timestamp: new Date().toISOString(), windowSeconds: 15, cpuNanoCores: cpu, memoryWorkingSetBytes: mem });

async function timeRequests(url: string, token: string, path: string, n: number): Promise<{ p50: number; p99: number; items: number }> {
  const lat: number[] = [];
  let items = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(url + path, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { items?: unknown[] };
    lat.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    items = body.items?.length ?? 0;
  }
  return { p50: median(lat), p99: percentile(lat, 99), items };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mlt-w4met-bench-'));
  const redis = await startRedis({ dir: join(dir, 'redis') });
  const store = await RedisStore.connect(redis.url, { historySize: 50000 });
  const nodeNames = Array.from({ length: flags.nodes }, (_, i) => `w4met-bench-${i}`);
  const tokenFile = join(dir, 'tokens.csv');
  const byUser = generateTokenFile(tokenFile, [
    { user: 'admin', uid: 'admin', groups: ['system:masters'] },
    ...[...nodeNames, 'w4met-bench-hung'].map((n) => ({ user: `${NODE_USER_PREFIX}${n}`, uid: n, groups: [NODES_GROUP] })),
  ]);
  const admin = byUser.get('admin')!;
  const kubelets: KubeletServer[] = [];
  const servers: ApiServer[] = [];
  const hungSockets = new Set<Socket>();
  const hung = createServer((s) => {
    hungSockets.add(s);
    s.on('close', () => hungSockets.delete(s));
  });
  try {
    const pods = new Map<string, UsageSummary['pods']>(nodeNames.map((n) => [n, []]));
    for (let i = 0; i < flags.pods; i++) {
      const node = nodeNames[i % nodeNames.length];
      const uid = `uid-${i}`;
      const name = `p-${i}`;
      await store.create('pods', {
        apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', uid, labels: { app: `a${i % 7}` } },
        spec: { nodeName: node, containers: [{ name: 'main', image: 'busybox' }, { name: 'side', image: 'busybox' }] },
      } as KubeObject);
      pods.get(node)!.push({ namespace: 'default', name, uid, ...sample(2e6 * 2, 4 * 2 ** 20), containers: ['main', 'side'].map((c) => ({ name: c, ...sample(2e6, 2 ** 21) })) });
    }
    const ready = { conditions: [{ type: 'Ready', status: 'True' }], allocatable: { cpu: '4', memory: '8Gi' }, capacity: { cpu: '4', memory: '8Gi' } };
    for (const node of nodeNames) {
      const socketPath = join(dir, `${node}.sock`);
      kubelets.push(await startKubeletServer({
        listen: { socketPath }, token: byUser.get(`${NODE_USER_PREFIX}${node}`)!, readLogs: () => Readable.from([]), logger: pino({ level: 'silent' }),
        usage: () => ({ node: { nodeName: node, ...sample(1e9, 2 ** 32) }, pods: pods.get(node)! }),
      }));
      await store.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: node, annotations: { [KUBELET_ENDPOINT_ANNOTATION]: `unix://${socketPath}` } }, status: ready } as KubeObject);
    }
    const tokens = loadTokenFile(tokenFile);
    const logger = pino({ level: 'silent' });
    const uncached = await startApiServer({ store, listen: { host: '127.0.0.1', port: 0 }, tokens, logger, resourceMetrics: { cacheTtlMs: 0 } });
    servers.push(uncached);
    const cached = await startApiServer({ store, listen: { host: '127.0.0.1', port: 0 }, tokens, logger });
    servers.push(cached);
    const u = `http://127.0.0.1:${uncached.address!.port}`;
    const c = `http://127.0.0.1:${cached.address!.port}`;
    const podsList = await timeRequests(u, admin, '/api/v1/pods', flags.requests);
    const topUncached = await timeRequests(u, admin, '/apis/metrics.k8s.io/v1beta1/pods', flags.requests);
    await timeRequests(c, admin, '/apis/metrics.k8s.io/v1beta1/pods', 1);
    const topCached = await timeRequests(c, admin, '/apis/metrics.k8s.io/v1beta1/pods', flags.requests);
    const topNodes = await timeRequests(u, admin, '/apis/metrics.k8s.io/v1beta1/nodes', flags.requests);
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    await store.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'w4met-bench-hung', annotations: { [KUBELET_ENDPOINT_ANNOTATION]: `http://127.0.0.1:${(hung.address() as { port: number }).port}` } }, status: ready } as KubeObject);
    const topNodesHung = await timeRequests(u, admin, '/apis/metrics.k8s.io/v1beta1/nodes', 3);
    printResult({
      bench: 'metrics-api',
      machine: machineInfo(),
      pods: flags.pods,
      nodes: flags.nodes,
      requests: flags.requests,
      podsListMs: { p50: podsList.p50, p99: podsList.p99, items: podsList.items },
      topPodsUncachedMs: { p50: topUncached.p50, p99: topUncached.p99, items: topUncached.items },
      topPodsCachedMs: { p50: topCached.p50, p99: topCached.p99, items: topCached.items },
      topNodesUncachedMs: { p50: topNodes.p50, p99: topNodes.p99, items: topNodes.items },
      topNodesOneHungNodeMs: { p50: topNodesHung.p50, items: topNodesHung.items },
    });
  } finally {
    for (const s of hungSockets) s.destroy();
    hung.close();
    for (const s of servers) await s.close();
    for (const k of kubelets) await k.close();
    await store.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
