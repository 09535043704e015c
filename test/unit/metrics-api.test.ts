// metrics.k8s.io's pure parts: quantity and duration formatting, the checks on
// a kubelet's summary, the merge with the API's pods, selection, routing,
// discovery and authorization; and the scrape's cache, timeout and
// concurrency bound against a real kubelet server on a unix socket.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { bytesQuantity, nanoCoresQuantity } from '../../src/core/quantity-format.ts';
import { intValue, milliValue } from '../../src/core/quantity.ts';
import { goDuration } from '../../src/core/time.ts';
import type { KubeObject } from '../../src/core/types.ts';
import type { UsageSummary } from '../../src/core/usage-summary.ts';
import { isNodeReady, nodeMetricsOf, nodesHosting, parseMetricsSelection, parseUsageSummary, podMetricsOf, selects } from '../../src/api/metrics-api-model.ts';
import { UsageScraper } from '../../src/api/metrics-api-scraper.ts';
import { route } from '../../src/api/router.ts';
import { aggregatedDiscovery, apiGroupList, apiResourceList } from '../../src/api/discovery.ts';
import { isAllowed, type Identity } from '../../src/api/auth.ts';
import { KubeError } from '../../src/core/errors.ts';
import { startKubeletServer } from '../../src/agent/kubelet-server.ts';
import { KUBELET_ENDPOINT_ANNOTATION } from '../../src/core/well-known.ts';

const T = '2026-12-02T00:00:05.123Z';
const sample = (cpu: number, mem: number) => ({ timestamp: T, windowSeconds: 15, cpuNanoCores: cpu, memoryWorkingSetBytes: mem });

describe('quantities as metrics-server writes them', () => {
  it('CPU in nanocores: the largest suffix keeping a whole number', () => {
    const cases: [number, string][] = [[0, '0'], [329087452, '329087452n'], [5_000_000, '5m'], [1_500_000_000, '1500m'], [2_000_000_000, '2'], [4e12, '4k'], [1000, '1u']];
    for (const [n, text] of cases) {
      assert.equal(nanoCoresQuantity(n), text, String(n));
      assert.equal(milliValue(text), Math.ceil(n / 1e6), `${text} parses back`);
    }
  });
  it('memory in bytes: binary suffixes, decimal below 1024 as upstream', () => {
    const cases: [number, string][] = [[0, '0'], [512, '512'], [1000, '1k'], [1024, '1Ki'], [1536, '1536'], [2748180 * 1024, '2748180Ki'], [3 * 1024 ** 3, '3Gi']];
    for (const [n, text] of cases) {
      assert.equal(bytesQuantity(n), text, String(n));
      assert.equal(intValue(text), n, `${text} parses back`);
    }
  });
  it('refuses what is not a whole non-negative number', () => {
    assert.throws(() => nanoCoresQuantity(1.5), RangeError);
    assert.throws(() => bytesQuantity(-1), RangeError);
  });
  it('windows as Go durations', () => {
    const cases: [number, string][] = [[0, '0s'], [10.062, '10.062s'], [15, '15s'], [90, '1m30s'], [3600, '1h0m0s'], [0.5, '500ms'], [61.25, '1m1.25s']];
    for (const [s, text] of cases) assert.equal(goDuration(s), text, String(s));
  });
});

const node = (name: string, ready: string, labels?: Record<string, string>): KubeObject => ({
  apiVersion: 'v1', kind: 'Node', metadata: { name, labels },
  status: { conditions: [{ type: 'Ready', status: ready }] },
});
const pod = (namespace: string, name: string, uid: string, nodeName: string | undefined, containers: string[], labels?: Record<string, string>): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { namespace, name, uid, labels },
  spec: { nodeName, containers: containers.map((c) => ({ name: c })) },
});

function summary(nodeName: string, pods: { ns: string; name: string; uid: string; containers: [string, number, number][] }[]): UsageSummary {
  return {
    node: { nodeName, ...sample(1e9, 1024 ** 3) },
    pods: pods.map((p) => ({ namespace: p.ns, name: p.name, uid: p.uid, ...sample(0, 0), containers: p.containers.map(([name, cpu, mem]) => ({ name, ...sample(cpu, mem) })) })),
  };
}

