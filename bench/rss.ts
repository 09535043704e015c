// Resident memory of a benchmarked process, from /proc (VmRSS).
import { readFileSync } from 'node:fs';
import { childrenOf } from '../src/kubelet/proc.ts';

/** VmRSS of one process in MiB (NaN when /proc has no figure). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** VmRSS of a process and its direct children (a `meshlet dns` and its workers), in MiB. */
export function treeRssMiB(pid: number): number {
  return [pid, ...childrenOf(pid)].reduce((a, p) => a + rssMiB(p), 0);
}
