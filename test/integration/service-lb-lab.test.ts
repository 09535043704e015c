// type: LoadBalancer on bare metal in a 3-node lab (root): the server hands a
// Service an address from the lab's pool (172.31.0.240/28) and chooses an
// announcing node with a ready endpoint; from a client namespace on the lab's
// underlay exactly that node answers ARP for the address (the kernel of no
// other node does); a node's own credentials cannot move the announcer; the
// connection through the address reaches an endpoint (once the proxy programs
// LoadBalancer addresses); when the announcer's agent is killed, the server
// moves the address to the other endpoint node after the node grace (the
// lab's, shortened here to NODE_GRACE_SECONDS; the server's default is 40 s),
// whose gratuitous ARP repoints the client's neighbour entry without it asking.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { nameServerPod } from '../helpers/name-server.ts';
import { startBenchLab, waitRunning, type BenchLab } from '../../bench/lab-harness.ts';
import { BRIDGE, LAB_LB_POOL, UNDERLAY_PREFIX, UNDERLAY_PREFIX_LEN } from '../../src/lab/plan.ts';
import { readLabState } from '../../src/lab/state-file.ts';
import { isAlive } from '../../src/lab/system.ts';
import { createClient } from '../../src/client/http-client.ts';
import { isKubeError } from '../../src/core/errors.ts';
import { LB_ANNOUNCER_ANNOTATION } from '../../src/core/well-known.ts';
import { inPool, parseLbPool } from '../../src/controllers/service-lb-pool.ts';
import type { KubeObject } from '../../src/core/types.ts';

const execFileP = promisify(execFile);
const PORT = 8080;
const CLIENT_IP = `${UNDERLAY_PREFIX}.100`;
/** The lab server's --node-monitor-grace-period: the failover case waits for it. */
const NODE_GRACE_SECONDS = 20;
// Sends one ARP request for argv[2] on argv[1] and prints the MACs that answer within a second.
const ARP_ASK = `
import socket, struct, sys, time, json
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806)); s.bind((sys.argv[1], 0x0806))
mac = s.getsockname()[4]; tpa = socket.inet_aton(sys.argv[2]); spa = socket.inet_aton(sys.argv[3])
s.send(b'\\xff'*6 + mac + struct.pack('!H', 0x0806) + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + mac + spa + b'\\x00'*6 + tpa)
out = []; end = time.time() + 1; s.settimeout(0.1)
while time.time() < end:
    try: d = s.recv(100)
    except socket.timeout: continue
    if len(d) >= 42 and struct.unpack('!H', d[20:22])[0] == 2 and d[28:32] == tpa: out.append(d[22:28].hex(':'))
print(json.dumps(out))
`;

let lab: BenchLab;
let clientNs: string;
let lbIp = '';

const sh = async (argv: string[]): Promise<string> => (await execFileP(argv[0], argv.slice(1), { timeout: 15_000 })).stdout;

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > end) return v;
    await sleep(250);
  }
}

const nodeMac = async (netns: string): Promise<string> =>
  (JSON.parse(await sh(['ip', '-n', netns, '-j', 'link', 'show', 'eth0'])) as { address: string }[])[0].address;
const arpAnswers = async (): Promise<string[]> => JSON.parse(await sh(['ip', 'netns', 'exec', clientNs, 'python3', '-c', ARP_ASK, 'eth0', lbIp, CLIENT_IP])) as string[];
const service = async (): Promise<KubeObject> => (await lab.client.get('services', 'default', 'web'))!;
const announcer = async (): Promise<string | undefined> => (await service()).metadata.annotations?.[LB_ANNOUNCER_ANNOTATION];
const netnsOf = (node: string): string => lab.plan.nodes.find((n) => n.nodeName === node)!.netns;

before(async () => {
  assert.equal(process.getuid?.(), 0, 'the LoadBalancer lab test needs root');
  lab = await startBenchLab('slb', 3, {}, undefined, { nodeGraceSeconds: NODE_GRACE_SECONDS });
  // A client on the underlay: a namespace with the lab's prefix (so lab down removes it too), a veth into br0.
  clientNs = `ml-${lab.name}-c`;
  await sh(['ip', 'netns', 'add', clientNs]);
  await sh(['ip', '-n', lab.plan.underlayNetns, 'link', 'add', 'c0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', clientNs]);
  await sh(['ip', '-n', lab.plan.underlayNetns, 'link', 'set', 'c0', 'master', BRIDGE, 'up']);
  await sh(['ip', '-n', clientNs, 'addr', 'add', `${CLIENT_IP}/${UNDERLAY_PREFIX_LEN}`, 'dev', 'eth0']);
  await sh(['ip', '-n', clientNs, 'link', 'set', 'eth0', 'up']);
  for (const [name, node] of [['w2', 'node-2'], ['w3', 'node-3']]) {
    await lab.client.create('pods', nameServerPod({ name, namespace: 'default', node, port: PORT, labels: { app: 'web' } }));
  }
  for (const name of ['w2', 'w3']) await waitRunning(lab.client, 'default', name);
  await lab.client.create('services', {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' },
    spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: PORT }] },
  });
});

