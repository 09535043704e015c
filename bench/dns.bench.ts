// Cluster DNS: dnsperf against `meshlet dns` (1 and 2 worker processes) and, in
// the same run, against dnsmasq serving the same records. Cluster names (10,000
// Services), outside names from the cache, outside names through a pod's search
// path (ndots:5: four queries per lookup) with and without the autopath
// short-cut; memory with 10,000 Services and 50,000 endpoints against CoreDNS's
// formula; feed-to-answer propagation.
//
// With --netns 1 (root; the default when run as root) the servers run in a
// "node" network namespace the bench makes and dnsperf in a "pod" namespace
// joined to it by a veth pair (mlt-dns-bn-*/mlt-dns-bp-*, removed at the end),
// as a pod reaches its node's DNS; with --netns 0 everything is on 127.0.0.1.
// --only and --targets (comma lists) pick scenarios (cluster, outside, search,
// autopath) and servers (meshlet-1, meshlet-2, dnsmasq), to keep each locked run short.
//
//   flock /tmp/meshlet-integration.lock node --import tsx bench/dns.bench.ts [--seconds 10] [--runs 3] [--services 10000] [--endpoints 5] [--only cluster,outside] [--targets meshlet-1,dnsmasq]
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import dnsPacket from 'dns-packet';
import { clusterData, svcIP } from './dns-cluster-data.ts';
import { FeedClient, StubUpstream, startDnsProcess, type DnsProcess } from '../test/helpers/dns.ts';
import { runProcess } from '../test/helpers/run.ts';
import { treeRssMiB } from './rss.ts';
import { machineInfo, median, parseFlags, percentile, printResult } from './stats.ts';

/** The comma-list flags (--only, --targets, and --inner, the pod namespace when re-run inside the node one). */
const listFlags: Record<string, string[]> = {};
const numeric: string[] = [];
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (['--only', '--targets', '--inner'].includes(argv[i])) listFlags[argv[i].slice(2)] = (argv[++i] ?? '').split(',').filter(Boolean);
    else numeric.push(argv[i]);
  }
}
const isRoot = process.getuid?.() === 0;
const flags = parseFlags(numeric, { seconds: 10, runs: 3, services: 10000, endpoints: 5, outside: 1000, clients: 4, propagations: 200, netns: isRoot ? 1 : 0 });
const podNetns = listFlags.inner?.[0];
/** Addresses in the bench's namespaces: the servers, the pod (a known pod: autopath), a second pod address that is no pod. */
const NET = { server: '10.254.53.1', pod: '10.254.53.2', stranger: '10.254.53.3' };
const serverHost = podNetns ? NET.server : '127.0.0.1';
const podSource = podNetns ? NET.pod : '127.0.0.1';
const strangerSource = podNetns ? NET.stranger : '127.0.0.2';
const Z = 'cluster.local';
interface PerfResult {
  qps: number;
  avgLatencyMs: number;
  lost: number;
  completed: number;
}

/** dnsperf, from the pod namespace when there is one. */
function runDnsperf(args: string[], timeoutMs: number): ReturnType<typeof runProcess> {
  return podNetns ? runProcess('ip', ['netns', 'exec', podNetns, 'dnsperf', ...args], { timeoutMs }) : runProcess('dnsperf', args, { timeoutMs });
}

