// Pod and container cgroups as data: which hierarchy the host has (v1 or the
// unified v2) and where the agent's own cgroup is, the names and directories of
// meshlet's cgroups under it, the limits a pod spec asks for, and the file
// writes that set them. Pure; src/kubelet/cgroups.ts applies it.
//
// Layout (both versions): <agent's own cgroup>/<parent>/pod-<uid>/<container>,
// <parent> = "meshlet-<node>" unless the agent is told another name. v1 has one
// such tree per controller used (memory, cpu, cpuacct), v2 one tree.
import { join } from 'node:path';
import { milliValue, intValue } from '../core/quantity.ts';
import { checkContainerName, checkUid } from './names.ts';
import { containersOf, type ContainerSpec, type KubeletPod } from './pod-spec.ts';

export type CgroupVersion = 'v1' | 'v2';
/** The controllers meshlet uses. On v2 the three share one directory. */
export type Controller = 'memory' | 'cpu' | 'cpuacct';
export const CONTROLLERS: readonly Controller[] = ['memory', 'cpu', 'cpuacct'];

export interface CgroupHierarchy {
  version: CgroupVersion;
  /** Per controller: the directory of the agent's own cgroup (v2: the same one for all). */
  base: Record<Controller, string>;
}

export class CgroupUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CgroupUnavailableError';
  }
}

export interface MountEntry {
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The cgroup mounts of /proc/self/mountinfo. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (left.length < 5 || right.length < 3) continue;
    const fsType = right[0];
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    out.push({ root: unescapeMount(left[3]), mountPoint: unescapeMount(left[4]), fsType, superOptions: right[2].split(',') });
  }
  return out;
}

/** /proc/self/cgroup: "<id>:<controllers>:<path>" lines → path by controller ('' for the v2 line). */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[2] === '') out.set('', m[3]);
    else for (const c of m[2].split(',')) out.set(c, m[3]);
  }
  return out;
}

/** The directory of cgroup `path` in a mount whose root is `root` (a cgroup namespace or bind mount shows a sub-tree). */
function dirIn(mount: MountEntry, path: string): string {
  const rel = mount.root === '/' ? path : path.startsWith(mount.root) ? path.slice(mount.root.length) : path;
  const dir = join(mount.mountPoint, rel || '/');
  return dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir;
}

/**
 * Which hierarchy to use: v1 when the memory, cpu and cpuacct controllers are
 * mounted as v1 hierarchies (a controller-less cgroup2 beside them, as systemd's
 * "hybrid" mode has, is ignored), else the unified v2 hierarchy. The agent's own
 * cgroup per controller comes from /proc/self/cgroup.
 */
export function detectHierarchy(mountinfo: string, procCgroup: string): CgroupHierarchy {
  const mounts = parseMountinfo(mountinfo);
  const own = parseProcCgroup(procCgroup);
  const v1 = new Map<Controller, MountEntry>();
  for (const m of mounts) {
    if (m.fsType !== 'cgroup') continue;
    for (const c of CONTROLLERS) if (m.superOptions.includes(c) && !v1.has(c)) v1.set(c, m);
  }
  if (v1.size > 0) {
    const missing = CONTROLLERS.filter((c) => !v1.has(c) || own.get(c) === undefined);
    if (missing.length > 0) throw new CgroupUnavailableError(`cgroup v1: controller(s) ${missing.join(', ')} not mounted or not in /proc/self/cgroup`);
    const base = Object.fromEntries(CONTROLLERS.map((c) => [c, dirIn(v1.get(c)!, own.get(c)!)])) as Record<Controller, string>;
    return { version: 'v1', base };
  }
  const unified = mounts.find((m) => m.fsType === 'cgroup2');
  const path = own.get('');
  if (!unified || path === undefined) throw new CgroupUnavailableError('no cgroup hierarchy: neither v1 memory/cpu/cpuacct nor a cgroup2 mount with this process in it');
  const dir = dirIn(unified, path);
  return { version: 'v2', base: { memory: dir, cpu: dir, cpuacct: dir } };
}

const PARENT_NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;

/** The name of the node's cgroup under the agent's own: "meshlet-<node>" by default. */
export function defaultCgroupParent(nodeName: string): string {
  return checkCgroupParent(`meshlet-${nodeName}`);
}

export function checkCgroupParent(name: string): string {
  if (!PARENT_NAME.test(name) || name === '.' || name === '..') throw new Error(`invalid cgroup name ${JSON.stringify(name)}: lower-case letters, digits, '.', '_' and '-', up to 128`);
  return name;
}

