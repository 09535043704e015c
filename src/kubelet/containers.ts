// The container runtime: each container is a process tree started inside its
// pod's namespaces, under a supervisor shim that is not the agent.
//
// Images: meshlet does not pull or unpack images. The default runtime runs the
// container's `command` (+ `args`) on the node's own filesystem, in the pod's
// network namespace and, where the host allows, its own UTS (hostname), mount
// (/etc/resolv.conf and /etc/hosts bind-mounted from the pod's files) and PID
// namespaces. `image` is only recorded in the status (`imageID` empty), so a
// container without `command` cannot run: it waits with
// CreateContainerConfigError and a message saying so.
//
// Survival: the shim (`sh`, started in its own session, detached) runs the
// wrapped command with stdout/stderr appended to a per-run log, writes the
// command's pid and later its exit status to files. The agent may die and
// restart: it rebuilds its view from these files and /proc (pid + start time,
// so a recycled pid is never mistaken for the container).
//
// On disk, <dataDir>/pods/<uid>/<container>/:
//   <n>.log   output of run n (n = restart count, 0 first)
//   <n>.pid   pid of the namespace wrapper (written by the shim)
//   <n>.json  RunInfo: pids, start times, namespaces used, image, argv (written by the agent)
//   <n>.exit  "<status>" when run n ended (written by the shim; "137 unknown" when it vanished)
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { mkdir, rm, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerSpec, KubeletPod } from './pod-spec.ts';
import { checkContainerName, checkNetnsName } from './names.ts';
import {
  cgroupJoinArgv, containerArgv, containerConfigError, namespacesUsed, resolveEnv, shimArgv, wrapperArgv,
  type EnvContext, type NamespaceSupport,
} from './container-plan.ts';
import { podDir, sandboxFiles, writeAtomic, type SandboxRecord } from './sandbox.ts';
import type { RunRecord } from './backoff.ts';
import { childrenOf, isAlive, readStat, signal } from './proc.ts';
import { ResourceSpecError, wasOomKilled } from './cgroup-plan.ts';
import { runCommand } from '../core/command.ts';
import { CONSOLE_DIR, consoleArgv, consoleSocketPath, needsConsole } from './exec-plan.ts';

export interface RunInfo {
  restart: number;
  shimPid: number;
  shimStartTicks?: number;
  wrapperPid?: number;
  /** The container's main process (the init of its PID namespace, or the wrapper itself without one). */
  pid?: number;
  pidStartTicks?: number;
  /** ms since the epoch. */
  startedAt: number;
  namespaces: string[];
  image: string;
  argv: string[];
  /** The console helper's socket (containers with stdin or tty; see exec-plan.ts). */
  console?: string;
  tty?: boolean;
  /** The container cgroup's OOM-kill counter when the run started (cgroups.ts). */
  oomKillsAtStart?: number;
}

export interface RunObservation {
  restart: number;
  startedAt: number;
  pid?: number;
  running: boolean;
  exitCode?: number;
  finishedAt?: number;
  /** The process went away without an exit status (killed supervisor, reboot). */
  unknown?: boolean;
  /** The kernel's OOM killer struck in the container's cgroup during the run. */
  oomKilled?: boolean;
  namespaces: string[];
}

export interface ContainerObservation {
  name: string;
  image: string;
  /** Index of the latest run = restarts so far. */
  restartCount: number;
  current?: RunObservation;
  previous?: RunObservation;
  /** Finished runs, oldest first (for the back-off). */
  history: RunRecord[];
}

export class ContainerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContainerConfigError';
  }
}

let nsSupport: Promise<NamespaceSupport> | undefined;

async function tryUnshare(flags: string[]): Promise<boolean> {
  try {
    await runCommand('unshare', [...flags, '--', 'true']);
    return true;
  } catch {
    return false;
  }
}

/** Which namespaces this host lets us create, detected once per process. */
export function detectNamespaces(): Promise<NamespaceSupport> {
  nsSupport ??= (async () => {
    if (await tryUnshare(['--uts', '--mount', '--pid', '--fork', '--mount-proc'])) return { uts: true, mount: true, pid: true };
    const [uts, mount] = await Promise.all([tryUnshare(['--uts']), tryUnshare(['--mount'])]);
    const pid = mount && (await tryUnshare(['--mount', '--pid', '--fork', '--mount-proc']));
    return { uts, mount, pid };
  })();
  return nsSupport;
}

