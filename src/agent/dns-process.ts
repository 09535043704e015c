// The node's `meshlet dns` process, from the agent's side: started detached
// (its own session, as the pods' supervisors are) so it outlives the agent,
// and adopted by the next agent instead of started again. Its identity is
// recorded under <agent data dir>/dns/: `launch.json` (pid + start time, written
// by the agent as soon as it has spawned it) and the DNS's own pid file
// `dns.pid` (written once it serves). A recorded pid counts only if
// /proc/<pid>/stat still shows the recorded start time, so a recycled pid is
// never adopted or signalled.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { readDnsPidFile, type DnsPidFile } from '../dns/process.ts';
import { withDnsNodeFlags } from '../dns/node-flags.ts';
import { isAlive, readStat } from '../kubelet/proc.ts';
import { writeFileDurably } from './durable-file.ts';

export interface DnsPaths {
  dir: string;
  pidFile: string;
  launchFile: string;
  feedSocket: string;
  healthSocket: string;
  logFile: string;
}

/** Pure: where the node's DNS process keeps its files. */
export function dnsPaths(agentDataDir: string): DnsPaths {
  const dir = join(agentDataDir, 'dns');
  return {
    dir,
    pidFile: join(dir, 'dns.pid'),
    launchFile: join(dir, 'launch.json'),
    feedSocket: join(dir, 'feed.sock'),
    healthSocket: join(dir, 'health.sock'),
    logFile: join(dir, 'dns.log'),
  };
}

export interface DnsProcessConfig {
  /** The cluster DNS address it listens on (UDP and TCP 53). */
  dnsIp: string;
  clusterCidrs: string[];
  nodeIp: string;
  /** Extra `meshlet dns` arguments (e.g. --upstream, --workers). */
  extraArgs?: string[];
  port?: number;
}

/** Pure: the `meshlet dns` arguments for a node. */
export function dnsArgs(paths: DnsPaths, c: DnsProcessConfig): string[] {
  const listen = `${c.dnsIp.includes(':') ? `[${c.dnsIp}]` : c.dnsIp}:${c.port ?? 53}`;
  return [
    'dns',
    '--data-dir', paths.dir,
    '--listen', listen,
    '--feed-socket', paths.feedSocket,
    '--pid-file', paths.pidFile,
    '--health-listen', paths.healthSocket,
    '--dns-address', c.dnsIp,
    ...c.clusterCidrs.flatMap((x) => ['--cluster-cidr', x]),
    '--node-ip', c.nodeIp,
    ...(c.extraArgs ?? []),
  ];
}

export interface ProcessIdentity {
  pid: number;
  startTicks: number;
}

function readLaunch(path: string): ProcessIdentity | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<ProcessIdentity>;
    return typeof v.pid === 'number' && typeof v.startTicks === 'number' ? { pid: v.pid, startTicks: v.startTicks } : undefined;
  } catch {
    return undefined;
  }
}

/** The recorded DNS process if it is still the same live process (pid file first, then the launch record). */
export function runningDns(paths: DnsPaths): ProcessIdentity | undefined {
  const pf = readDnsPidFile(paths.pidFile);
  if (pf && typeof pf.pid === 'number' && typeof pf.startTicks === 'number' && isAlive(pf.pid, pf.startTicks)) return { pid: pf.pid, startTicks: pf.startTicks };
  const l = readLaunch(paths.launchFile);
  if (l && isAlive(l.pid, l.startTicks)) return l;
  return undefined;
}

export interface EnsureDnsOptions {
  agentDataDir: string;
  config: DnsProcessConfig;
  logger: Logger;
  /** The command that runs meshlet (default: this process's node, its flags and entry script). */
  command?: string[];
  /** How long to wait for a started or adopted process to serve (default 20 s). */
  readyTimeoutMs?: number;
}

export interface DnsProcessHandle extends ProcessIdentity {
  adopted: boolean;
  pidFile: DnsPidFile;
  paths: DnsPaths;
}

/** Waits until the pid file names `who` (the process serves and its feed socket listens). */
async function waitServing(paths: DnsPaths, who: ProcessIdentity, timeoutMs: number): Promise<DnsPidFile> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const pf = readDnsPidFile(paths.pidFile);
    if (pf && pf.pid === who.pid && pf.startTicks === who.startTicks) return pf;
    if (!isAlive(who.pid, who.startTicks)) throw new Error(`meshlet dns (pid ${who.pid}) exited before serving; see ${paths.logFile}`);
    if (Date.now() > until) throw new Error(`meshlet dns (pid ${who.pid}) is not serving after ${timeoutMs} ms; see ${paths.logFile}`);
    await sleep(50);
  }
}

/**
 * Adopts the node's running DNS process, or starts one. Never starts a second
 * one while the recorded one lives.
 */
export async function ensureDnsProcess(o: EnsureDnsOptions): Promise<DnsProcessHandle> {
  const paths = dnsPaths(o.agentDataDir);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const timeout = o.readyTimeoutMs ?? 20_000;
  const running = runningDns(paths);
  if (running) {
    const pidFile = await waitServing(paths, running, timeout);
    o.logger.info({ pid: running.pid, listen: pidFile.listen }, 'adopted the running DNS process');
    return { ...running, adopted: true, pidFile, paths };
  }
  const command = o.command ?? [process.execPath, ...withDnsNodeFlags(process.execArgv), process.argv[1]];
  const args = dnsArgs(paths, o.config);
  const log = openSync(paths.logFile, 'a');
  let pid: number | undefined;
  try {
    const child = spawn(command[0], [...command.slice(1), ...args], { detached: true, stdio: ['ignore', log, log], cwd: '/' });
    pid = child.pid;
    child.unref();
  } finally {
    closeSync(log);
  }
  if (pid === undefined) throw new Error('could not start meshlet dns');
  const st = readStat(pid);
  if (!st) throw new Error(`meshlet dns (pid ${pid}) exited at once; see ${paths.logFile}`);
  const who = { pid, startTicks: st.startTicks };
  await writeFileDurably(paths.launchFile, JSON.stringify(who));
  const pidFile = await waitServing(paths, who, timeout);
  o.logger.info({ pid, listen: pidFile.listen, log: paths.logFile }, 'started the DNS process');
  return { ...who, adopted: false, pidFile, paths };
}