/** A recorded node cgroup directory that may be removed: under /sys/fs/cgroup, normalised, named exactly `parent`. */
export function isNodeCgroupDir(dir: unknown, parent: string): boolean {
  return typeof dir === 'string' && dir.startsWith('/sys/fs/cgroup/') && join(dir) === dir && !dir.includes('/../') && dir.split('/').pop() === checkCgroupParent(parent);
}

export const POD_CGROUP_PREFIX = 'pod-';

export function podCgroupName(uid: string): string {
  return `${POD_CGROUP_PREFIX}${checkUid(uid)}`;
}

/** The pod uid a directory name under the node's cgroup stands for, or undefined. */
export function uidOfPodCgroup(name: string): string | undefined {
  if (!name.startsWith(POD_CGROUP_PREFIX)) return undefined;
  const uid = name.slice(POD_CGROUP_PREFIX.length);
  return /^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/.test(uid) ? uid : undefined;
}

export interface CgroupPaths {
  node(c: Controller): string;
  pod(c: Controller, uid: string): string;
  container(c: Controller, uid: string, name: string): string;
}

export function cgroupPaths(h: CgroupHierarchy, parent: string): CgroupPaths {
  checkCgroupParent(parent);
  return {
    node: (c) => join(h.base[c], parent),
    pod: (c, uid) => join(h.base[c], parent, podCgroupName(uid)),
    container: (c, uid, name) => join(h.base[c], parent, podCgroupName(uid), checkContainerName(name)),
  };
}

/** The distinct directories among the controllers (v1: three trees; v2: one). */
export function distinctDirs(dir: (c: Controller) => string): string[] {
  return [...new Set(CONTROLLERS.map(dir))];
}

// --- limits -----------------------------------------------------------------

/** Upstream kubelet's constants (pkg/kubelet/cm). */
export const MIN_SHARES = 2;
export const MAX_SHARES = 262144;
export const SHARES_PER_CPU = 1024;
export const CFS_PERIOD_US = 100_000;
export const MIN_QUOTA_US = 1000;

/** cpu.shares from a CPU request in millicores (upstream MilliCPUToShares). */
export function milliCpuToShares(milliCpu: number): number {
  if (milliCpu <= 0) return MIN_SHARES;
  const shares = Math.floor((milliCpu * SHARES_PER_CPU) / 1000);
  return Math.min(MAX_SHARES, Math.max(MIN_SHARES, shares));
}

/** v2 cpu.weight from v1 shares (upstream CpuSharesToCpuWeight: [2, 262144] → [1, 10000]). */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** CFS quota for a CPU limit in millicores (upstream MilliCPUToQuota), at least 1 ms. */
export function milliCpuToQuota(milliCpu: number, periodUs = CFS_PERIOD_US): number {
  if (milliCpu <= 0) return 0;
  return Math.max(MIN_QUOTA_US, Math.floor((milliCpu * periodUs) / 1000));
}

export interface CgroupLimits {
  cpuShares: number;
  /** CFS quota per period; undefined: no CPU limit. */
  cpuQuotaUs?: number;
  cpuPeriodUs: number;
  /** undefined: no memory limit. */
  memoryLimitBytes?: number;
}

export class ResourceSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResourceSpecError';
  }
}

function quantityOf(c: ContainerSpec, kind: 'limits' | 'requests', resource: 'cpu' | 'memory'): string | undefined {
  const v = c.resources?.[kind]?.[resource];
  return v === undefined || v === null ? undefined : String(v);
}

function measure(c: ContainerSpec, kind: 'limits' | 'requests', resource: 'cpu' | 'memory'): number | undefined {
  const text = quantityOf(c, kind, resource);
  if (text === undefined) return undefined;
  let v: number;
  try {
    v = resource === 'cpu' ? milliValue(text) : intValue(text);
  } catch (err) {
    throw new ResourceSpecError(`container ${c.name}: resources.${kind}.${resource}: ${(err as Error).message}`);
  }
  if (v < 0) throw new ResourceSpecError(`container ${c.name}: resources.${kind}.${resource} must not be negative`);
  return v;
}

/** A container's CPU request in millicores: the request, else the limit (as API defaulting sets it), else 0. */
export function cpuRequestMilli(c: ContainerSpec): number {
  return measure(c, 'requests', 'cpu') ?? measure(c, 'limits', 'cpu') ?? 0;
}

export function containerLimits(c: ContainerSpec): CgroupLimits {
  const cpuLimit = measure(c, 'limits', 'cpu');
  const mem = measure(c, 'limits', 'memory');
  return {
    cpuShares: milliCpuToShares(cpuRequestMilli(c)),
    cpuPeriodUs: CFS_PERIOD_US,
    ...(cpuLimit !== undefined && cpuLimit > 0 ? { cpuQuotaUs: milliCpuToQuota(cpuLimit) } : {}),
    ...(mem !== undefined && mem > 0 ? { memoryLimitBytes: mem } : {}),
  };
}

