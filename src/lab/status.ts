// `meshlet lab status`: what exists of a lab and whether it works.
import { existsSync } from 'node:fs';
import { labAdminClient, getOverSocket, nodeReadiness } from './api.ts';
import { labNamespacesIn, labRedisUrl, labStateDir, planLab, type LabPlan } from './plan.ts';
import { describePersistence, readPersistence } from '../store/redis-process.ts';
import { readLabState, listLabs } from './state-file.ts';
import { isAlive, listNetns } from './system.ts';

export interface LabStatusReport {
  text: string;
  healthy: boolean;
}

export async function labStatus(name: string, root: string): Promise<LabStatusReport | undefined> {
  const stateDir = labStateDir(root, name);
  const state = readLabState(`${stateDir}/state.json`);
  const present = await listNetns();
  const labNs = labNamespacesIn(name, present);
  if (!state && !existsSync(stateDir) && labNs.length === 0) return undefined;

  const lines: string[] = [];
  let healthy = true;
  lines.push(`lab ${name}: ${state ? `${state.nodes} node(s), ${state.phase}, created ${state.createdAt}` : 'no readable state (run lab down)'}`);
  lines.push(`  state dir:  ${stateDir}`);
  if (!state) return { text: lines.join('\n') + '\n', healthy: false };

  const plan: LabPlan | undefined = state.nodes > 0 ? planLab(name, state.nodes, stateDir) : undefined;
  lines.push('  namespaces:');
  for (const ns of [...new Set([...state.namespaces, ...labNs])]) {
    const ok = present.includes(ns);
    healthy &&= ok;
    lines.push(`    ${ns.padEnd(24)} ${ok ? 'present' : 'MISSING'}`);
  }
  lines.push('  processes:');
  for (const p of state.processes) {
    const alive = isAlive(p);
    healthy &&= alive;
    lines.push(`    ${p.role.padEnd(24)} ${p.pid !== undefined ? `pid ${p.pid}`.padEnd(11) : 'not started'.padEnd(11)} ${alive ? 'running' : 'DEAD'}`);
  }
  if (!plan) return { text: lines.join('\n') + '\n', healthy: false };

  const health = await getOverSocket(plan.apiSocket, '/healthz');
  const apiOk = 'code' in health && health.code === 200;
  healthy &&= apiOk;
  lines.push(`  api:        ${state.api ? `https://127.0.0.1:${state.api.port}` : '-'} and unix://${plan.apiSocket}: ${'code' in health ? `healthz ${health.code} ${health.body}` : `unreachable (${health.error})`}`);
  lines.push(`  kubeconfig: ${plan.kubeconfig}`);
  lines.push(`  store:      ${await storeLine(labRedisUrl(plan))}`);
  lines.push('  nodes:');
  let ready = new Map<string, string>();
  if (apiOk) {
    const client = labAdminClient(plan);
    try {
      ready = nodeReadiness((await client.list('nodes')).items);
    } catch (err) {
      lines.push(`    cannot list nodes: ${(err as Error).message}`);
      healthy = false;
    } finally {
      client.close();
    }
  }
  for (const node of plan.nodes) {
    const agentHealth = await getOverSocket(node.healthSocket, '/healthz', 1000);
    const r = ready.get(node.nodeName) ?? 'absent';
    healthy &&= r === 'True';
    lines.push(
      `    ${node.nodeName.padEnd(10)} ${node.ip.padEnd(14)} ${node.netns.padEnd(20)} Ready=${r.padEnd(8)} agent ${'code' in agentHealth ? (agentHealth.code === 200 ? 'healthy' : `unhealthy: ${agentHealth.body}`) : 'unreachable'}`,
    );
  }
  return { text: lines.join('\n') + '\n', healthy };
}

/** How the lab's Redis keeps the cluster, as that Redis itself says (it may not be the lab's default). */
async function storeLine(url: string): Promise<string> {
  try {
    return `redis ${describePersistence(await readPersistence(url))}`;
  } catch (err) {
    return `redis unreachable (${(err as Error).message})`;
  }
}

export async function labList(root: string): Promise<string> {
  const names = listLabs(root);
  if (names.length === 0) return `no labs under ${root}\n`;
  const lines = ['NAME          NODES  PHASE     API'];
  for (const name of names) {
    const state = readLabState(`${labStateDir(root, name)}/state.json`);
    lines.push(`${name.padEnd(13)} ${String(state?.nodes ?? '?').padEnd(6)} ${(state?.phase ?? '?').padEnd(9)} ${state?.api ? `https://127.0.0.1:${state.api.port}` : '-'}`);
  }
  return lines.join('\n') + '\n';
}