describe('the kubelet summary and the merge', () => {
  it('a summary must be well formed and name the node asked', () => {
    const good = summary('n1', [{ ns: 'default', name: 'p', uid: 'u', containers: [['c', 1, 1]] }]);
    assert.deepEqual(parseUsageSummary(JSON.parse(JSON.stringify(good)), 'n1'), good);
    assert.throws(() => parseUsageSummary(good, 'n2'), /node "n1"'s, not "n2"'s/);
    assert.throws(() => parseUsageSummary({ ...good, pods: undefined }, 'n1'), /no pods list/);
    assert.throws(() => parseUsageSummary({ ...good, node: { ...good.node, cpuNanoCores: -1 } }, 'n1'), /cpuNanoCores/);
    assert.throws(() => parseUsageSummary({ ...good, node: { ...good.node, timestamp: 'yesterday' } }, 'n1'), /timestamp/);
    assert.throws(() => parseUsageSummary({ ...good, pods: [{ ...good.pods[0], uid: '' }] }, 'n1'), /pods\[0\]: uid is missing/);
  });

  it('pods get figures only from their own node, by uid, for the containers of their spec', () => {
    const pods = [
      pod('b', 'web', 'u-web', 'n1', ['app', 'side']),
      pod('a', 'db', 'u-db', 'n1', ['db']),
      pod('a', 'moved', 'u-moved', 'n2', ['c']),
      pod('a', 'renamed', 'u-new', 'n1', ['c']),
      pod('a', 'pending', 'u-pending', undefined, ['c']),
    ];
    const summaries = new Map([
      ['n1', summary('n1', [
        { ns: 'b', name: 'web', uid: 'u-web', containers: [['side', 2_000_000, 1024], ['app', 1_000_000.4, 2048], ['gone', 1, 1]] },
        { ns: 'a', name: 'db', uid: 'u-db', containers: [['db', 7, 4096]] },
        { ns: 'a', name: 'moved', uid: 'u-moved', containers: [['c', 1, 1]] },
        { ns: 'a', name: 'renamed', uid: 'u-old', containers: [['c', 1, 1]] },
      ])],
      ['n2', summary('n2', [])],
    ]);
    const now = new Date('2026-12-02T00:01:00Z');
    const out = podMetricsOf(pods, summaries, now);
    assert.deepEqual(out.map((m) => `${m.metadata.namespace}/${m.metadata.name}`), ['a/db', 'b/web']);
    assert.deepEqual(out[1].containers, [
      { name: 'app', usage: { cpu: '1m', memory: '2Ki' } },
      { name: 'side', usage: { cpu: '2m', memory: '1Ki' } },
    ]);
    assert.equal(out[1].timestamp, '2026-12-02T00:00:05Z');
    assert.equal(out[1].window, '15s');
    assert.equal(out[1].metadata.creationTimestamp, '2026-12-02T00:01:00Z');
    assert.deepEqual(nodesHosting(pods), ['n1', 'n2']);
  });

  it('NodeMetrics carry the node\'s labels and figures', () => {
    const m = nodeMetricsOf(node('n1', 'True', { zone: 'z' }), summary('n1', []).node, new Date(T));
    assert.deepEqual({ labels: m.metadata.labels, usage: m.usage, window: m.window }, { labels: { zone: 'z' }, usage: { cpu: '1', memory: '1Gi' }, window: '15s' });
  });

  it('Ready means the Ready condition is True', () => {
    assert.equal(isNodeReady(node('n', 'True')), true);
    assert.equal(isNodeReady(node('n', 'Unknown')), false);
    assert.equal(isNodeReady({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' } }), false);
  });

  it('selection by labels and metadata.name / metadata.namespace; other fields refused', () => {
    const p = pod('a', 'web', 'u', 'n1', ['c'], { app: 'web' });
    assert.equal(selects(parseMetricsSelection(new URLSearchParams('labelSelector=app%3Dweb')), p), true);
    assert.equal(selects(parseMetricsSelection(new URLSearchParams('labelSelector=app%3Ddb')), p), false);
    assert.equal(selects(parseMetricsSelection(new URLSearchParams('fieldSelector=metadata.name%3Dweb,metadata.namespace%3Da')), p), true);
    assert.equal(selects(parseMetricsSelection(new URLSearchParams('fieldSelector=metadata.name!%3Dweb')), p), false);
    assert.throws(() => parseMetricsSelection(new URLSearchParams('fieldSelector=spec.nodeName%3Dn1')), (e) => e instanceof KubeError && e.code === 400);
  });
});

describe('routing, discovery and authorization of metrics.k8s.io', () => {
  const q = new URLSearchParams();
  it('routes get and list of nodes and pods; refuses writes, watches and odd paths', () => {
    const nodes = route('GET', '/apis/metrics.k8s.io/v1beta1/nodes', q);
    assert.deepEqual(nodes.type === 'resourceMetrics' && [nodes.gr, nodes.info.kind, nodes.namespace, nodes.name, nodes.verb], ['nodes.metrics.k8s.io', 'NodeMetrics', undefined, undefined, 'list']);
    const get = route('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/p', q);
    assert.equal(get.type, 'resourceMetrics');
    assert.deepEqual(get.type === 'resourceMetrics' && [get.gr, get.namespace, get.name, get.verb], ['pods.metrics.k8s.io', 'ns', 'p', 'get']);
    const all = route('GET', '/apis/metrics.k8s.io/v1beta1/pods', q);
    assert.deepEqual(all.type === 'resourceMetrics' && [all.namespace, all.verb], [undefined, 'list']);
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as KubeError).code;
      }
      return 200;
    };
    assert.equal(code(() => route('POST', '/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods', q)), 405);
    assert.equal(code(() => route('GET', '/apis/metrics.k8s.io/v1beta1/pods', new URLSearchParams('watch=true'))), 405);
    assert.equal(code(() => route('GET', '/apis/metrics.k8s.io/v1beta1/pods/p', q)), 404);
    assert.equal(code(() => route('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/ns/nodes', q)), 404);
    assert.equal(code(() => route('GET', '/apis/metrics.k8s.io/v1/nodes', q)), 404);
  });

  it('discovery lists the group with get and list only, legacy and aggregated', () => {
    const groups = (apiGroupList() as { groups: { name: string; preferredVersion: { groupVersion: string } }[] }).groups;
    assert.equal(groups.find((g) => g.name === 'metrics.k8s.io')?.preferredVersion.groupVersion, 'metrics.k8s.io/v1beta1');
    const list = apiResourceList('metrics.k8s.io', 'v1beta1') as { resources: { name: string; kind: string; namespaced: boolean; verbs: string[] }[] };
    assert.deepEqual(list.resources.map((r) => [r.name, r.kind, r.namespaced, r.verbs]), [['nodes', 'NodeMetrics', false, ['get', 'list']], ['pods', 'PodMetrics', true, ['get', 'list']]]);
    const agg = aggregatedDiscovery(false) as { items: { metadata: { name: string }; versions: { version: string; resources: { resource: string; scope: string; verbs: string[] }[] }[] }[] };
    const g = agg.items.find((i) => i.metadata.name === 'metrics.k8s.io');
    assert.deepEqual(g?.versions.map((v) => [v.version, v.resources.map((r) => [r.resource, r.scope, r.verbs.join(',')])]), [['v1beta1', [['nodes', 'Cluster', 'get,list'], ['pods', 'Namespaced', 'get,list']]]]);
  });

  it('admins read metrics; nodes read pods and nodes but no metrics', () => {
    const adminId: Identity = { user: 'admin', uid: 'a', groups: ['system:masters'] };
    const nodeId: Identity = { user: 'system:node:n1', uid: 'n', groups: ['system:nodes'] };
    for (const resource of ['nodes.metrics.k8s.io', 'pods.metrics.k8s.io']) {
      for (const verb of ['get', 'list']) {
        assert.equal(isAllowed(adminId, { verb, resource }), true);
        assert.equal(isAllowed(nodeId, { verb, resource }), false, `${verb} ${resource}`);
      }
    }
    assert.equal(isAllowed(nodeId, { verb: 'list', resource: 'pods' }), true);
    assert.equal(isAllowed(nodeId, { verb: 'get', resource: 'nodes' }), true);
  });
});