after(async () => {
  if (clientNs) await execFileP('ip', ['netns', 'del', clientNs]).catch(() => undefined);
  await lab?.down();
});

test('the server gives the Service a pool address and an announcer with a ready endpoint; only that node answers ARP', async () => {
  const svc = await until(service, (s) => !!s.metadata.annotations?.[LB_ANNOUNCER_ANNOTATION] && !!(s.status as { loadBalancer?: { ingress?: unknown[] } })?.loadBalancer?.ingress, 20_000);
  const ingress = (svc.status as { loadBalancer?: { ingress?: { ip: string }[] } }).loadBalancer?.ingress ?? [];
  assert.equal(ingress.length, 1, JSON.stringify(svc.status));
  lbIp = ingress[0].ip;
  assert.ok(inPool(parseLbPool([LAB_LB_POOL])!, lbIp), `${lbIp} is in ${LAB_LB_POOL}`);
  const chosen = svc.metadata.annotations![LB_ANNOUNCER_ANNOTATION];
  assert.ok(['node-2', 'node-3'].includes(chosen), `announcer ${chosen} has an endpoint`);
  const answers = await until(arpAnswers, (a) => a.length > 0, 10_000);
  assert.deepEqual(answers, [await nodeMac(netnsOf(chosen))], 'exactly the announcer answers');
});

test('a node cannot write the announcer choice (NodeRestriction)', async () => {
  const node = lab.plan.nodes[0];
  const nodeClient = createClient({ server: `unix://${lab.plan.apiSocket}`, token: readFileSync(node.tokenFile, 'utf8').trim(), userAgent: 'test-node' });
  try {
    await assert.rejects(
      nodeClient.patch('services', 'default', 'web', { metadata: { annotations: { [LB_ANNOUNCER_ANNOTATION]: node.nodeName } } }, 'merge'),
      (err: unknown) => isKubeError(err, 'Forbidden'),
    );
    await assert.rejects(
      nodeClient.patch('services', 'default', 'web', { status: { loadBalancer: { ingress: [{ ip: `${UNDERLAY_PREFIX}.250` }] } } }, 'merge', { subresource: 'status' }),
      (err: unknown) => isKubeError(err, 'Forbidden'),
    );
  } finally {
    nodeClient.close();
  }
  assert.notEqual(await announcer(), node.nodeName);
});

test('from the underlay, a connection to the LoadBalancer address reaches an endpoint', async () => {
  const chosen = (await announcer())!;
  const table = await sh(['ip', 'netns', 'exec', netnsOf(chosen), 'nft', 'list', 'table', 'ip', 'meshlet-proxy']);
  assert.ok(table.includes(lbIp), 'the announcer\'s proxy programs the LoadBalancer address');
  const reply = await until(
    () => sh(['ip', 'netns', 'exec', clientNs, 'python3', '-c', `import socket; print(socket.create_connection(('${lbIp}', 80), timeout=3).makefile().readline().strip())`]).catch((e: Error) => e.message),
    (r) => /^w[23]\n?$/.test(r.trim()), 10_000,
  );
  assert.match(reply.trim(), /^w[23]$/);
});

test('when the announcer\'s agent dies, another endpoint node takes over and its gratuitous ARP repoints the client', async (t) => {
  const before = (await announcer())!;
  const other = before === 'node-2' ? 'node-3' : 'node-2';
  // The client holds a neighbour entry for the address (from an ordinary ARP exchange).
  await execFileP('ip', ['netns', 'exec', clientNs, 'ping', '-c', '1', '-W', '1', lbIp]).catch(() => undefined);
  const neigh = async (): Promise<string> => (await sh(['ip', '-n', clientNs, 'neigh', 'show', lbIp])).trim();
  assert.match(await neigh(), new RegExp(await nodeMac(netnsOf(before))));
  const rec = readLabState(lab.plan.stateFile)!.processes.find((p) => p.role === `agent ${before}`)!;
  assert.ok(isAlive(rec), `agent ${before} runs`);
  process.kill(rec.pid!, 'SIGKILL');
  const killedAt = Date.now();
  // The node grace, then the lifecycle controller marks it Unknown and the service-lb controller moves the address.
  const now = await until(announcer, (a) => a === other, 90_000);
  assert.equal(now, other);
  const otherMac = await nodeMac(netnsOf(other));
  // No ARP from the client: only the new announcer's gratuitous ARP can have changed the entry.
  const entry = await until(neigh, (n) => n.includes(otherMac), 10_000);
  assert.match(entry, new RegExp(otherMac));
  t.diagnostic(`takeover seen by the client ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill (node grace ${NODE_GRACE_SECONDS} s)`);
  assert.deepEqual(await arpAnswers(), [otherMac], 'the dead agent\'s node no longer answers');
});