function runIndices(dir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const set = new Set<number>();
  for (const n of names) {
    const m = /^(\d+)\.(json|pid|exit|log)$/.exec(n);
    if (m) set.add(Number(m[1]));
  }
  return [...set].sort((a, b) => a - b);
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function readExit(path: string): { code: number; unknown: boolean; at: number } | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    const [code, flag] = text.split(/\s+/);
    if (!/^\d+$/.test(code)) return undefined;
    return { code: Number(code), unknown: flag === 'unknown', at: statSync(path).mtimeMs };
  } catch {
    return undefined;
  }
}

/** The container cgroups (cgroups.ts PodCgroups): created before a run starts, their OOM counter read after. */
export interface ContainerCgroups {
  prepareContainer(pod: KubeletPod, c: ContainerSpec): Promise<{ procs: string[]; oomKills?: number }>;
  oomKills(uid: string, name: string): number | undefined;
}

export interface ContainerRuntimeOptions {
  dataDir: string;
  nodeName: string;
  hostIP?: string;
  /** Override namespace detection (tests). */
  namespaces?: NamespaceSupport;
  /** The pod's Service environment variables at the moment a container starts (service-env.ts). */
  serviceEnv?: (pod: KubeletPod) => Record<string, string>;
  /** Without it containers run in the agent's cgroup. */
  cgroups?: ContainerCgroups;
}

export interface StartResult {
  run: RunInfo;
  /** env entries left unset (valueFrom meshlet cannot answer). */
  skippedEnv: { name: string; reason: string }[];
}

export class ContainerRuntime {
  constructor(private readonly opts: ContainerRuntimeOptions) {}

  containerDir(uid: string, name: string): string {
    return join(podDir(this.opts.dataDir, uid), checkContainerName(name));
  }

  logPath(uid: string, name: string, restart: number): string {
    return join(this.containerDir(uid, name), `${restart}.log`);
  }

  private namespaces(): Promise<NamespaceSupport> {
    return this.opts.namespaces ? Promise.resolve(this.opts.namespaces) : detectNamespaces();
  }

