// `meshlet lab up`: builds the lab step by step, recording every namespace and
// process in state.json before (namespaces) or as soon as (processes) it exists,
// so that `lab down` can always clean up, even after a crash.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { generateTokenFile } from '../api/auth.ts';
import { startRedis } from '../store/redis-process.ts';
import { labAdminClient, nodeReadiness } from './api.ts';
import { labDown } from './down.ts';
import type { KubeObject } from '../core/types.ts';
import { KUBELET_ENDPOINT_ANNOTATION, NODE_USER_PREFIX, VTEP_MAC_ANNOTATION } from '../core/well-known.ts';
import { MESHLET_BIN } from './paths.ts';
import {
  AGENT_LAUNCHER, agentCommand, labIdentities, labKubeconfig, labNamespacePrefix, labNamespacesIn, labStateDir, labTolerationSeconds, namespaceBatch,
  nodeBatch, planLab, serverCommand, underlayBatch, type LabNetworkOptions, type LabNodeLossOptions, type LabPlan,
} from './plan.ts';
import { Progress } from './progress.ts';
import { newLabState, withProcess, type LabState, type ProcessRecord } from './state.ts';
import { writeLabState } from './state-file.ts';
import { ipBatch, isAlive, listNetns, netnsExec, recordOf, spawnDetached } from './system.ts';

export interface LabUpOptions {
  name: string;
  nodes: number;
  root: string;
  keepOnFailure?: boolean;
  /** How long to wait for every Node to be Ready. */
  readyTimeoutMs?: number;
  /** Pod-network options for every agent. */
  network?: LabNetworkOptions;
  /** Node grace and tolerations of the server (short in tests that lose a node). */
  nodeLoss?: LabNodeLossOptions;
}

export interface LabUpResult {
  plan: LabPlan;
  port: number;
}