describe('the scrape: cache, failures and the concurrency bound (a real kubelet server)', () => {
  let dir: string;
  let close: () => Promise<void>;
  let asked = 0;
  const TOKEN = 'node-token-n1';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mlt-w4met-unit-'));
    const server = await startKubeletServer({
      listen: { socketPath: join(dir, 'k.sock') },
      token: TOKEN,
      readLogs: () => Readable.from([]),
      usage: async () => {
        asked++;
        await new Promise((resolve) => setImmediate(resolve));
        return summary('n1', []);
      },
      logger: pino({ level: 'silent' }),
    });
    close = () => server.close();
  });
  after(async () => {
    await close?.();
    rmSync(dir, { recursive: true, force: true });
  });

  const kubeletNode = (name: string, endpoint: string): KubeObject => ({ ...node(name, 'True'), metadata: { name, annotations: { [KUBELET_ENDPOINT_ANNOTATION]: endpoint } } });
  const tokens = new Map([[TOKEN, { user: 'system:node:n1', uid: 'n1', groups: ['system:nodes'] }]]);

  it('answers from cache within the TTL, shares a scrape in flight, asks again after it', async () => {
    let now = 1_000_000;
    const scraper = new UsageScraper({ tokens, logger: pino({ level: 'silent' }), registry: new Registry(), cacheTtlMs: 5000, now: () => now });
    const n1 = kubeletNode('n1', `unix://${join(dir, 'k.sock')}`);
    asked = 0;
    const [a, b] = await Promise.all([scraper.summaries([n1]), scraper.summaries([n1])]);
    assert.equal(asked, 1, 'one scrape shared by two concurrent requests');
    assert.equal(a.get('n1')?.node.nodeName, 'n1');
    assert.deepEqual(a, b);
    now += 4000;
    await scraper.summaries([n1]);
    assert.equal(asked, 1, 'cached');
    now += 2000;
    await scraper.summaries([n1]);
    assert.equal(asked, 2, 'asked again after the TTL');
  });

  it('leaves out nodes it cannot scrape (no endpoint, no token, refused) and counts them', async () => {
    const registry = new Registry();
    const scraper = new UsageScraper({ tokens, logger: pino({ level: 'silent' }), registry, timeoutMs: 500 });
    const got = await scraper.summaries([
      kubeletNode('n1', `unix://${join(dir, 'k.sock')}`),
      kubeletNode('n2', `unix://${join(dir, 'k.sock')}`),
      kubeletNode('n3', `unix://${join(dir, 'missing.sock')}`),
      { ...node('n4', 'True') },
      node('n5', 'False'),
    ]);
    assert.deepEqual([...got.keys()], ['n1']);
    const text = await registry.metrics();
    for (const n of ['n2', 'n3', 'n4']) assert.match(text, new RegExp(`apiserver_kubelet_usage_scrape_errors_total\\{node="${n}"\\} 1`));
    assert.match(text, /apiserver_metrics_nodes_left_out_total\{reason="scrape-failed"\} 3/);
    assert.match(text, /apiserver_metrics_nodes_left_out_total\{reason="not-ready"\} 1/);
  });

  it('asks at most `concurrency` kubelets at once', async () => {
    // Six nodes, each its own kubelet server and token. Each kubelet holds its
    // answer until `target` requests are in flight (or all six have come), so
    // overlap is certain when allowed.
    let target = 0;
    let inFlightNow = 0;
    let seen = 0;
    let most = 0;
    let held: (() => void)[] = [];
    const six = Array.from({ length: 6 }, (_, i) => `m${i + 1}`);
    const servers = await Promise.all(six.map((name) => startKubeletServer({
      listen: { socketPath: join(dir, `${name}.sock`) },
      token: `token-${name}`,
      readLogs: () => Readable.from([]),
      usage: async () => {
        seen++;
        inFlightNow++;
        most = Math.max(most, inFlightNow);
        if (inFlightNow >= target || seen === six.length) for (const release of held.splice(0)) release();
        else await new Promise<void>((resolve) => held.push(resolve));
        inFlightNow--;
        return summary(name, []);
      },
      logger: pino({ level: 'silent' }),
    })));
    try {
      const sixTokens = new Map(six.map((name) => [`token-${name}`, { user: `system:node:${name}`, uid: name, groups: ['system:nodes'] }]));
      const nodes = six.map((name) => kubeletNode(name, `unix://${join(dir, `${name}.sock`)}`));
      for (const [concurrency, expected] of [[6, 6], [2, 2]] as const) {
        target = expected;
        seen = 0;
        most = 0;
        held = [];
        const scraper = new UsageScraper({ tokens: sixTokens, logger: pino({ level: 'silent' }), registry: new Registry(), concurrency });
        const got = await scraper.summaries(nodes);
        assert.equal(got.size, 6);
        assert.equal(most, expected, `concurrency ${concurrency}: at most ${expected} at once`);
      }
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });
});