async function dnsperf(port: number, file: string, opts: { source?: string; seconds: number }): Promise<PerfResult> {
  const args = ['-s', serverHost, '-p', String(port), '-d', file, '-c', String(flags.clients), '-l', String(opts.seconds), '-t', '2', '-q', '200', '-a', opts.source ?? podSource];
  const r = await runDnsperf(args, (opts.seconds + 30) * 1000);
  const num = (re: RegExp): number => Number(re.exec(r.stdout)?.[1] ?? NaN);
  const res = {
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    lost: num(/Queries lost:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
  };
  if (!Number.isFinite(res.qps)) throw new Error(`dnsperf failed: ${r.stdout}${r.stderr}`);
  return res;
}

/** Runs the query file once through (warming caches), at a modest rate. */
async function warm(port: number, file: string, source?: string): Promise<void> {
  const args = ['-s', serverHost, '-p', String(port), '-d', file, '-n', '1', '-c', '1', '-q', '20', '-t', '3', '-a', source ?? podSource];
  await runDnsperf(args, 120_000);
}

async function startDnsmasq(dir: string, port: number, upstreamPort: number): Promise<ChildProcess> {
  const child = spawn('dnsmasq', [
    '--keep-in-foreground', '--no-resolv', '--no-hosts', `--addn-hosts=${join(dir, 'hosts')}`, `--listen-address=${serverHost}`, '--bind-interfaces',
    `--port=${port}`, `--server=127.0.0.1#${upstreamPort}`, '--local=/cluster.local/', '--cache-size=20000', '--user=root', `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--log-facility=/dev/null',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d));
  for (let i = 0; i < 100; i++) {
    if (await queryOnce(port, `svc-0.default.svc.${Z}`)) return child;
    if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`dnsmasq did not answer: ${err}`);
}

/** One UDP A query; resolves true on a NOERROR answer with records. */
function queryOnce(port: number, name: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      resolve(false);
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      try {
        const p = dnsPacket.decode(m);
        resolve((p.answers?.length ?? 0) > 0);
      } catch {
        resolve(false);
      }
    });
    s.send(dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] }), port, serverHost);
  });
}

async function propagation(dns: DnsProcess, feed: FeedClient, tag: string, n: number): Promise<{ p50: number; p99: number; max: number }> {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const name = `prop-${tag}-${i}`;
    const t0 = performance.now();
    const acked = feed.send({ type: 'upsert', seq: 1000 + i, kind: 'Service', object: { namespace: 'default', name, clusterIPs: [svcIP(60000 + i)], ports: [] } });
    while (!(await queryOnce(dns.port, `${name}.default.svc.${Z}`, 200))) { /* until answered */ }
    lat.push(performance.now() - t0);
    await acked;
  }
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), max: Math.max(...lat) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mlt-dns-bench-'));
  const procs: DnsProcess[] = [];
  let dnsmasq: ChildProcess | undefined;
  const upstream = new StubUpstream();
  try {
    for (let i = 0; i < flags.outside; i++) upstream.add(`host-${i}.example.com`, 'A', `192.0.2.${i % 250}`, 3600);
    await upstream.start();
    const data = clusterData(flags.services, flags.endpoints, [{ namespace: 'default', name: 'bench-client', ips: [podSource] }]);
    const line = JSON.stringify(data);

    // Query files.
    const cluster = Array.from({ length: flags.services }, (_, i) => `svc-${i}.default.svc.${Z} A`).join('\n');
    const outside = Array.from({ length: flags.outside }, (_, i) => `host-${i}.example.com A`).join('\n');
    const search = Array.from({ length: flags.outside }, (_, i) =>
      [`host-${i}.example.com.default.svc.${Z} A`, `host-${i}.example.com.svc.${Z} A`, `host-${i}.example.com.${Z} A`, `host-${i}.example.com A`].join('\n')).join('\n');
    const autopath = Array.from({ length: flags.outside }, (_, i) => `host-${i}.example.com.default.svc.${Z} A`).join('\n');
    const files = { cluster: join(dir, 'cluster.txt'), outside: join(dir, 'outside.txt'), search: join(dir, 'search.txt'), autopath: join(dir, 'autopath.txt') };
    writeFileSync(files.cluster, `${cluster}\n`);
    writeFileSync(files.outside, `${outside}\n`);
    writeFileSync(files.search, `${search}\n`);
    writeFileSync(files.autopath, `${autopath}\n`);
    writeFileSync(join(dir, 'hosts'), data.services.map((s) => `${s.clusterIPs?.[0]} ${s.name}.${s.namespace}.svc.${Z}`).join('\n') + '\n');

    // Memory: an idle process, then with the cluster data, then with every name's answer prebuilt.
    const dnsArgs = ['--listen', `${serverHost}:0`, '--upstream', `127.0.0.1:${upstream.port}`, '--allow-recursion', `${podSource}/32`, '--allow-recursion', `${strangerSource}/32`];
    const base = await startDnsProcess(join(dir, 'idle'), dnsArgs);
    procs.push(base);
    const idleMiB = treeRssMiB(base.child.pid!);
    await base.stop();

    const start = async (name: string, workers: number): Promise<{ dns: DnsProcess; feed: FeedClient; loadMs: number }> => {
      const d = await startDnsProcess(join(dir, name), [...dnsArgs, '--workers', String(workers)]);
      procs.push(d);
      const feed = await FeedClient.connect(d.pid.feedSocket);
      const t0 = performance.now();
      await feed.send(line);
      // Workers apply the snapshot after the primary acks it: wait until the last service answers.
      while (!(await queryOnce(d.port, `svc-${flags.services - 1}.default.svc.${Z}`, 1000))) { /* loading */ }
      return { dns: d, feed, loadMs: performance.now() - t0 };
    };
    const wanted = (t: string): boolean => !listFlags.targets || listFlags.targets.includes(t);
    const one = await start('w1', 1);
    const loadedMiB = treeRssMiB(one.dns.child.pid!);
    const two = wanted('meshlet-2') ? await start('w2', 2) : undefined;
    const dnsmasqPort = 20000 + Math.floor(Math.random() * 20000);
    if (wanted('dnsmasq')) dnsmasq = await startDnsmasq(dir, dnsmasqPort, upstream.port);

    const targets = [
      { name: 'meshlet-1', port: one.dns.port },
      ...(two ? [{ name: 'meshlet-2', port: two.dns.port }] : []),
      ...(dnsmasq ? [{ name: 'dnsmasq', port: dnsmasqPort }] : []),
    ].filter((t) => wanted(t.name));
    const allScenarios: { key: string; name: string; file: string; source?: string; queriesPerLookup: number; only?: string[] }[] = [
      { key: 'cluster', name: 'cluster names', file: files.cluster, queriesPerLookup: 1 },
      { key: 'outside', name: 'outside names (cache)', file: files.outside, queriesPerLookup: 1 },
      // From a source that is no pod: no autopath, the client walks the search list (4 queries per lookup).
      { key: 'search', name: 'outside names via search path, no autopath', file: files.search, source: strangerSource, queriesPerLookup: 4 },
      { key: 'autopath', name: 'outside names via search path, autopath', file: files.autopath, queriesPerLookup: 1, only: ['meshlet-1', 'meshlet-2'] },
    ];
    const scenarios = allScenarios.filter((x) => !listFlags.only || listFlags.only.includes(x.key));
    // Warm every cache: cluster answers prebuilt, outside names cached, autopath answers cached.
    // Each worker process has its own caches, and the kernel spreads queries over them: warm several times.
    const needs = (k: string): boolean => scenarios.some((x) => x.key === k);
    for (const t of [...targets, ...targets.filter((x) => x.name === 'meshlet-2'), ...targets.filter((x) => x.name === 'meshlet-2')]) {
      if (needs('cluster')) await warm(t.port, files.cluster);
      if (needs('outside')) await warm(t.port, files.outside);
      if (needs('search') || needs('autopath')) await warm(t.port, files.search, strangerSource);
      if (needs('autopath') && t.name !== 'dnsmasq') await warm(t.port, files.autopath);
    }
    const warmedMiB = treeRssMiB(one.dns.child.pid!);
    const upstreamQueriesBefore = upstream.queries.length;

    const results: Record<string, Record<string, { qps: number[]; lat: number[]; lost: number[] }>> = {};
    for (const s of scenarios) {
      results[s.name] = {};
      for (let run = 0; run < flags.runs; run++) {
        for (const t of targets) {
          if (s.only && !s.only.includes(t.name)) continue;
          const r = await dnsperf(t.port, s.file, { seconds: flags.seconds, ...(s.source ? { source: s.source } : {}) });
          const acc = (results[s.name][t.name] ??= { qps: [], lat: [], lost: [] });
          acc.qps.push(r.qps);
          acc.lat.push(r.avgLatencyMs);
          acc.lost.push(r.lost);
          process.stderr.write(`${s.name} ${t.name} run ${run}: ${Math.round(r.qps)} QPS, ${r.avgLatencyMs.toFixed(3)} ms, lost ${r.lost}\n`);
        }
      }
    }
    const upstreamDuringRuns = upstream.queries.length - upstreamQueriesBefore;
    const prop1 = flags.propagations > 0 ? await propagation(one.dns, one.feed, 'w1', flags.propagations) : undefined;
    const prop2 = two && flags.propagations > 0 ? await propagation(two.dns, two.feed, 'w2', flags.propagations) : undefined;

    const summary: Record<string, Record<string, { qps: number; lookupsPerSec: number; avgLatencyMs: number; lost: number }>> = {};
    for (const s of scenarios) {
      summary[s.name] = {};
      for (const [t, v] of Object.entries(results[s.name])) {
        const qps = median(v.qps);
        summary[s.name][t] = { qps, lookupsPerSec: qps / s.queriesPerLookup, avgLatencyMs: median(v.lat), lost: median(v.lost) };
      }
    }
    // dnsmasq has no autopath: the autopath scenario is compared with dnsmasq walking the search path.
    const dm = (s: string): number | undefined => summary[s]?.dnsmasq?.lookupsPerSec ?? summary['outside names via search path, no autopath']?.dnsmasq?.lookupsPerSec;
    const ratios = Object.fromEntries(scenarios.map((s) => {
      const d = dm(s.name);
      const r = (t: string): number | undefined => (d && summary[s.name][t] ? summary[s.name][t].lookupsPerSec / d : undefined);
      return [s.name, { 'meshlet-1/dnsmasq': r('meshlet-1'), 'meshlet-2/dnsmasq': r('meshlet-2') }];
    }));
    const pods = data.pods.length;
    printResult({
      bench: 'dns',
      machine: machineInfo(),
      flags,
      summary,
      ratios,
      note: 'autopath ratios are against dnsmasq walking the search path (it has no autopath); lookups/s = QPS / queries per lookup',
      upstreamQueriesDuringRuns: upstreamDuringRuns,
      memory: {
        services: flags.services, endpoints: flags.services * flags.endpoints, pods,
        idleMiB, loadedMiB, warmedMiB,
        twoWorkersMiB: two ? treeRssMiB(two.dns.child.pid!) : undefined,
        corednsFormulaMiB: (pods + flags.services) / 1000 + 54,
        snapshotLoadMs: one.loadMs,
        snapshotBytes: line.length,
      },
      propagationMs: { workers1: prop1, workers2: prop2 },
    });
  } finally {
    for (const p of procs) await p.stop().catch(() => undefined);
    if (dnsmasq && dnsmasq.exitCode === null) {
      dnsmasq.kill('SIGTERM');
      await new Promise((r) => dnsmasq?.once('exit', r));
    }
    await upstream.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Root: the node and pod namespaces, a veth between them, and this bench re-run inside the node one. */
async function inNamespaces(): Promise<number> {
  const tag = Math.random().toString(16).slice(2, 8);
  const node = `mlt-dns-bn-${tag}`;
  const pod = `mlt-dns-bp-${tag}`;
  const ip = async (args: string[]): Promise<void> => {
    const r = await runProcess('ip', args, { timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  };
  try {
    await ip(['netns', 'add', node]);
    await ip(['netns', 'add', pod]);
    await ip(['-n', node, 'link', 'set', 'lo', 'up']);
    await ip(['-n', pod, 'link', 'set', 'lo', 'up']);
    await ip(['-n', node, 'link', 'add', `mltdnsb${tag}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod]);
    await ip(['-n', node, 'addr', 'add', `${NET.server}/24`, 'dev', `mltdnsb${tag}`]);
    await ip(['-n', node, 'link', 'set', `mltdnsb${tag}`, 'up']);
    await ip(['-n', pod, 'addr', 'add', `${NET.pod}/24`, 'dev', 'eth0']);
    await ip(['-n', pod, 'addr', 'add', `${NET.stranger}/24`, 'dev', 'eth0']);
    await ip(['-n', pod, 'link', 'set', 'eth0', 'up']);
    const child = spawn('ip', ['netns', 'exec', node, process.execPath, ...process.execArgv, process.argv[1], ...process.argv.slice(2), '--inner', pod], { stdio: 'inherit' });
    return await new Promise<number>((r) => child.once('exit', (code) => r(code ?? 1)));
  } finally {
    await runProcess('ip', ['netns', 'del', pod], { timeoutMs: 10_000 }).catch(() => undefined);
    await runProcess('ip', ['netns', 'del', node], { timeoutMs: 10_000 }).catch(() => undefined);
  }
}

(flags.netns && !podNetns ? inNamespaces().then((code) => process.exit(code)) : main()).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
