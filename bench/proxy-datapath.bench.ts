// The proxy's data path (root): connection latency and iperf3 throughput
// through a ClusterIP against the endpoint's address directly, with 10 and
// then with N Services installed, in the same run. Two namespaces this bench
// creates (mlt-proxy-dp{c,s}-<pid>, removed by exact name) joined by a veth:
// the client namespace holds the proxy's real table (ruleset.ts through the
// adapter), and its output hook DNATs the ClusterIP to the server.
//   node --import tsx bench/proxy-datapath.bench.ts [--services 10000] [--connections 2000] [--seconds 4]
import { spawn } from 'node:child_process';
import { run } from '../test/helpers/netns-lab.ts';
import { NftCommandRunner } from '../src/nft/runner.ts';
import { NftTable } from '../src/nft/table-sync.ts';
import { TableOwners } from '../src/nft/owners.ts';
import type { SlimEndpointSlice, SlimService } from '../src/client/slim-objects.ts';
import { servicePortsOf } from '../src/proxy/service-ports.ts';
import { portFragment, portKey, proxyBase, proxyTableId, PROXY_OWNER, type ProxyTableConfig } from '../src/proxy/ruleset.ts';
import type { TableFragment } from '../src/nft/fragments.ts';
import { machineInfo, parseFlags, printResult } from './stats.ts';

const flags = parseFlags(process.argv.slice(2), { services: 10000, connections: 2000, seconds: 4 });
const C = `mlt-proxy-dpc-${process.pid}`;
const S = `mlt-proxy-dps-${process.pid}`;
const SERVER_IP = '10.200.0.2';
const CFG: ProxyTableConfig = { family: 4, serviceCidrs: ['10.96.0.0/12'], clusterCidrs: ['10.200.0.0/24'] };
const TARGET = '10.96.0.100';

const SERVER = `
import socketserver
class H(socketserver.BaseRequestHandler):
    def handle(self):
        d = self.request.recv(64)
        if d: self.request.sendall(d)
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(('0.0.0.0', 8080), H).serve_forever()
`;
// n sequential connections (connect, 1 byte there and back, close): per-connection µs, sorted, p50/p99/mean.
const CLIENT = `
import socket, sys, time, json
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ts = []
for _ in range(n):
    t = time.perf_counter(); c = socket.create_connection((ip, port)); c.sendall(b'x'); c.recv(1); c.close(); ts.append((time.perf_counter() - t) * 1e6)
ts.sort()
print(json.dumps({"p50": ts[len(ts)//2], "p99": ts[int(len(ts)*0.99)], "mean": sum(ts)/len(ts)}))
`;

function svc(i: number, ip: string): SlimService {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: `s${i}`, namespace: 'bench' }, spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'http', protocol: 'TCP', port: 80 }, { name: 'iperf', protocol: 'TCP', port: 5201 }] } };
}
function slice(i: number, ip: string): SlimEndpointSlice {
  return { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `s${i}`, namespace: 'bench' }, addressType: 'IPv4', endpoints: [{ addresses: [ip], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'iperf', port: 5201, protocol: 'TCP' }] };
}
const svcIp = (i: number): string => `10.${97 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

async function latency(ip: string, port: number): Promise<{ p50: number; p99: number; mean: number }> {
  return JSON.parse(await run('ip', ['netns', 'exec', C, 'python3', '-c', CLIENT, ip, String(port), String(flags.connections)])) as { p50: number; p99: number; mean: number };
}

async function iperf(ip: string): Promise<number> {
  const out = await run('ip', ['netns', 'exec', C, 'iperf3', '-c', ip, '-p', '5201', '-t', String(flags.seconds), '-J']);
  return (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e9;
}

async function main(): Promise<void> {
  const children: ReturnType<typeof spawn>[] = [];
  await run('ip', ['netns', 'add', C]);
  await run('ip', ['netns', 'add', S]);
  try {
    await run('ip', ['-n', C, 'link', 'add', 'c0', 'type', 'veth', 'peer', 'name', 's0', 'netns', S]);
    for (const [ns, dev, ip] of [[C, 'c0', '10.200.0.1'], [S, 's0', SERVER_IP]] as const) {
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', dev]);
      await run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    await run('ip', ['-n', C, 'route', 'add', 'default', 'via', SERVER_IP]);
    children.push(spawn('ip', ['netns', 'exec', S, 'python3', '-c', SERVER], { stdio: 'ignore' }));
    children.push(spawn('ip', ['netns', 'exec', S, 'iperf3', '-s'], { stdio: 'ignore' }));
    await new Promise((r) => setTimeout(r, 1000));

    const table = new NftTable({ owner: PROXY_OWNER, table: proxyTableId(4), runner: new NftCommandRunner({ netns: C, timeoutMs: 600_000 }), owners: new TableOwners() });
    const fragments = new Map<string, TableFragment>();
    const add = (i: number, ip: string, ep: string): string[] => {
      const keys: string[] = [];
      for (const p of servicePortsOf(svc(i, ip), [slice(i, ep)], 'n1')) {
        fragments.set(portKey(p), portFragment(p, CFG));
        keys.push(portKey(p));
      }
      return keys;
    };
    add(0, TARGET, SERVER_IP);
    for (let i = 1; i < 10; i++) add(i, svcIp(i), `10.201.${i >> 8}.${(i & 255) || 1}`);
    await table.syncFragments({ base: proxyBase(CFG), fragments });
    const measure = async (): Promise<Record<string, number>> => {
      const direct = await latency(SERVER_IP, 8080);
      const viaService = await latency(TARGET, 80);
      const directGbps = await iperf(SERVER_IP);
      const serviceGbps = await iperf(TARGET);
      return {
        directP50Us: direct.p50, serviceP50Us: viaService.p50, directP99Us: direct.p99, serviceP99Us: viaService.p99,
        latencyRatioP50: viaService.p50 / direct.p50, latencyRatioMean: viaService.mean / direct.mean,
        directGbps, serviceGbps, throughputRatio: serviceGbps / directGbps,
      };
    };
    const small = await measure();
    const dirty: string[] = [];
    for (let i = 10; i < flags.services; i++) dirty.push(...add(i, svcIp(i), `10.201.${(i >> 8) & 255}.${(i & 255) || 1}`));
    const t0 = performance.now();
    for (let k = 0; k < dirty.length; k += 2000) await table.syncFragments({ base: proxyBase(CFG), fragments }, { dirty: dirty.slice(k, k + 2000) });
    const programMs = performance.now() - t0;
    const large = await measure();
    printResult({
      bench: 'proxy-datapath', note: 'run under /tmp/meshlet-integration.lock; client and server namespaces on one veth', machine: machineInfo(),
      connections: flags.connections, iperfSeconds: flags.seconds,
      with10: small, [`with${flags.services}`]: large, programLargeMs: programMs,
    });
  } finally {
    for (const c of children) c.kill();
    await run('ip', ['netns', 'del', C]).catch(() => {});
    await run('ip', ['netns', 'del', S]).catch(() => {});
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