/**
 * The pod cgroup's limits, as upstream's ResourceConfigForPod: shares from the
 * sum of requests; a CPU quota and a memory limit only when every container has
 * that limit (the sums), else none at the pod level.
 */
export function podLimits(pod: KubeletPod): CgroupLimits {
  const cs = containersOf(pod);
  let req = 0;
  let cpuSum = 0;
  let memSum = 0;
  let allCpu = cs.length > 0;
  let allMem = cs.length > 0;
  for (const c of cs) {
    req += cpuRequestMilli(c);
    const cpu = measure(c, 'limits', 'cpu');
    const mem = measure(c, 'limits', 'memory');
    if (cpu === undefined || cpu <= 0) allCpu = false;
    else cpuSum += cpu;
    if (mem === undefined || mem <= 0) allMem = false;
    else memSum += mem;
  }
  return {
    cpuShares: milliCpuToShares(req),
    cpuPeriodUs: CFS_PERIOD_US,
    ...(allCpu ? { cpuQuotaUs: milliCpuToQuota(cpuSum) } : {}),
    ...(allMem ? { memoryLimitBytes: memSum } : {}),
  };
}

export interface CgroupWrite {
  controller: Controller;
  file: string;
  value: string;
  /** Skipped when the file does not exist (memsw without swap accounting, memory.swap.max without swap). */
  optional?: boolean;
}

/**
 * The files that set the limits, in order. v1: memory.limit_in_bytes before
 * memory.memsw.limit_in_bytes (memsw may not be below the limit; equal means no
 * swap, as the kubelet's cgroups run without swap); v2: memory.max and
 * memory.swap.max = 0, cpu.max "<quota|max> <period>", cpu.weight.
 */
export function limitWrites(version: CgroupVersion, l: CgroupLimits): CgroupWrite[] {
  if (version === 'v1') {
    const mem = l.memoryLimitBytes !== undefined ? String(l.memoryLimitBytes) : '-1';
    return [
      { controller: 'memory', file: 'memory.limit_in_bytes', value: mem },
      { controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: mem, optional: true },
      { controller: 'cpu', file: 'cpu.shares', value: String(l.cpuShares) },
      { controller: 'cpu', file: 'cpu.cfs_period_us', value: String(l.cpuPeriodUs) },
      { controller: 'cpu', file: 'cpu.cfs_quota_us', value: l.cpuQuotaUs !== undefined ? String(l.cpuQuotaUs) : '-1' },
    ];
  }
  return [
    { controller: 'memory', file: 'memory.max', value: l.memoryLimitBytes !== undefined ? String(l.memoryLimitBytes) : 'max' },
    ...(l.memoryLimitBytes !== undefined ? [{ controller: 'memory' as const, file: 'memory.swap.max', value: '0', optional: true }] : []),
    { controller: 'cpu', file: 'cpu.max', value: `${l.cpuQuotaUs !== undefined ? l.cpuQuotaUs : 'max'} ${l.cpuPeriodUs}` },
    { controller: 'cpu', file: 'cpu.weight', value: String(sharesToWeight(l.cpuShares)) },
  ];
}

/** v2: the controllers a cgroup must hand to its children (cgroup.subtree_control). */
export const V2_SUBTREE = ['cpu', 'memory'] as const;

/** v2: which of V2_SUBTREE a cgroup.subtree_control / cgroup.controllers text lacks. */
export function missingControllers(text: string): string[] {
  const have = new Set(text.trim().split(/\s+/));
  return V2_SUBTREE.filter((c) => !have.has(c));
}

// --- OOM --------------------------------------------------------------------

/** The file holding a cgroup's OOM-kill counter: v1 memory.oom_control, v2 memory.events. */
export function oomFile(version: CgroupVersion): string {
  return version === 'v1' ? 'memory.oom_control' : 'memory.events';
}

/** The `oom_kill N` counter of memory.oom_control (v1) or memory.events (v2); undefined when the kernel has none. */
export function parseOomKills(text: string): number | undefined {
  const m = /^oom_kill\s+(\d+)\s*$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * Whether a finished run was OOM-killed: its cgroup's OOM-kill counter grew
 * between the run's start and the next run's start (or now, for the last run),
 * and the run did not exit 0.
 */
export function wasOomKilled(atStart: number | undefined, atEnd: number | undefined, exitCode: number | undefined): boolean {
  return atStart !== undefined && atEnd !== undefined && atEnd > atStart && exitCode !== 0;
}