function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function labUp(opts: LabUpOptions, progress = new Progress()): Promise<LabUpResult> {
  const stateDir = labStateDir(opts.root, opts.name);
  const plan = planLab(opts.name, opts.nodes, stateDir);
  if (existsSync(stateDir)) {
    throw new Error(`lab "${opts.name}" already exists (${stateDir}): run "meshlet lab down --name ${opts.name}" first`);
  }
  const leftovers = labNamespacesIn(opts.name, await listNetns());
  if (leftovers.length > 0) {
    throw new Error(
      `network namespaces with the prefix ${labNamespacePrefix(opts.name)} exist (${leftovers.join(', ')}): run "meshlet lab down --name ${opts.name}" first`,
    );
  }
  mkdirSync(opts.root, { recursive: true, mode: 0o755 });
  mkdirSync(stateDir, { mode: 0o700 });
  let state: LabState = { ...newLabState(opts.name, opts.nodes, plan.namespaces, new Date()), network: opts.network ?? {} };
  const save = (): void => writeLabState(plan.stateFile, state);
  const record = (rec: ProcessRecord): void => {
    state = withProcess(state, rec);
    save();
  };
  save();

  try {
    await ipBatch(namespaceBatch(plan.namespaces));
    progress.step(`created network namespaces ${plan.namespaces.join(', ')}`);
    await ipBatch(underlayBatch(plan), plan.underlayNetns);
    await Promise.all(
      plan.nodes.map(async (node) => {
        await ipBatch(nodeBatch(node), node.netns);
        await netnsExec(node.netns, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
      }),
    );
    progress.step(`wired the underlay: bridge ${plan.underlayNetns}/br0, nodes ${plan.nodes.map((n) => `${n.nodeName}=${n.ip}`).join(' ')}`);

    for (const node of plan.nodes) mkdirSync(node.dataDir, { recursive: true, mode: 0o700 });
    const tokens = generateTokenFile(plan.tokenFile, labIdentities(plan));
    for (const node of plan.nodes) {
      writeFileSync(node.tokenFile, `${tokens.get(`${NODE_USER_PREFIX}${node.nodeName}`)}\n`, { mode: 0o600 });
    }
    const adminToken = tokens.get('admin');
    if (!adminToken) throw new Error('no admin token generated');

    record({ role: 'redis' });
    // A lab is disposable and rebuilt by `lab up`: its Redis keeps the cluster in memory, for speed; `lab status` says so.
    const redis = await startRedis({ dir: stateDir, detached: true, persistence: 'memory' });
    record(recordOf('redis', redis.pid));
    progress.step(`started redis-server (pid ${redis.pid}, unix socket only)`);

    record({ role: 'server' });
    const server = spawnDetached('server', process.execPath, serverCommand(plan, MESHLET_BIN, opts.network, opts.nodeLoss), stateDir, plan.serverLog);
    record(server);
    const { port, caFile } = await waitForServer(plan, server);
    state = { ...state, api: { host: '127.0.0.1', port } };
    save();
    writeFileSync(plan.kubeconfig, stringify(labKubeconfig(plan, port, adminToken, readFileSync(caFile, 'utf8'))), { mode: 0o600 });
    progress.step(`started meshlet server (pid ${server.pid}) on https://127.0.0.1:${port} and ${plan.apiSocket}`);
    const grace = opts.nodeLoss?.nodeGraceSeconds;
    progress.step(`pods tolerate a lost node for ${labTolerationSeconds(opts.nodeLoss)} s, then are evicted and replaced (--default-*-toleration-seconds; the server's default is 300 s)${grace !== undefined ? `; a node is lost after ${grace} s without a heartbeat` : ''}`);

    const agents: { rec: ProcessRecord; log: string }[] = [];
    for (const node of plan.nodes) {
      record({ role: `agent ${node.nodeName}` });
      const rec = spawnDetached(`agent ${node.nodeName}`, AGENT_LAUNCHER, agentCommand(plan, node, process.execPath, MESHLET_BIN, opts.network), stateDir, node.logFile);
      record(rec);
      agents.push({ rec, log: node.logFile });
    }
    progress.step(`started ${agents.length} agent(s) inside their node namespaces`);

    await waitForNodesReady(plan, agents, opts.readyTimeoutMs ?? 120_000);
    state = { ...state, phase: 'up' };
    save();
    progress.step(`all ${plan.nodes.length} node(s) Ready`);
    return { plan, port };
  } catch (err) {
    if (!opts.keepOnFailure) {
      progress.step(`lab up failed: ${(err as Error).message}; cleaning up`);
      await labDown({ name: opts.name, root: opts.root }, progress);
    }
    throw err;
  }
}

async function waitForServer(plan: LabPlan, server: ProcessRecord): Promise<{ port: number; caFile: string }> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (existsSync(plan.addressFile)) {
      const addr = JSON.parse(readFileSync(plan.addressFile, 'utf8')) as { port?: unknown; caFile?: unknown };
      if (typeof addr.port === 'number' && addr.port > 0 && typeof addr.caFile === 'string') return { port: addr.port, caFile: addr.caFile };
    }
    if (!isAlive(server)) throw new Error(`meshlet server exited; its log (${plan.serverLog}) ends:\n${tail(plan.serverLog)}`);
    await sleep(100);
  }
  throw new Error(`meshlet server did not start serving within 60 s; its log (${plan.serverLog}) ends:\n${tail(plan.serverLog)}`);
}

/** The agent published its subnet, VTEP and kubelet endpoint. */
function hasPodNetwork(node: KubeObject): boolean {
  const ann = node.metadata.annotations ?? {};
  return !!(node.spec as { podCIDR?: string } | undefined)?.podCIDR && !!ann[VTEP_MAC_ANNOTATION] && !!ann[KUBELET_ENDPOINT_ANNOTATION];
}

async function waitForNodesReady(plan: LabPlan, agents: { rec: ProcessRecord; log: string }[], timeoutMs: number): Promise<void> {
  const client = labAdminClient(plan);
  try {
    const deadline = Date.now() + timeoutMs;
    let lastProblem = 'no answer yet';
    while (Date.now() < deadline) {
      const dead = agents.find((a) => !isAlive(a.rec));
      if (dead) throw new Error(`${dead.rec.role} exited; its log (${dead.log}) ends:\n${tail(dead.log)}`);
      try {
        const items = (await client.list('nodes')).items;
        const ready = nodeReadiness(items);
        const networked = new Set(items.filter(hasPodNetwork).map((n) => n.metadata.name));
        const notReady = plan.nodes.filter((n) => ready.get(n.nodeName) !== 'True' || !networked.has(n.nodeName)).map((n) => n.nodeName);
        if (notReady.length === 0) return;
        lastProblem = `not Ready with a pod network yet: ${notReady.join(', ')}`;
      } catch (err) {
        lastProblem = (err as Error).message;
      }
      await sleep(250);
    }
    throw new Error(`nodes not Ready within ${timeoutMs / 1000} s (${lastProblem})`);
  } finally {
    client.close();
  }
}
