// `meshlet lab down`: stops the lab's processes (only those it can prove are its
// own: recorded PID with the same start time — the agents' pod processes by the
// kubelets' run records —, inside its namespaces (pods' too: ml-<lab>-p-…), or
// running in its state dir), deletes every namespace with its exact prefix, removes the
// state dir. Safe to run twice and after a crash.
import { existsSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { labCgroupParent, labNamespacePrefix, labNamespacesIn, labStateDir, planLab } from './plan.ts';
import { removeRecordedCgroups } from '../kubelet/cgroups.ts';
import { dnsProcesses, podProcesses } from './agents.ts';
import { Progress } from './progress.ts';
import type { ProcessRecord } from './state.ts';
import { readLabState } from './state-file.ts';
import { assertNetnsName, deleteNetns, listNetns, netnsPids, processesOfStateDir, recordOf, stopProcesses } from './system.ts';
import { join } from 'node:path';

export interface LabDownOptions {
  name: string;
  root: string;
}

export interface LabDownResult {
  stopped: ProcessRecord[];
  namespaces: string[];
  stateDirRemoved: boolean;
  errors: string[];
}

const ETC_NETNS = '/etc/netns';

/** Entries of /etc/netns that belong to the lab (its exact namespace prefix). */
function etcNetnsOf(prefix: string): string[] {
  try {
    return readdirSync(ETC_NETNS).filter((d) => d.startsWith(prefix) && assertable(d));
  } catch {
    return [];
  }
}

function assertable(name: string): boolean {
  try {
    assertNetnsName(name);
    return true;
  } catch {
    return false;
  }
}

export async function labDown(opts: LabDownOptions, progress = new Progress()): Promise<LabDownResult> {
  const stateDir = labStateDir(opts.root, opts.name);
  const prefix = labNamespacePrefix(opts.name);
  const state = readLabState(join(stateDir, 'state.json'));
  const errors: string[] = [];

  // First the agents (so no kubelet starts a container while its pods are being
  // stopped) and the server; then the pods' processes, found by the kubelets'
  // run records (pid + start time), by namespace and by state dir; then redis.
  const recorded = state?.processes ?? [];
  const agents = recorded.filter((p) => p.role.startsWith('agent '));
  const server = recorded.filter((p) => p.role === 'server');
  const first = [...agents, ...server];
  // Agents while the server still answers (their shutdown talks to it), then the server.
  const stopped = [...(await stopProcesses(agents)), ...(await stopProcesses(server))];
  const present = new Set(await listNetns());
  const recordedNs = (state?.namespaces ?? []).filter((ns) => ns.startsWith(prefix));
  const namespaces = [...new Set([...recordedNs.filter((ns) => present.has(ns)), ...labNamespacesIn(opts.name, [...present])])];
  const candidates: ProcessRecord[] = [];
  if (state && state.nodes > 0) {
    try {
      const plan = planLab(opts.name, state.nodes, stateDir);
      candidates.push(...dnsProcesses(plan), ...podProcesses(plan));
    } catch (err) {
      errors.push(`pod processes: ${(err as Error).message}`);
    }
  }
  candidates.push(...recorded.filter((p) => !first.includes(p)));
  if (existsSync(stateDir)) candidates.push(...processesOfStateDir(realpathSync(stateDir)));
  for (const ns of namespaces) {
    for (const pid of await netnsPids(ns)) candidates.push(recordOf(`process in ${ns}`, pid));
  }
  const byPid = new Map<number, ProcessRecord>();
  for (const rec of candidates) if (rec.pid !== undefined && !byPid.has(rec.pid)) byPid.set(rec.pid, rec);
  const redis = [...byPid.values()].filter((r) => r.role.startsWith('redis'));
  stopped.push(...(await stopProcesses([...byPid.values()].filter((r) => !redis.includes(r)))));
  stopped.push(...(await stopProcesses(redis)));
  for (const rec of stopped) progress.step(`stopped ${rec.role} (pid ${rec.pid})`);

  const removed: string[] = [];
  for (const ns of namespaces) {
    try {
      await deleteNetns(ns);
      removed.push(ns);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (removed.length) progress.step(`deleted network namespaces ${removed.join(', ')}`);
  // Pods' /etc/netns/<netns> files whose namespace is already gone (an agent that died before its kubelet removed them).
  for (const dir of etcNetnsOf(prefix)) rmSync(join(ETC_NETNS, dir), { recursive: true, force: true });

  // The nodes' pod cgroups (their processes are stopped above), as each agent recorded them.
  if (state && state.nodes > 0) {
    try {
      for (const node of planLab(opts.name, state.nodes, stateDir).nodes) {
        const dirs = await removeRecordedCgroups(node.dataDir, labCgroupParent(opts.name, node.nodeName));
        if (dirs.length) progress.step(`removed cgroups ${dirs.join(', ')}`);
      }
    } catch (err) {
      errors.push(`cgroups: ${(err as Error).message}`);
    }
  }

  let stateDirRemoved = false;
  if (existsSync(stateDir)) {
    rmSync(stateDir, { recursive: true, force: true });
    stateDirRemoved = true;
    progress.step(`removed ${stateDir}`);
  }
  if (!stopped.length && !removed.length && !stateDirRemoved) progress.step(`lab "${opts.name}": nothing to remove`);
  for (const e of errors) progress.step(`error: ${e}`);
  return { stopped, namespaces: removed, stateDirRemoved, errors };
}
