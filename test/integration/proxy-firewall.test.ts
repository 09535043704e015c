// loadBalancerSourceRanges and session affinity on the externalTrafficPolicy
// Local path, in real network namespaces (root): a "node" namespace holds the
// proxy's real table (servicePorts → proxyTable → NftTable → nft), routes
// between two clients (one inside the source ranges, one outside) and two
// server namespaces on its pod subnet. Real TCP connections only; names
// mlt-w4pfw-…, removed by exact name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { NetnsLab, inNs, ipIn } from '../helpers/netns-lab.ts';
import { NftCommandRunner } from '../../src/nft/runner.ts';
import { TableOwners } from '../../src/nft/owners.ts';
import { NftTable } from '../../src/nft/table-sync.ts';
import { servicePorts } from '../../src/proxy/service-ports.ts';
import { proxyTable, proxyTableId, PROXY_OWNER, type ProxyTableConfig } from '../../src/proxy/ruleset.ts';
import type { SlimEndpointSlice, SlimService } from '../../src/client/slim-objects.ts';

const P = `mlt-w4pfw${process.pid % 10000}`;
const NODE = `${P}-node`;
const IN = `${P}-in`; // 198.51.100.2, inside the source ranges
const OUT = `${P}-out`; // 100.64.0.2, outside
const SRV = [`${P}-s1`, `${P}-s2`]; // 10.244.1.5, 10.244.1.6
const CFG: ProxyTableConfig = { family: 4, serviceCidrs: ['10.96.0.0/16'], clusterCidrs: ['10.244.0.0/16'] };
const lab = new NetnsLab();
const servers: ChildProcess[] = [];

// A server that answers every connection with its namespace's name; a client that prints the answer or "timeout"/"refused".
const SERVER = `import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 8080)); s.listen(64)
print('ready', flush=True)
while True:
    c,_=s.accept(); c.sendall(sys.argv[1].encode()); c.close()`;
const CLIENT = `import socket,sys
for i in range(int(sys.argv[3])):
    try:
        c=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1); print(c.recv(64).decode() or 'empty', flush=True); c.close()
    except socket.timeout: print('timeout', flush=True)
    except ConnectionRefusedError: print('refused', flush=True)`;

async function connect(ns: string, addr: string, port: number, times = 1): Promise<string[]> {
  return (await inNs(ns, 'python3', '-c', CLIENT, addr, String(port), String(times))).trim().split('\n');
}

function lbService(name: string, clusterIP: string, ingress: string, extra: Partial<NonNullable<SlimService['spec']>>): SlimService {
  return {
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' },
    spec: { type: 'LoadBalancer', clusterIP, clusterIPs: [clusterIP], ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }], ...extra },
    status: { loadBalancer: { ingress: [{ ip: ingress }] } },
  };
}

function slice(name: string, ips: string[]): SlimEndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4', endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true }, nodeName: 'n1' })), ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

let table: NftTable;
const services = [
  lbService('fw', '10.96.1.7', '192.0.2.50', { loadBalancerSourceRanges: ['198.51.100.0/24'] }),
  lbService('aff', '10.96.1.8', '192.0.2.51', { externalTrafficPolicy: 'Local', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } }),
];
const slices = new Map([['default/fw', [slice('fw', ['10.244.1.5'])]], ['default/aff', [slice('aff', ['10.244.1.5', '10.244.1.6'])]]]);

before(async () => {
  await lab.addNamespace(NODE);
  await inNs(NODE, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  const wire = async (ns: string, hostIf: string, nodeIp: string, ip: string): Promise<void> => {
    await lab.addNamespace(ns);
    await ipIn(NODE, `link add ${hostIf} type veth peer name eth0 netns ${ns}`);
    await ipIn(NODE, `addr add ${nodeIp} dev ${hostIf}`);
    await ipIn(NODE, `link set ${hostIf} up`);
    await ipIn(ns, `addr add ${ip} dev eth0`);
    await ipIn(ns, 'link set eth0 up');
    await ipIn(ns, `route add default via ${nodeIp.split('/')[0]}`);
  };
  await wire(IN, 'fwin', '198.51.100.1/24', '198.51.100.2/24');
  await wire(OUT, 'fwout', '100.64.0.1/24', '100.64.0.2/24');
  // both servers on one node-side bridge (the pod subnet)
  await ipIn(NODE, 'link add fwbr type bridge');
  await ipIn(NODE, 'addr add 10.244.1.1/24 dev fwbr');
  await ipIn(NODE, 'link set fwbr up');
  for (const [i, ns] of SRV.entries()) {
    await lab.addNamespace(ns);
    await ipIn(NODE, `link add fws${i} type veth peer name eth0 netns ${ns}`);
    await ipIn(NODE, `link set fws${i} master fwbr up`);
    await ipIn(ns, `addr add 10.244.1.${5 + i}/24 dev eth0`);
    await ipIn(ns, 'link set eth0 up');
    await ipIn(ns, 'route add default via 10.244.1.1');
    const child = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', SERVER, ns], { stdio: ['ignore', 'pipe', 'inherit'] });
    servers.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`server in ${ns} exited ${code}`)));
    });
  }
  table = new NftTable({ owner: PROXY_OWNER, table: proxyTableId(4), runner: new NftCommandRunner({ netns: NODE }), owners: new TableOwners() });
  await table.sync(proxyTable(servicePorts({ services, slicesByService: slices, nodeName: 'n1' }), CFG));
});

after(async () => {
  for (const c of servers) c.kill('SIGKILL');
  await lab.cleanup();
});

test('loadBalancerSourceRanges: the LoadBalancer address answers a client inside the ranges and drops one outside, whose ClusterIP traffic still works', async () => {
  assert.deepEqual(await connect(IN, '192.0.2.50', 80), [SRV[0]]);
  // the outside client reaches the Service (through its ClusterIP): the drop below is the firewall's, not the path's
  assert.deepEqual(await connect(OUT, '10.96.1.7', 80), [SRV[0]]);
  assert.deepEqual(await connect(OUT, '192.0.2.50', 80), ['timeout']);
  // without ranges the outside client gets in
  const open = services.map((s) => (s.metadata.name === 'fw' ? { ...s, spec: { ...s.spec, loadBalancerSourceRanges: [] } } : s));
  await table.sync(proxyTable(servicePorts({ services: open, slicesByService: slices, nodeName: 'n1' }), CFG));
  assert.deepEqual(await connect(OUT, '192.0.2.50', 80), [SRV[0]]);
  await table.sync(proxyTable(servicePorts({ services, slicesByService: slices, nodeName: 'n1' }), CFG));
  assert.deepEqual(await connect(OUT, '192.0.2.50', 80), ['timeout']);
});

test('externalTrafficPolicy Local with ClientIP affinity: an external client sticks to one of the two local endpoints', async () => {
  // 20 connections from one client all to the same server: without affinity, 2 · (1/2)^20 ≈ 2e-6
  const fromIn = await connect(IN, '192.0.2.51', 80, 20);
  assert.equal(fromIn.length, 20);
  assert.ok(SRV.includes(fromIn[0]), `answered by a server: ${fromIn[0]}`);
  assert.deepEqual(new Set(fromIn), new Set([fromIn[0]]), `all to one endpoint: ${[...new Set(fromIn)].join(', ')}`);
  // the other client has its own entry (it is answered too; which endpoint is random)
  const fromOut = await connect(OUT, '192.0.2.51', 80, 5);
  assert.ok(fromOut.every((a) => SRV.includes(a)), fromOut.join(', '));
  assert.equal(new Set(fromOut).size, 1);
});
