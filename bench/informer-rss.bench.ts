// The agent-side cache's memory (issue 6 §3 and §6): 10,000 Services, 50,000
// EndpointSlice endpoints (10,000 slices of 5) and 5,000 Pods, plus 100
// Namespaces and 100 Nodes, cached by the real InformerFactory in a process of
// its own, listed and watched through the real API server. The objects look
// like a real cluster's (kubectl-applied Services with the last-applied
// annotation and managedFields; controller-made slices and pods with owners,
// managedFields, full specs and statuses) and are written straight into the
// store, since only reading them is measured.
//
// Three kinds of cache process, interleaved, --runs each, medians, each run
// twice: under tsx, as `meshlet agent` runs today (bin/meshlet.js), and
// compiled to JavaScript first (tsc into a temp dir) and run by plain node,
// which shows what the tsx loader itself costs:
//   - slim:  the agent's factory (SLIM_TRANSFORMS, stripMetadata), its default
//            indexes plus EndpointSlices by endpoint address (what DNS adds);
//   - full:  the same informers and indexes, objects cached whole (baseline);
//   - empty: the same process and modules with no informer (baseline).
// Each child forces GC twice and reads process.memoryUsage() once synced; it
// also reports its peak RSS (getrusage maxrss), which includes the list pages.
// Anchor: k3s agent ~275 MB. Aim: the slim cache process under 80 MB.
//
//   node --import tsx bench/informer-rss.bench.ts [--services 10000] [--endpoints 5] [--pods 5000] [--runs 3]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createClient } from '../src/client/http-client.ts';
import { InformerFactory } from '../src/client/informer-factory.ts';
import { ENDPOINT_ADDRESS_INDEX, slicesByEndpointAddress } from '../src/client/indexers.ts';
import { SLIM_TRANSFORMS, stripMetadata } from '../src/client/slim-objects.ts';
import { ENDPOINTSLICES, LAST_APPLIED_ANNOTATION } from '../src/core/well-known.ts';
import type { KubeObject } from '../src/core/types.ts';
import { machineInfo, median, parseFlags, printResult } from './stats.ts';

const KINDS = ['services', ENDPOINTSLICES, 'pods', 'namespaces', 'nodes'];
const NAMESPACES = 100;
const NODES = 100;
const TIME = '2026-11-30T12:00:00Z';

type Mode = 'empty' | 'slim' | 'full';

interface ChildResult {
  mode: Mode;
  rssMiB: number;
  heapUsedMiB: number;
  externalMiB: number;
  maxRssMiB: number;
  syncMs: number;
  objects: number;
}

// ---- the cache process

