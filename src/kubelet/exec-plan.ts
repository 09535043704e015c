// How `kubectl exec`, `attach` and `port-forward` reach into a container, as
// data: argv entering the container's namespaces (as exec probes do), the
// terminal helper for `-t`, the console helper that keeps a container's stdin
// (and terminal) reachable for attach, and the port-forward connector. Pure.
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { execProbeArgv } from './probe-run.ts';
import { checkNetnsName } from './names.ts';

/** The helper (Python: Node has no pty API) that runs commands on a terminal and serves container consoles. */
export const CONSOLE_HELPER = fileURLToPath(new URL('./console.py', import.meta.url));
/** Debian's interpreter, by absolute path: a PATH lookup could find a user's pyenv shim. */
export const PYTHON = '/usr/bin/python3';
/** The port-forward connector run inside a pod's network namespace. */
export const CONNECT_HELPER = fileURLToPath(new URL('./pod-connect.py', import.meta.url));
/** Where console sockets live: short paths (a unix socket path has at most 107 bytes), root only. */
export const CONSOLE_DIR = '/run/meshlet/console';

/** What the kubelet knows of a running container, enough to exec into it. */
export interface ContainerProcess {
  pid: number;
  namespaces: string[];
  /** The container's environment (from its main process). */
  env: Record<string, string>;
  /** The console socket, when the container has stdin or tty. */
  console?: string;
  tty: boolean;
}

/**
 * argv of an exec: nsenter into the container (its namespaces, its working directory), with tty on
 * a terminal made inside it (the helper runs in the container's PID namespace, so the session
 * and process groups a shell's job control sets on the terminal are ones it can see).
 */
export function execArgv(pid: number, namespaces: readonly string[], command: readonly string[], tty: boolean): string[] {
  const entered = execProbeArgv(pid, namespaces, tty ? [PYTHON, CONSOLE_HELPER, 'pty', '--', ...command] : command);
  // `--wd` without a value: the target's working directory (the container's workingDir).
  entered.splice(3, 0, '--wd');
  return entered;
}

/** The environment an exec runs with: the container's, plus TERM on a terminal. */
export function execEnv(containerEnv: Record<string, string>, tty: boolean): Record<string, string> {
  return tty && !containerEnv.TERM ? { ...containerEnv, TERM: 'xterm' } : { ...containerEnv };
}

/** Parses /proc/<pid>/environ (NUL-separated NAME=value). */
export function parseEnviron(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of text.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

export interface ConsoleSpec {
  stdin?: boolean;
  stdinOnce?: boolean;
  tty?: boolean;
}

/** Whether a container gets a console helper (attach needs one to reach its stdin or terminal). */
export function needsConsole(c: ConsoleSpec): boolean {
  return c.stdin === true || c.tty === true;
}

/** The console socket of one run of one container: a hash of where its files are, so paths stay short. */
export function consoleSocketPath(containerDir: string, restart: number, dir = CONSOLE_DIR): string {
  const h = createHash('sha256').update(`${containerDir}\0${restart}`).digest('hex').slice(0, 24);
  return `${dir}/${h}.sock`;
}

/** The container's command line under its console helper. */
export function consoleArgv(socket: string, c: ConsoleSpec, argv: readonly string[]): string[] {
  const flags = [...(c.tty ? ['--tty'] : []), ...(c.stdinOnce ? ['--stdin-once'] : [])];
  return [PYTHON, CONSOLE_HELPER, 'serve', socket, ...flags, '--', ...argv];
}

/** argv connecting stdin/stdout to 127.0.0.1:<port> inside the pod's network namespace. */
export function podConnectArgv(netns: string, port: number): string[] {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port ${port}`);
  return ['ip', 'netns', 'exec', checkNetnsName(netns), PYTHON, CONNECT_HELPER, String(port)];
}
