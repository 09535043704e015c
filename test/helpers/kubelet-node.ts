// A stand-in node for kubelet tests (root): a real API server (redis + server),
// the agent's real pod IP table (src/agent/pod-ips.ts) over the node's subnet,
// a network namespace with the node bridge holding the subnet's gateway, and a
// Kubelet told that namespace (nodeNetns).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { startTestApiServer, type TestApiServer } from './api-server.ts';
import { createClient } from '../../src/client/http-client.ts';
import type { ApiClient } from '../../src/client/types.ts';
import { PodIps } from '../../src/agent/pod-ips.ts';
import { parseCidr, gatewayOf } from '../../src/core/cidr.ts';
import { Kubelet, type KubeletDeps } from '../../src/kubelet/kubelet.ts';
import { InformerFactory } from '../../src/client/informer-factory.ts';
import { SLIM_TRANSFORMS } from '../../src/client/slim-objects.ts';

export const NODE_NAME = 'n1';
export const NODE_IP = '192.0.2.1';

export interface KubeletNode {
  /** The prefix of every namespace this node and its pods use (`mlt-<hex>-`). */
  tag: string;
  nodeNs: string;
  dataDir: string;
  api: TestApiServer;
  client: ApiClient;
  podIps: PodIps;
  kubelet: Kubelet;
  /** Stops the kubelet, its pods and namespaces, the client and the server. */
  stop(): Promise<void>;
}

export async function startKubeletNode(opts: { name: string; subnet: string; kubelet?: Partial<KubeletDeps> }): Promise<KubeletNode> {
  const tag = `mlt-${randomBytes(3).toString('hex')}-`;
  const nodeNs = `${tag}node`;
  const dataDir = await mkdtemp(join(tmpdir(), `mlt-kubelet-${opts.name}-`));
  const cleanups: (() => Promise<void> | void)[] = [() => rm(dataDir, { recursive: true, force: true })];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => undefined);
  };
  try {
    const api = await startTestApiServer({ nodes: [NODE_NAME] });
    cleanups.push(() => api.stop());
    const client = createClient({ server: api.url, token: api.token });
    cleanups.push(() => client.close());
    const logger = pino({ level: 'silent' });
    const podIps = await PodIps.open({ dataDir, nodeName: NODE_NAME, subnets: [opts.subnet], logger });
    // The kubelet takes its pods from an agent-style factory (slim by default; its own pods whole).
    const informers = new InformerFactory({ client, transforms: SLIM_TRANSFORMS });
    informers.start();
    cleanups.push(() => informers.stop());
    const subnet = parseCidr(opts.subnet);
    const gateway = gatewayOf(subnet);
    execFileSync('ip', ['netns', 'add', nodeNs]);
    cleanups.push(() => void execFileSync('ip', ['netns', 'del', nodeNs]));
    execFileSync('ip', ['-n', nodeNs, 'link', 'add', 'mlbr0', 'type', 'bridge']);
    execFileSync('ip', ['-n', nodeNs, 'addr', 'add', `${gateway}/${subnet.prefix}`, 'dev', 'mlbr0']);
    execFileSync('ip', ['-n', nodeNs, 'link', 'set', 'mlbr0', 'up']);
    const kubelet = new Kubelet({
      nodeName: NODE_NAME,
      nodeIp: NODE_IP,
      dataDir,
      netnsPrefix: tag,
      mtu: 1450,
      dnsIp: '10.96.0.10',
      nodeNetns: nodeNs,
      client,
      informers,
      logger,
      resyncMs: 200,
      ipam: podIps.kubeletIpam(),
      ...opts.kubelet,
    });
    cleanups.push(async () => {
      await kubelet.stop().catch(() => undefined);
      for (const uid of kubelet.runtime.podUids()) {
        for (const name of kubelet.runtime.containerNames(uid)) await kubelet.runtime.stop(uid, name, 0).catch(() => undefined);
        await kubelet.runtime.killAllInNetns(kubelet.sandboxes.names(uid).netns).catch(() => undefined);
        await kubelet.sandboxes.remove(uid).catch(() => undefined);
      }
    });
    await kubelet.start();
    return { tag, nodeNs, dataDir, api, client, podIps, kubelet, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Polls fn until it returns something truthy (no timing assertion: the limit only bounds a hang). */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
