// The node-IPAM controller against a real API server and the real subnet pool
// in its Redis (no namespaces needed): a new Node gets a subnet in
// spec.podCIDRs; a deleted Node's lease is released at once; a silent Node
// (no heartbeat) keeps its subnet until the lease TTL passes, then loses it
// from its Node; a returning Node gets its old subnet back; a permanent
// reservation is honoured. Heartbeats are real kube-node-lease Leases the
// test renews, as an agent does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';
import { createClient } from '../../src/client/http-client.ts';
import type { ApiClient } from '../../src/client/types.ts';
import { Ipam } from '../../src/overlay/ipam.ts';
import { runControllers } from '../../src/controllers/index.ts';
import { buildNode, buildNodeLease, leaseRenewal, type NodeFacts } from '../../src/agent/node-object.ts';
import { NODE_LEASE_NAMESPACE } from '../../src/core/well-known.ts';
import type { KubeObject } from '../../src/core/types.ts';
import { waitFor } from '../helpers/wait.ts';

const LEASES = 'leases.coordination.k8s.io';
const TTL_MS = 3000;
const GRACE_MS = 1500;
let api: TestApiServer;
let client: ApiClient;
let ipam: Ipam;
let stopControllers: (() => Promise<void>) | undefined;
const beating = new Map<string, NodeJS.Timeout>();


const podCidrs = async (name: string): Promise<string[] | undefined> => {
  const n = await client.get('nodes', '', name);
  if (!n) return undefined;
  return ((n.spec as { podCIDRs?: string[] } | undefined)?.podCIDRs) ?? [];
};

/** Registers a Node (as an agent would, minus the agent) and keeps its heartbeat Lease fresh. */
async function startNode(name: string): Promise<KubeObject> {
  const facts: NodeFacts = { nodeName: name, nodeIP: '192.0.2.9', hostname: name, cpus: 2, memoryBytes: 2 ** 30, kernelVersion: '6', osImage: 'test', arch: 'x64', bootID: 'b', machineID: 'm', healthPort: 0 };
  const node = await client.create('nodes', buildNode(facts));
  await client.create(LEASES, buildNodeLease(name, new Date(), node.metadata.uid));
  beat(name);
  return node;
}
function beat(name: string): void {
  const t = setInterval(() => void client.patch(LEASES, NODE_LEASE_NAMESPACE, name, leaseRenewal(name, new Date()), 'merge').catch(() => undefined), 300);
  beating.set(name, t);
}
function silence(name: string): void {
  clearInterval(beating.get(name));
  beating.delete(name);
}

before(async () => {
  api = await startTestApiServer();
  client = createClient({ server: api.url, token: api.token });
  ipam = await Ipam.connect(`redis+unix://${join(api.dir, 'redis', 'redis.sock')}`, { clusterCidr: '10.240.0.0/16', nodePrefix: 24 });
  stopControllers = await runControllers(client, pino({ level: 'silent' }), { nodeGraceMs: GRACE_MS, nodeIpam: { ipam, ttlMs: TTL_MS, checkEveryMs: 250 } });
});

after(async () => {
  for (const name of [...beating.keys()]) silence(name);
  await stopControllers?.();
  await ipam?.close();
  client?.close();
  await api?.stop();
});

test('a new node gets a subnet; a deleted node releases it; created again, it gets the same one', async () => {
  await startNode('ipam-a');
  await startNode('ipam-b');
  const a = await waitFor('ipam-a subnet', async () => ((await podCidrs('ipam-a'))?.length ? podCidrs('ipam-a') : undefined));
  const b = await waitFor('ipam-b subnet', async () => ((await podCidrs('ipam-b'))?.length ? podCidrs('ipam-b') : undefined));
  assert.match(a![0], /^10\.240\.\d+\.0\/24$/);
  assert.notEqual(a![0], b![0], 'disjoint subnets');
  const node = await client.get('nodes', '', 'ipam-a');
  assert.equal((node!.spec as { podCIDR?: string }).podCIDR, a![0]);
  assert.deepEqual((await ipam.getLease('ipam-a'))?.subnets, a);

  silence('ipam-a');
  await client.delete('nodes', '', 'ipam-a');
  await waitFor('ipam-a lease released', async () => (await ipam.getLease('ipam-a')) === undefined);
  assert.ok(!(await ipam.listLeases()).some((l) => l.node === 'ipam-a'));
  await client.delete(LEASES, NODE_LEASE_NAMESPACE, 'ipam-a').catch(() => undefined);
  await startNode('ipam-a');
  assert.deepEqual(await waitFor('ipam-a back', async () => ((await podCidrs('ipam-a'))?.length ? podCidrs('ipam-a') : undefined)), a, 'its previous subnet');
});

test('a silent node keeps its subnet through the TTL, then loses it from its Node; back, it gets it again', async () => {
  await startNode('ipam-c');
  const c = await waitFor('ipam-c subnet', async () => ((await podCidrs('ipam-c'))?.length ? podCidrs('ipam-c') : undefined));
  // While it heartbeats, the lease is renewed past its first TTL.
  const first = (await ipam.getLease('ipam-c'))!.expiresAt!;
  await waitFor('a renewal', async () => ((await ipam.getLease('ipam-c'))?.expiresAt ?? 0) > first);
  assert.deepEqual(await podCidrs('ipam-c'), c);

  silence('ipam-c');
  await waitFor('ipam-c podCIDRs removed', async () => (await podCidrs('ipam-c'))?.length === 0);
  assert.equal(await ipam.getLease('ipam-c'), undefined, 'the lease lapsed');
  assert.ok(await client.get('nodes', '', 'ipam-c'), 'the Node itself stays');

  beat('ipam-c');
  assert.deepEqual(await waitFor('ipam-c back', async () => ((await podCidrs('ipam-c'))?.length ? podCidrs('ipam-c') : undefined)), c, 'its previous subnet');
});

test('a permanent reservation is honoured and never lapses', async () => {
  await ipam.reserveSubnet('ipam-r', '10.240.200.0/24');
  await startNode('ipam-r');
  assert.deepEqual(await waitFor('ipam-r subnet', async () => ((await podCidrs('ipam-r'))?.length ? podCidrs('ipam-r') : undefined)), ['10.240.200.0/24']);
  silence('ipam-r');
  // Past the grace period and a whole TTL: another node shows the controller is working meanwhile.
  await startNode('ipam-s');
  await waitFor('ipam-s subnet', async () => ((await podCidrs('ipam-s'))?.length ? true : undefined));
  await sleep(TTL_MS + GRACE_MS);
  await waitFor('ipam-s renewed while ipam-r is silent', async () => ((await ipam.getLease('ipam-s'))?.expiresAt ?? 0) > Date.now() + TTL_MS / 2);
  assert.deepEqual(await podCidrs('ipam-r'), ['10.240.200.0/24']);
  assert.equal((await ipam.getLease('ipam-r'))?.expiresAt, null);
});
