// The lab's imperative edge: `ip` (always through execFile, never a shell)
// and /proc. Names passed here come from the plan or are filtered by the lab's prefix.
import { spawn } from 'node:child_process';
import { runCommand } from '../core/command.ts';
import { openSync, closeSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseStatStartTime, isSameProcess, type ProcessRecord } from './state.ts';

const NETNS_NAME = /^[a-z0-9][-a-z0-9]*$/;

export function assertNetnsName(name: string): void {
  if (!NETNS_NAME.test(name) || name.length > 64) throw new Error(`refusing odd network namespace name "${name}"`);
}

/** Runs `ip args...`; stdin text for -batch -. Rejects with a CommandError carrying ip's stderr. */
export async function ip(args: readonly string[], input?: string): Promise<string> {
  return (await runCommand('ip', args, { input })).stdout;
}

/** Runs batch lines with `ip [-n netns] -batch -`. */
export async function ipBatch(lines: readonly string[], netns?: string): Promise<void> {
  if (lines.length === 0) return;
  if (netns) assertNetnsName(netns);
  await ip([...(netns ? ['-n', netns] : []), '-batch', '-'], lines.join('\n') + '\n');
}

export async function listNetns(): Promise<string[]> {
  const out = await ip(['netns', 'list']);
  return out.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter((n): n is string => !!n);
}

/** Deletes a namespace and its /etc/netns/<name> directory (the pods' resolv.conf and hosts the kubelet writes there). */
export async function deleteNetns(name: string): Promise<void> {
  assertNetnsName(name);
  await ip(['netns', 'delete', name]);
  rmSync(join('/etc/netns', name), { recursive: true, force: true });
}

export async function netnsPids(name: string): Promise<number[]> {
  assertNetnsName(name);
  try {
    const out = await ip(['netns', 'pids', name]);
    return out.split('\n').map((l) => Number(l.trim())).filter((n) => Number.isInteger(n) && n > 1);
  } catch {
    return [];
  }
}

export async function netnsExec(netns: string, argv: readonly string[]): Promise<string> {
  assertNetnsName(netns);
  return ip(['netns', 'exec', netns, ...argv]);
}

/**
 * The start time of a live process; undefined when it is gone or a zombie
 * (exited, not yet reaped: the lab's detached processes are reaped by init,
 * which may take a while, and must not count as running meanwhile).
 */
export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return undefined;
    return parseStatStartTime(stat);
  } catch {
    return undefined;
  }
}

/** The record of a process that exists now (pid + its current start time). */
export function recordOf(role: string, pid: number): ProcessRecord {
  const startTime = procStartTime(pid);
  return { role, pid, ...(startTime ? { startTime } : {}) };
}

export function isAlive(rec: ProcessRecord): boolean {
  return rec.pid !== undefined && isSameProcess(rec, procStartTime(rec.pid));
}

function cwdOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/**
 * Processes the lab started whose PID may not have been recorded (a crash between
 * spawn and record): those running in the state dir with the state dir in their
 * command line, and redis-server by its pid file (it runs in the state dir).
 */
export function processesOfStateDir(stateDir: string): ProcessRecord[] {
  const found: ProcessRecord[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid || cwdOf(pid) !== stateDir) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes(stateDir)) found.push(recordOf('process in the state dir', pid));
  }
  try {
    const pid = Number(readFileSync(`${stateDir}/redis.pid`, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 1 && cwdOf(pid) === stateDir) found.push(recordOf('redis (pid file)', pid));
  } catch {
    // no pid file
  }
  return found.filter((r) => r.startTime !== undefined);
}

/** SIGTERM, wait up to graceMs, then SIGKILL; only processes whose start time still matches. Returns those signalled. */
export async function stopProcesses(records: readonly ProcessRecord[], graceMs = 5000): Promise<ProcessRecord[]> {
  const targets = records.filter(isAlive);
  const signal = (rec: ProcessRecord, sig: NodeJS.Signals): void => {
    if (!isAlive(rec)) return;
    try {
      process.kill(rec.pid as number, sig);
    } catch {
      // already gone
    }
  };
  for (const rec of targets) signal(rec, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && targets.some(isAlive)) await sleep(50);
  for (const rec of targets) signal(rec, 'SIGKILL');
  const killDeadline = Date.now() + 3000;
  while (Date.now() < killDeadline && targets.some(isAlive)) await sleep(20);
  return targets;
}

/** Starts a process detached from this one (own session), output appended to logFile; returns its record. */
export function spawnDetached(role: string, command: string, args: readonly string[], cwd: string, logFile: string): ProcessRecord {
  const fd = openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', fd, fd], env: process.env });
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot start ${role}: ${command}`);
    return recordOf(role, child.pid);
  } finally {
    closeSync(fd);
  }
}
