// The pod cgroups on the host: the thin shell over cgroup-plan.ts. Creates
// <own cgroup>/<parent>/pod-<uid>/<container> in every hierarchy used, writes
// the limits, reads the OOM-kill counter and usage files, and removes a pod's
// cgroups once its processes are gone (and leftovers of pods that are gone).
// Nothing above the agent's own cgroup is written; on v2 the agent's own cgroup
// must hand cpu and memory to its children (see docs/ARCHITECTURE.md).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import {
  V2_SUBTREE, CgroupUnavailableError, cgroupPaths, checkCgroupParent, containerLimits, detectHierarchy,
  distinctDirs, isNodeCgroupDir, limitWrites, missingControllers, oomFile, parseOomKills, podLimits, uidOfPodCgroup,
  type CgroupHierarchy, type CgroupLimits, type CgroupPaths, type Controller,
} from './cgroup-plan.ts';
import { parseReading, usageFiles, type UsageReading } from './usage-plan.ts';
import { checkContainerName } from './names.ts';
import { signal } from './proc.ts';
import type { ContainerSpec, KubeletPod } from './pod-spec.ts';

export interface PodCgroupsOptions {
  /** The node's cgroup name under the agent's own (cgroup-plan.ts defaultCgroupParent). */
  parent: string;
  /** Where to record the node cgroup's directories (CGROUPS_RECORD), for removal by another process (`lab down`). */
  recordDir?: string;
  logger: Logger;
  /** Where /proc is read from (detection). */
  mountinfo?: string;
  procCgroup?: string;
}

/** What a container's first process needs to join its cgroup before exec: the cgroup.procs files, and the OOM counter then. */
export interface CgroupJoin {
  procs: string[];
  oomKills?: number;
}

/** <agent data dir>/cgroups.json: the node cgroup's directories (they depend on the agent's own cgroup, which another process may not share). */
export const CGROUPS_RECORD = 'cgroups.json';

export interface CgroupsRecord {
  parent: string;
  dirs: string[];
}

/**
 * Removes the node cgroups an agent recorded in its data dir (processes still in
 * them are SIGKILLed), leaves first. Only directories under /sys/fs/cgroup named
 * exactly `parent` are touched. The directories removed.
 */
export async function removeRecordedCgroups(dataDir: string, parent: string): Promise<string[]> {
  let record: CgroupsRecord;
  try {
    record = JSON.parse(readFileSync(join(dataDir, CGROUPS_RECORD), 'utf8')) as CgroupsRecord;
  } catch {
    return [];
  }
  checkCgroupParent(parent);
  const removed: string[] = [];
  for (const dir of Array.isArray(record.dirs) ? record.dirs : []) {
    if (!isNodeCgroupDir(dir, parent)) continue;
    if (await removeTree(dir)) removed.push(dir);
  }
  return removed;
}