async function child(mode: Mode): Promise<void> {
  const client = createClient({ server: process.env.BENCH_RSS_URL ?? '', token: process.env.BENCH_RSS_TOKEN });
  const factory = new InformerFactory({
    client,
    registry: new Registry(),
    logger: pino({ level: 'warn' }, pino.destination(2)),
    ...(mode === 'slim' ? { transforms: SLIM_TRANSFORMS, defaultTransform: stripMetadata } : {}),
  });
  factory.start();
  const t0 = performance.now();
  let objects = 0;
  if (mode !== 'empty') {
    const informers = KINDS.map((gr) => factory.informer(gr));
    informers[1].addIndexer(ENDPOINT_ADDRESS_INDEX, slicesByEndpointAddress);
    await factory.synced();
    objects = informers.reduce((n, i) => n + i.size, 0);
  }
  const syncMs = performance.now() - t0;
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the child with --expose-gc');
  gc();
  await sleep(300);
  gc();
  const mu = process.memoryUsage();
  const mib = (b: number): number => b / 2 ** 20;
  const result: ChildResult = {
    mode,
    rssMiB: mib(mu.rss),
    heapUsedMiB: mib(mu.heapUsed),
    externalMiB: mib(mu.external),
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    syncMs,
    objects,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
  await factory.stop();
  client.close();
}

// ---- realistic objects

const ns = (i: number): string => `team-${i % NAMESPACES}`;
const ipOf = (base: number, i: number): string => `${base}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

function managedField(manager: string, fields: Record<string, unknown>, subresource?: string): Record<string, unknown> {
  return { manager, operation: 'Update', apiVersion: 'v1', time: TIME, fieldsType: 'FieldsV1', fieldsV1: fields, ...(subresource ? { subresource } : {}) };
}

function service(i: number): KubeObject {
  const name = `svc-${i}`;
  const spec = { selector: { app: `app-${i}` }, ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }, { name: 'metrics', protocol: 'TCP', port: 9090, targetPort: 9090 }] };
  const applied = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns(i), labels: { app: `app-${i}`, tier: 'backend' } }, spec };
  const clusterIP = `10.96.${(i >> 8) & 255}.${i & 255}`;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: ns(i),
      uid: randomUUID(),
      creationTimestamp: TIME,
      labels: { app: `app-${i}`, tier: 'backend' },
      annotations: { [LAST_APPLIED_ANNOTATION]: JSON.stringify(applied) + '\n' },
      managedFields: [managedField('kubectl-client-side-apply', {
        'f:metadata': { 'f:annotations': { '.': {}, [`f:${LAST_APPLIED_ANNOTATION}`]: {} }, 'f:labels': { '.': {}, 'f:app': {}, 'f:tier': {} } },
        'f:spec': { 'f:internalTrafficPolicy': {}, 'f:ports': { '.': {}, 'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:name': {}, 'f:port': {}, 'f:protocol': {}, 'f:targetPort': {} } }, 'f:selector': {}, 'f:sessionAffinity': {}, 'f:type': {} },
      })],
    },
    spec: { ...spec, type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', internalTrafficPolicy: 'Cluster', sessionAffinity: 'None' },
    status: { loadBalancer: {} },
  };
}

function endpointSlice(i: number, perSlice: number, svcUid: string): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `svc-${i}-${(i * 7919).toString(36).slice(-5).padStart(5, 'x')}`,
      namespace: ns(i),
      uid: randomUUID(),
      creationTimestamp: TIME,
      generation: 3,
      labels: { 'kubernetes.io/service-name': `svc-${i}`, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io', app: `app-${i}`, tier: 'backend' },
      annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': TIME },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: `svc-${i}`, uid: svcUid, controller: true, blockOwnerDeletion: true }],
      managedFields: [managedField('kube-controller-manager', { 'f:addressType': {}, 'f:endpoints': {}, 'f:metadata': { 'f:annotations': {}, 'f:generateName': {}, 'f:labels': {}, 'f:ownerReferences': {} }, 'f:ports': {} })],
    },
    addressType: 'IPv4',
    endpoints: Array.from({ length: perSlice }, (_, k) => {
      const n = i * perSlice + k;
      return {
        addresses: [ipOf(10, (244 << 16) + n)],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: `node-${n % NODES}`,
        targetRef: { kind: 'Pod', namespace: ns(i), name: `app-${i}-7d4b9c8f6-${n.toString(36)}`, uid: randomUUID() },
      };
    }),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'metrics', port: 9090, protocol: 'TCP' }],
  };
}

function pod(i: number): KubeObject {
  const name = `app-${i}-7d4b9c8f6-${i.toString(36)}`;
  const ip = ipOf(10, (245 << 16) + i);
  const container = {
    name: 'app',
    image: `registry.example.com/team/app-${i % 50}:1.4.${i % 10}`,
    imagePullPolicy: 'IfNotPresent',
    command: ['/app/server'],
    args: ['--listen=:8080', '--metrics=:9090'],
    ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'metrics', containerPort: 9090, protocol: 'TCP' }],
    env: [{ name: 'LOG_LEVEL', value: 'info' }, { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } }],
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    readinessProbe: { httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' }, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
    volumeMounts: [{ name: 'kube-api-access-x7k2p', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  };
  const cond = (type: string): Record<string, unknown> => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: TIME });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      generateName: `app-${i}-7d4b9c8f6-`,
      namespace: ns(i),
      uid: randomUUID(),
      creationTimestamp: TIME,
      labels: { app: `app-${i % 1000}`, tier: 'backend', 'pod-template-hash': '7d4b9c8f6' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `app-${i}-7d4b9c8f6`, uid: randomUUID(), controller: true, blockOwnerDeletion: true }],
      managedFields: [
        managedField('kube-controller-manager', { 'f:metadata': { 'f:generateName': {}, 'f:labels': {}, 'f:ownerReferences': {} }, 'f:spec': { 'f:containers': {}, 'f:dnsPolicy': {}, 'f:restartPolicy': {} } }),
        managedField('kubelet', { 'f:status': { 'f:conditions': {}, 'f:containerStatuses': {}, 'f:hostIP': {}, 'f:phase': {}, 'f:podIP': {}, 'f:podIPs': {}, 'f:startTime': {} } }, 'status'),
      ],
    },
    spec: {
      containers: [container],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      nodeName: `node-${i % NODES}`,
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      volumes: [{ name: 'kube-api-access-x7k2p', projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] } }],
    },
    status: {
      phase: 'Running',
      conditions: [cond('Initialized'), cond('Ready'), cond('ContainersReady'), cond('PodScheduled')],
      hostIP: `172.31.${(i % NODES) >> 8}.${i % NODES}`,
      podIP: ip,
      podIPs: [{ ip }],
      startTime: TIME,
      containerStatuses: [{ name: 'app', state: { running: { startedAt: TIME } }, lastState: {}, ready: true, restartCount: 0, image: container.image, imageID: `sha256:${'ab'.repeat(32)}`, containerID: `containerd://${'cd'.repeat(32)}`, started: true }],
    },
  };
}

