// A lab's agents after `lab up`: restarting one the way `lab up` started it
// (same argv, recorded in state.json), and finding the pod processes the
// agents' kubelets started (detached supervisors that outlive the agents) by
// their run records, pid + start time, for `lab down`.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MESHLET_BIN } from './paths.ts';
import { AGENT_LAUNCHER, agentCommand, labStateDir, planLab, type LabPlan } from './plan.ts';
import { withProcess, type ProcessRecord } from './state.ts';
import { readLabState, writeLabState } from './state-file.ts';
import { isAlive, spawnDetached } from './system.ts';
import { dnsPaths } from '../agent/dns-process.ts';

/** Starts node's agent again (its previous process must be gone); records and returns the new process. */
export function restartAgent(name: string, root: string, nodeName: string): ProcessRecord {
  const stateDir = labStateDir(root, name);
  const stateFile = join(stateDir, 'state.json');
  const state = readLabState(stateFile);
  if (!state) throw new Error(`no lab named "${name}"`);
  const plan = planLab(name, state.nodes, stateDir);
  const node = plan.nodes.find((n) => n.nodeName === nodeName);
  if (!node) throw new Error(`lab "${name}" has no node "${nodeName}"`);
  const role = `agent ${nodeName}`;
  const old = state.processes.find((p) => p.role === role);
  if (old && isAlive(old)) throw new Error(`${role} is still running (pid ${old.pid})`);
  writeLabState(stateFile, withProcess(state, { role }));
  const rec = spawnDetached(role, AGENT_LAUNCHER, agentCommand(plan, node, process.execPath, MESHLET_BIN, state.network), stateDir, node.logFile);
  const now = readLabState(stateFile) ?? state;
  writeLabState(stateFile, withProcess(now, rec));
  return rec;
}

interface RunFile {
  shimPid?: unknown;
  shimStartTicks?: unknown;
  pid?: unknown;
  pidStartTicks?: unknown;
}

function dirs(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

/**
 * Pod processes recorded by the kubelets under <node data dir>/pods/<uid>/<container>/<n>.json:
 * each run's supervisor shim and main process, with the start time the kubelet
 * saw, so a recycled pid never matches (stopProcesses checks it again).
 */
export function podProcesses(plan: LabPlan): ProcessRecord[] {
  const out: ProcessRecord[] = [];
  for (const node of plan.nodes) {
    const pods = join(node.dataDir, 'pods');
    for (const uid of dirs(pods)) {
      for (const container of dirs(join(pods, uid))) {
        const cdir = join(pods, uid, container);
        let files: string[] = [];
        try {
          files = readdirSync(cdir).filter((f) => /^\d+\.json$/.test(f));
        } catch {
          continue;
        }
        for (const f of files) {
          let run: RunFile;
          try {
            run = JSON.parse(readFileSync(join(cdir, f), 'utf8')) as RunFile;
          } catch {
            continue;
          }
          const role = `pod ${uid.slice(0, 8)} ${container} (${node.nodeName})`;
          for (const [pid, ticks] of [[run.pid, run.pidStartTicks], [run.shimPid, run.shimStartTicks]] as const) {
            if (typeof pid === 'number' && Number.isInteger(pid) && pid > 1 && typeof ticks === 'number') {
              out.push({ role, pid, startTime: String(ticks) });
            }
          }
        }
      }
    }
  }
  return out;
}

/**
 * Each node's `meshlet dns` (detached, it outlives its agent), by the pid and
 * start time its pid file or the agent's launch record hold.
 */
export function dnsProcesses(plan: LabPlan): ProcessRecord[] {
  const out: ProcessRecord[] = [];
  for (const node of plan.nodes) {
    const paths = dnsPaths(node.dataDir);
    for (const file of [paths.pidFile, paths.launchFile]) {
      try {
        const v = JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown; startTicks?: unknown };
        if (typeof v.pid === 'number' && Number.isInteger(v.pid) && v.pid > 1 && typeof v.startTicks === 'number') {
          out.push({ role: `dns (${node.nodeName})`, pid: v.pid, startTime: String(v.startTicks) });
        }
      } catch {
        // no record
      }
    }
  }
  return out;
}