async function removeTree(dir: string): Promise<boolean> {
  if (!existsSync(dir)) return false;
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) await removeTree(join(dir, e.name));
      for (const p of (readText(join(dir, 'cgroup.procs')) ?? '').split(/\s+/).filter((x) => /^\d+$/.test(x))) signal(Number(p), 'SIGKILL');
      await rmdir(dir);
      return true;
    } catch (err) {
      if (isCode(err, 'ENOENT')) return true;
      if (!isCode(err, 'EBUSY')) throw err;
      await sleep(50);
    }
  }
  return false;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function isCode(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

export class PodCgroups {
  readonly paths: CgroupPaths;
  private readonly log: Logger;

  private constructor(readonly hierarchy: CgroupHierarchy, readonly parent: string, logger: Logger) {
    this.paths = cgroupPaths(hierarchy, parent);
    this.log = logger.child({ component: 'cgroups', cgroupVersion: hierarchy.version });
  }

  /** Detects the hierarchy and creates the node's cgroup. Throws CgroupUnavailableError with why when that cannot be done. */
  static async open(opts: PodCgroupsOptions): Promise<PodCgroups> {
    const parent = checkCgroupParent(opts.parent);
    const h = detectHierarchy(opts.mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8'), opts.procCgroup ?? readFileSync('/proc/self/cgroup', 'utf8'));
    const cg = new PodCgroups(h, parent, opts.logger);
    if (h.version === 'v2') await cg.delegateV2(h.base.memory);
    for (const dir of distinctDirs(cg.paths.node)) await cg.makeDir(dir);
    if (opts.recordDir) {
      const record: CgroupsRecord = { parent, dirs: distinctDirs(cg.paths.node) };
      await writeFile(join(opts.recordDir, CGROUPS_RECORD), JSON.stringify(record));
    }
    cg.log.info({ base: h.base, parent }, 'pod cgroups ready');
    return cg;
  }

  /** v2: the agent's own cgroup must offer cpu and memory to its children (cgroup.subtree_control). */
  private async delegateV2(base: string): Promise<void> {
    const available = readText(join(base, 'cgroup.controllers'));
    if (available === undefined) throw new CgroupUnavailableError(`cgroup v2: ${base} is not a cgroup directory`);
    const lacking = missingControllers(available);
    if (lacking.length > 0) throw new CgroupUnavailableError(`cgroup v2: the agent's cgroup ${base} has no ${lacking.join(', ')} controller (delegate them to it, as systemd's Delegate=yes does)`);
    const enabled = readText(join(base, 'cgroup.subtree_control')) ?? '';
    const off = missingControllers(enabled);
    if (off.length === 0) return;
    try {
      await writeFile(join(base, 'cgroup.subtree_control'), off.map((c) => `+${c}`).join(' '));
    } catch (err) {
      throw new CgroupUnavailableError(`cgroup v2: cannot enable ${off.join(', ')} in ${base}/cgroup.subtree_control (${(err as Error).message}); run the agent in a cgroup of its own with them delegated (a cgroup with processes cannot hand out controllers)`);
    }
  }

  /** mkdir (idempotent); v2 directories that will have children hand them cpu and memory. */
  private async makeDir(dir: string, hasChildren = true): Promise<void> {
    await mkdir(dir, { recursive: true });
    if (this.hierarchy.version === 'v2' && hasChildren) {
      const enabled = readText(join(dir, 'cgroup.subtree_control')) ?? '';
      if (missingControllers(enabled).length > 0) await writeFile(join(dir, 'cgroup.subtree_control'), V2_SUBTREE.map((c) => `+${c}`).join(' '));
    }
  }

  private async applyLimits(dir: (c: Controller) => string, limits: CgroupLimits): Promise<void> {
    for (const w of limitWrites(this.hierarchy.version, limits)) {
      const path = join(dir(w.controller), w.file);
      if (w.optional && !existsSync(path)) continue;
      await writeFile(path, w.value);
    }
  }

  /** Creates the pod's cgroup with its limits (idempotent). */
  async ensurePod(pod: KubeletPod): Promise<void> {
    const uid = pod.metadata.uid!;
    const limits = podLimits(pod);
    for (const dir of distinctDirs((c) => this.paths.pod(c, uid))) await this.makeDir(dir);
    await this.applyLimits((c) => this.paths.pod(c, uid), limits);
  }

  /** Creates the pod's and the container's cgroups with their limits; what the container's process joins. */
  async prepareContainer(pod: KubeletPod, c: ContainerSpec): Promise<CgroupJoin> {
    const uid = pod.metadata.uid!;
    checkContainerName(c.name);
    const limits = containerLimits(c);
    await this.ensurePod(pod);
    const dir = (ctl: Controller): string => this.paths.container(ctl, uid, c.name);
    for (const d of distinctDirs(dir)) await this.makeDir(d, false);
    await this.applyLimits(dir, limits);
    return { procs: distinctDirs(dir).map((d) => join(d, 'cgroup.procs')), oomKills: this.oomKills(uid, c.name) };
  }

  /** The container cgroup's OOM-kill counter; undefined when it has none (yet). */
  oomKills(uid: string, name: string): number | undefined {
    const text = readText(join(this.paths.container('memory', uid, name), oomFile(this.hierarchy.version)));
    return text === undefined ? undefined : parseOomKills(text);
  }

  /** Pod uids with a cgroup here (any hierarchy). */
  podUids(): string[] {
    const out = new Set<string>();
    for (const dir of distinctDirs(this.paths.node)) {
      let names: string[] = [];
      try {
        names = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
      } catch {
        continue;
      }
      for (const n of names) {
        const uid = uidOfPodCgroup(n);
        if (uid) out.add(uid);
      }
    }
    return [...out];
  }

  /** Container names with a cgroup in the pod's memory tree. */
  containerNames(uid: string): string[] {
    try {
      return readdirSync(this.paths.pod('memory', uid), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      return [];
    }
  }

  /** Pids in a cgroup directory (and its children). */
  private pidsIn(dir: string): number[] {
    const pids = (readText(join(dir, 'cgroup.procs')) ?? '').split(/\s+/).filter((s) => /^\d+$/.test(s)).map(Number);
    let kids: string[] = [];
    try {
      kids = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      /* gone */
    }
    return [...pids, ...kids.flatMap((k) => this.pidsIn(join(dir, k)))];
  }

  /**
   * Removes the pod's cgroups, leaves first. Their processes should be gone;
   * any still there (strays) are SIGKILLed first. True when nothing is left.
   */
  async removePod(uid: string): Promise<boolean> {
    const dirs = distinctDirs((c) => this.paths.pod(c, uid)).filter((d) => existsSync(d));
    if (dirs.length === 0) return true;
    for (let attempt = 0; attempt < 40; attempt++) {
      const pids = [...new Set(dirs.flatMap((d) => this.pidsIn(d)))];
      if (pids.length > 0) {
        if (attempt === 0) this.log.warn({ uid, pids }, 'processes left in a removed pod\'s cgroup; killing them');
        for (const p of pids) signal(p, 'SIGKILL');
        await sleep(50);
        continue;
      }
      let busy = false;
      for (const d of dirs) {
        if (!existsSync(d)) continue;
        try {
          for (const name of readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory())) await rmdir(join(d, name.name));
          await rmdir(d);
        } catch (err) {
          if (isCode(err, 'ENOENT')) continue;
          if (!isCode(err, 'EBUSY')) throw err;
          busy = true;
        }
      }
      if (!busy) return true;
      await sleep(50);
    }
    this.log.warn({ uid, dirs }, 'pod cgroups still busy; left for the next start');
    return false;
  }

  /** Removes the cgroups of pods not in `live` (a crash or a lost node left them). */
  async cleanup(live: Set<string>): Promise<number> {
    let n = 0;
    for (const uid of this.podUids()) {
      if (live.has(uid)) continue;
      this.log.info({ uid }, 'removing leftover pod cgroup');
      if (await this.removePod(uid)) n++;
    }
    return n;
  }

  /** Removes the node's own cgroup (empty: no pod cgroups left), for tests and decommissioning. */
  async removeNode(): Promise<void> {
    for (const dir of distinctDirs(this.paths.node)) {
      try {
        await rmdir(dir);
      } catch (err) {
        if (!isCode(err, 'ENOENT')) throw err;
      }
    }
  }

  /** The usage files of a cgroup directory family, read now; undefined when the cgroup is gone. */
  readUsage(dir: (c: Controller) => string): UsageReading | undefined {
    const f = usageFiles(this.hierarchy.version);
    const cpu = readText(join(dir(f.cpu.controller), f.cpu.file));
    const memory = readText(join(dir(f.memory.controller), f.memory.file));
    const stat = readText(join(dir(f.stat.controller), f.stat.file));
    if (cpu === undefined || memory === undefined || stat === undefined) return undefined;
    return parseReading(this.hierarchy.version, Date.now(), { cpu, memory, stat });
  }

  /** The CPU throttling counters of a container (cpu.stat nr_throttled), for checks and metrics. */
  async cpuStat(uid: string, name: string): Promise<string> {
    return readFile(join(this.paths.container('cpu', uid, name), 'cpu.stat'), 'utf8');
  }
}