function namespace(i: number): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `team-${i}`, uid: randomUUID(), creationTimestamp: TIME, labels: { 'kubernetes.io/metadata.name': `team-${i}`, team: `t${i}` } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
}

function node(i: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: `node-${i}`,
      uid: randomUUID(),
      creationTimestamp: TIME,
      labels: { 'kubernetes.io/hostname': `node-${i}`, 'kubernetes.io/os': 'linux', 'topology.kubernetes.io/zone': `zone-${i % 3}` },
      annotations: { 'meshlet.io/vtep-mac': `0a:58:0a:f4:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, 'meshlet.io/vtep-ip': `172.31.0.${i}` },
    },
    spec: { podCIDR: `10.244.${i}.0/24`, podCIDRs: [`10.244.${i}.0/24`] },
    status: {
      addresses: [{ type: 'InternalIP', address: `172.31.0.${i}` }, { type: 'Hostname', address: `node-${i}` }],
      capacity: { cpu: '8', memory: '32Gi', pods: '110' },
      allocatable: { cpu: '8', memory: '31Gi', pods: '110' },
      conditions: ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready'].map((type) => ({ type, status: type === 'Ready' ? 'True' : 'False', lastHeartbeatTime: TIME, lastTransitionTime: TIME, reason: 'KubeletReady', message: 'ok' })),
      nodeInfo: { kernelVersion: '6.1.0', osImage: 'Debian GNU/Linux 12', containerRuntimeVersion: 'meshlet', kubeletVersion: 'v1.32.0', kubeProxyVersion: 'v1.32.0', operatingSystem: 'linux', architecture: 'amd64', machineID: 'm', systemUUID: 's', bootID: 'b' },
    },
  };
}

// ---- the parent: one API server, the objects, the cache processes

type Runtime = 'tsx' | 'built';

/** This file and what it imports compiled to JavaScript in a temp dir (node_modules linked), for plain node. */
function buildChild(repo: string): { entry: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mlt-informers-rss-'));
  execFileSync(join(repo, 'node_modules', '.bin', 'tsc'), [
    join(repo, 'bench', 'informer-rss.bench.ts'), '--outDir', dir, '--rootDir', repo, '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--target', 'es2022', '--rewriteRelativeImportExtensions', '--skipLibCheck', '--types', 'node', '--strict',
  ], { stdio: 'inherit' });
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  return { entry: join(dir, 'bench', 'informer-rss.bench.js'), dir };
}

function runChild(entry: string, runtime: Runtime, mode: Mode, env: Record<string, string>): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const args = runtime === 'tsx' ? ['--expose-gc', '--import', 'tsx', entry] : ['--expose-gc', entry];
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 300_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout });
      else reject(new Error(`${mode} cache process failed (${code ?? signal}): ${stderr.slice(-4000)}`));
    });
  });
}

async function parent(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), { services: 10000, endpoints: 5, pods: 5000, runs: 3 });
  const { startTestApiServer } = await import('../test/helpers/api-server.ts');
  const api = await startTestApiServer({ historySize: 1000 });
  const cleanups: (() => void)[] = [];
  try {
    const bytes: Record<string, number> = {};
    const count: Record<string, number> = {};
    const work: [string, KubeObject][] = [];
    for (let i = 0; i < NAMESPACES; i++) work.push(['namespaces', namespace(i)]);
    for (let i = 0; i < NODES; i++) work.push(['nodes', node(i)]);
    for (let i = 0; i < flags.services; i++) {
      const svc = service(i);
      work.push(['services', svc], [ENDPOINTSLICES, endpointSlice(i, flags.endpoints, svc.metadata.uid ?? '')]);
    }
    for (let i = 0; i < flags.pods; i++) work.push(['pods', pod(i)]);
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < work.length) {
          const [gr, obj] = work[next++];
          bytes[gr] = (bytes[gr] ?? 0) + JSON.stringify(obj).length;
          count[gr] = (count[gr] ?? 0) + 1;
          await api.store.create(gr, obj);
        }
      }),
    );
    process.stderr.write(`loaded ${work.length} objects into the store in ${Math.round(performance.now() - t0)} ms\n`);
    work.length = 0;

    const results: Record<Runtime, Record<Mode, ChildResult[]>> = { tsx: { empty: [], slim: [], full: [] }, built: { empty: [], slim: [], full: [] } };
    const self = fileURLToPath(import.meta.url);
    const built = buildChild(dirname(dirname(self)));
    cleanups.push(() => rmSync(built.dir, { recursive: true, force: true }));
    for (let run = 0; run < flags.runs; run++) {
      for (const [runtime, mode] of (['tsx', 'built'] as const).flatMap((r) => (['empty', 'slim', 'full'] as const).map((m) => [r, m] as const))) {
        // Asynchronously: the API server the child reads runs in this process.
        const env = { BENCH_RSS_CHILD: mode, BENCH_RSS_URL: api.url, BENCH_RSS_TOKEN: api.token };
        const res = await runChild(runtime === 'tsx' ? self : built.entry, runtime, mode, env);
        const line = res.stdout.trim().split('\n').pop() ?? '';
        const r = JSON.parse(line) as ChildResult;
        results[runtime][mode].push(r);
        process.stderr.write(`run ${run + 1} ${runtime} ${mode}: rss ${r.rssMiB.toFixed(1)} MiB, heap ${r.heapUsedMiB.toFixed(1)} MiB, peak ${r.maxRssMiB.toFixed(1)} MiB, ${r.objects} objects in ${Math.round(r.syncMs)} ms\n`);
      }
    }
    const med = (rt: Runtime, mode: Mode, f: keyof ChildResult): number => median(results[rt][mode].map((r) => Number(r[f])));
    const summary = (rt: Runtime): Record<string, unknown> => ({
      ...Object.fromEntries(
        (['empty', 'slim', 'full'] as const).map((m) => [m, { rssMiB: med(rt, m, 'rssMiB'), heapUsedMiB: med(rt, m, 'heapUsedMiB'), maxRssMiB: med(rt, m, 'maxRssMiB'), syncMs: med(rt, m, 'syncMs'), objects: med(rt, m, 'objects') }]),
      ),
      slimOverFullRss: med(rt, 'slim', 'rssMiB') / med(rt, 'full', 'rssMiB'),
      cacheRssSlimMiB: med(rt, 'slim', 'rssMiB') - med(rt, 'empty', 'rssMiB'),
      cacheRssFullMiB: med(rt, 'full', 'rssMiB') - med(rt, 'empty', 'rssMiB'),
      cacheHeapSlimMiB: med(rt, 'slim', 'heapUsedMiB') - med(rt, 'empty', 'heapUsedMiB'),
      cacheHeapFullMiB: med(rt, 'full', 'heapUsedMiB') - med(rt, 'empty', 'heapUsedMiB'),
    });
    printResult({
      bench: 'informer-rss',
      machine: machineInfo(),
      objects: count,
      avgJsonBytes: Object.fromEntries(Object.entries(bytes).map(([gr, b]) => [gr, b / count[gr]])),
      endpoints: flags.services * flags.endpoints,
      runs: flags.runs,
      tsx: summary('tsx'),
      built: summary('built'),
      k3sAgentAnchorMiB: 275,
      aimMiB: 80,
    });
  } finally {
    for (const c of cleanups) c();
    await api.stop();
  }
}

const mode = process.env.BENCH_RSS_CHILD as Mode | undefined;
if (mode) await child(mode);
else await parent();
