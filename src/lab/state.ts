// The lab's state record (state.json) and the /proc facts that identify a
// process for certain. Pure: parsing and updating are functions of data.
import type { LabNetworkOptions } from './plan.ts';

export interface ProcessRecord {
  /** 'redis', 'server', 'agent node-1'. */
  role: string;
  /** Absent while only the intent is recorded. */
  pid?: number;
  /** /proc/<pid>/stat field 22: a recycled PID has another start time. */
  startTime?: string;
}

export type LabPhase = 'creating' | 'up';

export interface LabState {
  version: 1;
  name: string;
  nodes: number;
  phase: LabPhase;
  createdAt: string;
  /** Namespaces recorded before they are created. */
  namespaces: string[];
  processes: ProcessRecord[];
  api?: { host: string; port: number };
  /** Pod-network options every agent runs with (lab up's), reused when an agent is restarted. */
  network?: LabNetworkOptions;
}

export function newLabState(name: string, nodes: number, namespaces: readonly string[], now: Date): LabState {
  return { version: 1, name, nodes, phase: 'creating', createdAt: now.toISOString(), namespaces: [...namespaces], processes: [] };
}

/** Reads state.json leniently: whatever names namespaces and processes is kept, so `down` can clean up. */
export function parseLabState(text: string): LabState {
  const raw: unknown = JSON.parse(text);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('state is not a JSON object');
  const r = raw as Record<string, unknown>;
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const processes: ProcessRecord[] = Array.isArray(r.processes)
    ? r.processes.flatMap((p): ProcessRecord[] => {
        if (typeof p !== 'object' || p === null) return [];
        const q = p as Record<string, unknown>;
        const rec: ProcessRecord = { role: typeof q.role === 'string' ? q.role : 'unknown' };
        if (typeof q.pid === 'number' && Number.isInteger(q.pid) && q.pid > 1) rec.pid = q.pid;
        if (typeof q.startTime === 'string') rec.startTime = q.startTime;
        return [rec];
      })
    : [];
  const api = r.api as Record<string, unknown> | undefined;
  const net = typeof r.network === 'object' && r.network !== null ? (r.network as Record<string, unknown>) : undefined;
  const network: LabNetworkOptions = {};
  if (net) {
    if (typeof net.clusterCidr === 'string') network.clusterCidr = net.clusterCidr;
    for (const k of ['nodeSubnetSize', 'subnetLeaseTtl', 'vni'] as const) {
      const v = net[k];
      if (typeof v === 'number' && Number.isInteger(v) && v > 0) network[k] = v;
    }
    if (Array.isArray(net.dnsUpstreams) && net.dnsUpstreams.every((u) => typeof u === 'string')) network.dnsUpstreams = net.dnsUpstreams as string[];
  }
  return {
    version: 1,
    name: typeof r.name === 'string' ? r.name : '',
    nodes: typeof r.nodes === 'number' ? r.nodes : 0,
    phase: r.phase === 'up' ? 'up' : 'creating',
    createdAt: typeof r.createdAt === 'string' ? r.createdAt : '',
    namespaces: strings(r.namespaces),
    processes,
    ...(api && typeof api.host === 'string' && typeof api.port === 'number' ? { api: { host: api.host, port: api.port } } : {}),
    ...(net ? { network } : {}),
  };
}

export function withProcess(state: LabState, rec: ProcessRecord): LabState {
  const others = state.processes.filter((p) => p.role !== rec.role);
  return { ...state, processes: [...others, rec] };
}

/** Field 22 (starttime) of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses. */
export function parseStatStartTime(stat: string): string | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).trim().split(/\s+/);
  // fields[0] is field 3 (state), so field 22 is fields[19].
  const v = fields[19];
  return v !== undefined && /^\d+$/.test(v) ? v : undefined;
}

/** A recorded process is ours only when its PID is alive with the recorded start time. */
export function isSameProcess(rec: ProcessRecord, currentStartTime: string | undefined): boolean {
  return rec.pid !== undefined && rec.startTime !== undefined && currentStartTime === rec.startTime;
}