  /** Starts the next run of the container in the pod's sandbox; resolves once its pid is known. */
  async start(pod: KubeletPod, c: ContainerSpec, sandbox: SandboxRecord): Promise<StartResult> {
    const configError = containerConfigError(c);
    if (configError) throw new ContainerConfigError(configError);
    const uid = pod.metadata.uid!;
    const dir = this.containerDir(uid, c.name);
    await mkdir(dir, { recursive: true });
    const indices = runIndices(dir);
    const restart = indices.length > 0 ? indices[indices.length - 1] + 1 : 0;
    const ctx: EnvContext = { podIP: sandbox.ip, nodeName: this.opts.nodeName, hostIP: this.opts.hostIP };
    const { env, skipped } = resolveEnv(pod, c, ctx, sandbox.hostname, this.opts.serviceEnv?.(pod) ?? {});
    const ns = await this.namespaces();
    let cgroup: { procs: string[]; oomKills?: number } | undefined;
    try {
      cgroup = await this.opts.cgroups?.prepareContainer(pod, c);
    } catch (err) {
      if (err instanceof ResourceSpecError) throw new ContainerConfigError(err.message);
      throw err;
    }
    const files = sandboxFiles(this.opts.dataDir, uid);
    const command = containerArgv(c, env);
    const consoleSocket = needsConsole(c) ? consoleSocketPath(dir, restart) : undefined;
    if (consoleSocket) await mkdir(CONSOLE_DIR, { recursive: true, mode: 0o700 });
    const wrapped = cgroupJoinArgv(cgroup?.procs ?? [], wrapperArgv({
      netns: checkNetnsName(sandbox.netns),
      hostname: sandbox.hostname,
      resolvConf: files.resolvConf,
      hosts: files.hosts,
      workingDir: c.workingDir,
      argv: consoleSocket ? consoleArgv(consoleSocket, c, command) : command,
      ns,
    }));
    const paths = {
      pid: join(dir, `${restart}.pid`),
      exit: join(dir, `${restart}.exit`),
      log: join(dir, `${restart}.log`),
    };
    const startedAt = Date.now();
    const argv = shimArgv(paths, wrapped);
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: 'ignore', env, cwd: '/' });
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    child.unref();
    const shimPid = child.pid;
    if (shimPid === undefined) throw await spawnError;
    const info: RunInfo = {
      restart,
      shimPid,
      shimStartTicks: readStat(shimPid)?.startTicks,
      startedAt,
      namespaces: namespacesUsed(ns),
      image: c.image ?? '',
      argv: command,
      ...(consoleSocket ? { console: consoleSocket, tty: c.tty === true } : {}),
      ...(cgroup?.oomKills !== undefined ? { oomKillsAtStart: cgroup.oomKills } : {}),
    };
    // Recorded before any await, so no observer in this process sees the run without its shim.
    writeFileSyncAtomic(join(dir, `${restart}.json`), JSON.stringify(info));
    // The shim writes the wrapper's pid at once; with a PID namespace the container's init is the wrapper's child.
    for (let i = 0; i < 500 && !existsSync(paths.pid); i++) {
      if (existsSync(paths.exit) || !isAlive(shimPid)) break;
      await sleep(10);
    }
    const wrapperPid = Number(readFileSync(paths.pid, { encoding: 'utf8', flag: 'a+' }).trim()) || undefined;
    info.wrapperPid = wrapperPid;
    if (wrapperPid !== undefined) {
      let pid = wrapperPid;
      if (ns.pid) {
        for (let i = 0; i < 200; i++) {
          const kids = childrenOf(wrapperPid);
          if (kids.length > 0) {
            pid = kids[0];
            break;
          }
          if (!isAlive(wrapperPid) || existsSync(paths.exit)) break;
          await sleep(10);
        }
      }
      info.pid = pid;
      info.pidStartTicks = readStat(pid)?.startTicks;
    }
    // A container with a console is not started until its console can be attached to (kubectl run -it attaches at once).
    for (let i = 0; consoleSocket && i < 500 && !existsSync(consoleSocket); i++) {
      if (existsSync(paths.exit) || !isAlive(shimPid)) break;
      await sleep(10);
    }
    await writeAtomic(join(dir, `${restart}.json`), JSON.stringify(info));
    await this.prune(dir, restart);
    return { run: info, skippedEnv: skipped };
  }

  /** Keeps the logs of the current and previous runs, and the records of the last 20. */
  private async prune(dir: string, current: number): Promise<void> {
    for (const n of await readdir(dir)) {
      const m = /^(\d+)\.(json|pid|exit|log)$/.exec(n);
      if (!m) continue;
      const i = Number(m[1]);
      if ((m[2] === 'log' && i < current - 1) || i < current - 20) await rm(join(dir, n), { force: true });
    }
  }

  private observeRun(dir: string, restart: number): RunObservation {
    const info = readJson<RunInfo>(join(dir, `${restart}.json`));
    const exit = readExit(join(dir, `${restart}.exit`));
    let startedAt = info?.startedAt;
    if (startedAt === undefined) {
      try {
        startedAt = statSync(join(dir, `${restart}.pid`)).mtimeMs;
      } catch {
        startedAt = exit?.at ?? 0;
      }
    }
    const base = { restart, startedAt, pid: info?.pid ?? info?.wrapperPid, namespaces: info?.namespaces ?? [] };
    if (exit) return { ...base, running: false, exitCode: exit.code, finishedAt: exit.at, unknown: exit.unknown };
    const wrapperFromFile = Number(readFileSync(join(dir, `${restart}.pid`), { encoding: 'utf8', flag: 'a+' }).trim()) || undefined;
    const alive =
      (info?.pid !== undefined && isAlive(info.pid, info.pidStartTicks)) ||
      (info?.shimPid !== undefined && isAlive(info.shimPid, info.shimStartTicks)) ||
      (info === undefined && wrapperFromFile !== undefined && isAlive(wrapperFromFile));
    if (alive) return { ...base, pid: base.pid ?? wrapperFromFile, running: true };
    // Gone without an exit status: record one so every later look agrees.
    const at = Date.now();
    try {
      writeFileSyncAtomic(join(dir, `${restart}.exit`), '137 unknown\n');
    } catch {
      /* the pod directory is going away */
    }
    return { ...base, running: false, exitCode: 137, finishedAt: at, unknown: true };
  }

  /** The container's runs as the disk and /proc show them; undefined when it never started. */
  observe(uid: string, name: string, image = ''): ContainerObservation | undefined {
    const dir = this.containerDir(uid, name);
    const indices = runIndices(dir);
    if (indices.length === 0) return undefined;
    const runs = indices.map((i) => this.observeRun(dir, i));
    this.markOomKills(uid, name, dir, runs);
    const current = runs[runs.length - 1];
    const previous = runs.length > 1 ? runs[runs.length - 2] : undefined;
    const history: RunRecord[] = runs
      .filter((r) => !r.running && r.finishedAt !== undefined)
      .map((r) => ({ startedAt: r.startedAt, finishedAt: r.finishedAt! }));
    const info = readJson<RunInfo>(join(dir, `${current.restart}.json`));
    return { name, image: info?.image ?? image, restartCount: current.restart, current, previous, history };
  }

  /**
   * Marks the last two runs (what the status shows) that the OOM killer ended:
   * the cgroup's counter grew between the run's start and the next run's start (or now).
   */
  private markOomKills(uid: string, name: string, dir: string, runs: RunObservation[]): void {
    const cg = this.opts.cgroups;
    const last = runs.slice(-2).filter((r) => !r.running);
    if (!cg || last.length === 0) return;
    const startCount = (r: RunObservation | undefined): number | undefined =>
      r ? readJson<RunInfo>(join(dir, `${r.restart}.json`))?.oomKillsAtStart : undefined;
    let now: number | undefined;
    for (const r of last) {
      const next = runs[runs.indexOf(r) + 1];
      const end = next ? startCount(next) : (now ??= cg.oomKills(uid, name));
      if (wasOomKilled(startCount(r), end, r.exitCode)) r.oomKilled = true;
    }
  }

  /** The record of the container's current run (what the agent wrote when it started it). */
  currentRun(uid: string, name: string): RunInfo | undefined {
    const dir = this.containerDir(uid, name);
    const indices = runIndices(dir);
    return indices.length > 0 ? readJson<RunInfo>(join(dir, `${indices[indices.length - 1]}.json`)) : undefined;
  }

  /** Removes the console sockets of the pod's runs (a helper killed with SIGKILL leaves its socket behind). */
  async removeConsoles(uid: string): Promise<void> {
    for (const name of this.containerNames(uid)) {
      const dir = this.containerDir(uid, name);
      for (const i of runIndices(dir)) {
        const sock = readJson<RunInfo>(join(dir, `${i}.json`))?.console;
        if (sock?.startsWith(`${CONSOLE_DIR}/`)) await rm(sock, { force: true });
      }
    }
  }

  /** Names of the containers that have state on disk for this pod. */
  containerNames(uid: string): string[] {
    try {
      return readdirSync(podDir(this.opts.dataDir, uid), { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch {
      return [];
    }
  }

  /** Pod uids with a directory under the data dir. */
  podUids(): string[] {
    try {
      return readdirSync(join(this.opts.dataDir, 'pods'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      return [];
    }
  }

  /**
   * Graceful stop: SIGTERM to the container's main process, up to graceSeconds
   * for it to end, then SIGKILL. Resolves once the run is over (or after a
   * short wait for the supervisor to record it).
   */
  async stop(uid: string, name: string, graceSeconds: number, pollMs = 100): Promise<RunObservation | undefined> {
    const obs = this.observe(uid, name);
    const cur = obs?.current;
    if (!cur || !cur.running) return cur;
    const dir = this.containerDir(uid, name);
    const info = readJson<RunInfo>(join(dir, `${cur.restart}.json`));
    const pid = cur.pid;
    const ticks = info?.pid === pid ? info?.pidStartTicks : undefined;
    const running = () => this.observeRunIfPresent(dir, cur.restart)?.running ?? false;
    if (pid !== undefined && isAlive(pid, ticks)) signal(pid, 'SIGTERM');
    const deadline = Date.now() + Math.max(0, graceSeconds) * 1000;
    while (running() && Date.now() < deadline) await sleep(pollMs);
    if (running()) {
      if (pid !== undefined && isAlive(pid, ticks)) signal(pid, 'SIGKILL');
      const wrapper = info?.wrapperPid;
      if (wrapper !== undefined && wrapper !== pid && isAlive(wrapper)) signal(wrapper, 'SIGKILL');
      for (let i = 0; i < 100 && running(); i++) await sleep(50);
    }
    return this.observe(uid, name)?.current;
  }

  private observeRunIfPresent(dir: string, restart: number): RunObservation | undefined {
    return existsSync(dir) ? this.observeRun(dir, restart) : undefined;
  }

  /** SIGKILLs every process left in the pod's network namespace (strays of containers run without a PID namespace). */
  async killAllInNetns(netns: string): Promise<number> {
    checkNetnsName(netns);
    if (!existsSync(join('/run/netns', netns))) return 0;
    let stdout = '';
    try {
      ({ stdout } = await runCommand('ip', ['netns', 'pids', netns]));
    } catch {
      return 0;
    }
    let n = 0;
    for (const p of stdout.split(/\s+/).filter((s) => /^\d+$/.test(s))) if (signal(Number(p), 'SIGKILL')) n++;
    return n;
  }
}

function writeFileSyncAtomic(path: string, content: string): void {
  // Synchronous so observe() stays synchronous; the rename keeps it atomic.
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}
