// The pod loop end to end: a real API server (test helper: redis + server), the
// real IPAM on the same Redis, a stand-in node namespace with its bridge, and a
// Kubelet told that namespace (nodeNetns). A pod bound to the node becomes
// Running with an IP; deleting it stops it, tears down its sandbox, releases
// its IP and finishes the deletion. Requires root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';
import { createClient } from '../../src/client/http-client.ts';
import type { ApiClient } from '../../src/client/types.ts';
import { Ipam } from '../../src/overlay/ipam.ts';
import { parseCidr, gatewayOf } from '../../src/overlay/cidr.ts';
import { Kubelet } from '../../src/kubelet/kubelet.ts';
import { podNetnsName } from '../../src/kubelet/names.ts';
import type { KubeletPod } from '../../src/kubelet/pod-spec.ts';

const tag = `mlt-${randomBytes(3).toString('hex')}-`;
const nodeNs = `${tag}node`;
let api: TestApiServer | undefined;
let client: ApiClient | undefined;
let ipam: Ipam | undefined;
let kubelet: Kubelet | undefined;
let dataDir = '';
let prefixLength = 24;

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mlt-kubelet-loop-'));
  api = await startTestApiServer({ nodes: ['n1'] });
  client = createClient({ server: api.url, token: api.token });
  ipam = await Ipam.connect(`redis+unix://${join(api.dir, 'redis', 'redis.sock')}`, { prefix: 'mltk', clusterCidr: '10.252.0.0/16' });
  const lease = await ipam.leaseSubnet('n1');
  const subnet = parseCidr(lease.subnets[0]);
  prefixLength = subnet.prefix;
  const gw = gatewayOf(subnet);
  execFileSync('ip', ['netns', 'add', nodeNs]);
  execFileSync('ip', ['-n', nodeNs, 'link', 'add', 'mlbr0', 'type', 'bridge']);
  execFileSync('ip', ['-n', nodeNs, 'addr', 'add', `${gw}/${prefixLength}`, 'dev', 'mlbr0']);
  execFileSync('ip', ['-n', nodeNs, 'link', 'set', 'mlbr0', 'up']);
  const theIpam = ipam;
  kubelet = new Kubelet({
    nodeName: 'n1',
    nodeIp: '192.0.2.1',
    dataDir,
    netnsPrefix: tag,
    mtu: 1450,
    dnsIp: '10.96.0.10',
    nodeNetns: nodeNs,
    client,
    logger: pino({ level: 'silent' }),
    resyncMs: 200,
    ipam: {
      allocate: async (key) => ({ ip: await theIpam.allocateIp('n1', key), prefixLength, gateway: gw }),
      release: async (key) => void (await theIpam.releaseIp('n1', key)),
      reclaim: async (live) => void (await theIpam.reclaim('n1', live)),
    },
  });
  await kubelet.start();
});

after(async () => {
  await kubelet?.stop().catch(() => undefined);
  if (kubelet) {
    for (const uid of kubelet.runtime.podUids()) {
      for (const name of kubelet.runtime.containerNames(uid)) await kubelet.runtime.stop(uid, name, 0).catch(() => undefined);
      await kubelet.runtime.killAllInNetns(kubelet.sandboxes.names(uid).netns).catch(() => undefined);
      await kubelet.sandboxes.remove(uid).catch(() => undefined);
    }
  }
  try {
    execFileSync('ip', ['netns', 'del', nodeNs]);
  } catch {
    /* gone */
  }
  await ipam?.close();
  client?.close();
  await api?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

test('a bound pod runs, reports status, and is deleted gracefully', async () => {
  const created = (await client!.create('pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'loop', namespace: 'default' },
    spec: {
      nodeName: 'n1',
      terminationGracePeriodSeconds: 1,
      containers: [
        { name: 'main', image: 'busybox', command: ['sh', '-c', 'echo started; exec sleep 3600'] },
        { name: 'noimage', image: 'nginx' },
      ],
    },
  })) as KubeletPod;
  const uid = created.metadata.uid!;
  const running = await waitFor('main running', async () => {
    const p = (await client!.get('pods', 'default', 'loop')) as KubeletPod | undefined;
    const main = p?.status?.containerStatuses?.find((c) => c.name === 'main');
    return main?.state.running ? p : undefined;
  });
  assert.equal(running.status?.phase, 'Pending', 'one container cannot start, so the pod is Pending');
  assert.match(running.status?.podIP ?? '', /^10\.252\./);
  assert.equal(running.status?.hostIP, '192.0.2.1');
  const noimage = running.status!.containerStatuses!.find((c) => c.name === 'noimage')!;
  assert.equal(noimage.state.waiting?.reason, 'CreateContainerConfigError');
  assert.match(noimage.state.waiting?.message ?? '', /no command/);
  const netns = podNetnsName(tag, uid);
  assert.ok(existsSync(join('/run/netns', netns)));
  const allocations = await ipam!.listAllocations('n1');
  assert.equal(allocations.get(running.status!.podIP!), `default/loop/${uid}`);

  const logs = await waitFor('logs', async () => {
    let s = '';
    for await (const chunk of kubelet!.readLogs('default', 'loop', 'main')) s += chunk.toString();
    return s.includes('started') ? s : undefined;
  });
  assert.equal(logs, 'started\n');

  await client!.delete('pods', 'default', 'loop', { gracePeriodSeconds: 1 });
  await waitFor('pod gone', async () => ((await client!.get('pods', 'default', 'loop')) === undefined ? true : undefined));
  await waitFor('sandbox gone', async () => !existsSync(join('/run/netns', netns)) && !existsSync(join(dataDir, 'pods', uid)));
  assert.equal((await ipam!.listAllocations('n1')).size, 0, 'IP released');
});
