// Usage figures from cgroup readings, as data: which files hold CPU time and
// memory for each hierarchy, how to read them, and the CPU rate and memory
// working set over a window (as cAdvisor and the kubelet compute them). Pure.
import type { CgroupVersion, Controller } from './cgroup-plan.ts';
import type { UsageSample } from '../core/usage-summary.ts';

/** One look at a cgroup (or the node): cumulative CPU time and memory, at a moment. */
export interface UsageReading {
  /** ms since the epoch. */
  at: number;
  /** Cumulative CPU time, ns. */
  cpuNs: number;
  /** Memory charged to the cgroup, bytes (v1 memory.usage_in_bytes, v2 memory.current). */
  memoryBytes: number;
  /** Inactive file pages among them (v1 total_inactive_file, v2 inactive_file). */
  inactiveFileBytes: number;
}

export interface UsageFiles {
  cpu: { controller: Controller; file: string };
  memory: { controller: Controller; file: string };
  stat: { controller: Controller; file: string };
}

export function usageFiles(version: CgroupVersion): UsageFiles {
  return version === 'v1'
    ? {
        cpu: { controller: 'cpuacct', file: 'cpuacct.usage' },
        memory: { controller: 'memory', file: 'memory.usage_in_bytes' },
        stat: { controller: 'memory', file: 'memory.stat' },
      }
    : {
        cpu: { controller: 'cpu', file: 'cpu.stat' },
        memory: { controller: 'memory', file: 'memory.current' },
        stat: { controller: 'memory', file: 'memory.stat' },
      };
}

/** A "key value" line of a flat-keyed cgroup file (memory.stat, cpu.stat), or undefined. */
export function statValue(text: string, key: string): number | undefined {
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp > 0 && line.slice(0, sp) === key) {
      const v = Number(line.slice(sp + 1).trim());
      return Number.isFinite(v) ? v : undefined;
    }
  }
  return undefined;
}

/** The raw texts of a cgroup's usage files → a reading; undefined when a figure is missing or unparseable. */
export function parseReading(version: CgroupVersion, at: number, texts: { cpu: string; memory: string; stat: string }): UsageReading | undefined {
  const cpuNs = version === 'v1' ? Number(texts.cpu.trim()) : (statValue(texts.cpu, 'usage_usec') ?? NaN) * 1000;
  const memoryBytes = Number(texts.memory.trim());
  const inactiveFileBytes = statValue(texts.stat, version === 'v1' ? 'total_inactive_file' : 'inactive_file') ?? 0;
  if (!Number.isFinite(cpuNs) || !Number.isFinite(memoryBytes) || texts.cpu.trim() === '' || texts.memory.trim() === '') return undefined;
  return { at, cpuNs, memoryBytes, inactiveFileBytes };
}

/** Working set: usage minus inactive file pages, never below zero (cAdvisor's working_set). */
export function workingSet(r: UsageReading): number {
  return Math.max(0, r.memoryBytes - r.inactiveFileBytes);
}

/**
 * The sample between two readings of the same cgroup: CPU in nanocores over
 * the window, memory as the later working set. undefined without an earlier
 * reading, with a window that is not positive, or when the counter went back
 * (the cgroup was re-created): the rate is then unknown until the next round.
 */
export function sampleBetween(prev: UsageReading | undefined, cur: UsageReading): UsageSample | undefined {
  if (!prev) return undefined;
  const windowMs = cur.at - prev.at;
  if (windowMs <= 0 || cur.cpuNs < prev.cpuNs) return undefined;
  return {
    timestamp: new Date(cur.at).toISOString(),
    windowSeconds: windowMs / 1000,
    cpuNanoCores: Math.round(((cur.cpuNs - prev.cpuNs) * 1000) / windowMs),
    memoryWorkingSetBytes: workingSet(cur),
  };
}

/** Two readings as one (the node: its pods' cgroup plus the agent process). */
export function addReadings(a: UsageReading, b: Omit<UsageReading, 'at'>): UsageReading {
  return {
    at: a.at,
    cpuNs: a.cpuNs + b.cpuNs,
    memoryBytes: a.memoryBytes + b.memoryBytes,
    inactiveFileBytes: a.inactiveFileBytes + b.inactiveFileBytes,
  };
}
