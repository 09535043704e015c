// Runs one probe handler and says whether it passed, with its output:
//   exec       the command inside the container's namespaces (nsenter on its
//              main process: net, uts, mount, pid as the run used them);
//              exit 0 passes; killed (whole process group) at the timeout.
//   tcpSocket  a TCP connect to host (default the pod IP) : port.
//   httpGet    GET scheme://host:port/path with the headers; 200–399 passes.
// Network probes go from the node's network namespace, as the kubelet's do:
// in-process when this process runs there, otherwise through this module
// run as a small program under `ip netns exec <node netns>`.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_PATH } from './container-plan.ts';
import { checkNetnsName } from './names.ts';
import type { ProbeHandler } from './probe-spec.ts';

export interface ProbeOutcome {
  ok: boolean;
  output: string;
}

export interface ProbeTarget {
  /** The container's main process and the namespaces its run uses. */
  pid?: number;
  namespaces: string[];
  podIP?: string;
  /** Set when this process is not in the node's network namespace. */
  nodeNetns?: string;
  timeoutMs: number;
}

const MAX_OUTPUT = 10 * 1024;
const NS_FLAGS: Record<string, string> = { net: '--net', uts: '--uts', mount: '--mount', pid: '--pid' };

/** argv entering the container's namespaces to run `command`. Pure. */
export function execProbeArgv(pid: number, namespaces: readonly string[], command: readonly string[]): string[] {
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`invalid container pid ${pid}`);
  const flags = namespaces.map((n) => NS_FLAGS[n]).filter((f): f is string => !!f);
  return ['nsenter', '--target', String(pid), ...flags, '--', ...command];
}

interface ProcessResult {
  code: number | null;
  output: string;
  timedOut: boolean;
  error?: string;
}

/** Runs argv in its own process group, collecting up to 10 KiB of stdout+stderr; the group is SIGKILLed at the timeout. */
function runBounded(argv: readonly string[], timeoutMs: number, env: NodeJS.ProcessEnv): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env, cwd: '/' });
    let output = '';
    const take = (chunk: Buffer) => {
      if (output.length < MAX_OUTPUT) output += chunk.toString('utf8').slice(0, MAX_OUTPUT - output.length);
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, output, timedOut, error: err.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, timedOut });
    });
  });
}

async function execProbe(command: string[], t: ProbeTarget): Promise<ProbeOutcome> {
  if (t.pid === undefined) return { ok: false, output: 'the container has no known process' };
  const r = await runBounded(execProbeArgv(t.pid, t.namespaces, command), t.timeoutMs, { PATH: DEFAULT_PATH });
  if (r.timedOut) return { ok: false, output: `command timed out after ${t.timeoutMs / 1000}s` };
  if (r.error) return { ok: false, output: r.error };
  if (r.code === 0) return { ok: true, output: r.output };
  return { ok: false, output: r.output.trim() || `command exited with status ${r.code}` };
}

function hostFor(host: string | undefined, podIP: string | undefined): string | undefined {
  return host || podIP;
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const sock = connect({ host, port, timeout: timeoutMs });
    const done = (o: ProbeOutcome) => {
      sock.destroy();
      resolve(o);
    };
    sock.once('connect', () => done({ ok: true, output: '' }));
    sock.once('timeout', () => done({ ok: false, output: `dial tcp ${host}:${port}: i/o timeout` }));
    sock.once('error', (err) => done({ ok: false, output: `dial tcp ${host}:${port}: ${err.message}` }));
  });
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function httpProbe(h: Extract<ProbeHandler, { type: 'httpGet' }>, host: string, timeoutMs: number): Promise<ProbeOutcome> {
  const url = `${h.scheme}://${formatHost(host)}:${h.port}${h.path}`;
  const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.32', Accept: '*/*' };
  for (const { name, value } of h.headers) {
    for (const k of Object.keys(headers)) if (k.toLowerCase() === name.toLowerCase()) delete headers[k];
    headers[name] = value;
  }
  return new Promise((resolve) => {
    let settled = false;
    const finish = (o: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(o);
    };
    const opts = { host, port: h.port, path: h.path, method: 'GET', headers, rejectUnauthorized: false, agent: false as const };
    const req = (h.scheme === 'https' ? httpsRequest : httpRequest)(opts, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        if (body.length < MAX_OUTPUT) body += chunk.toString('utf8').slice(0, MAX_OUTPUT - body.length);
      });
      res.on('end', () => {
        const code = res.statusCode ?? 0;
        if (code >= 200 && code < 400) finish({ ok: true, output: body });
        else finish({ ok: false, output: `HTTP probe failed with statuscode: ${code}` });
      });
      res.on('error', (err) => finish({ ok: false, output: `Get "${url}": ${err.message}` }));
    });
    const timer = setTimeout(() => finish({ ok: false, output: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` }), timeoutMs);
    req.on('error', (err) => finish({ ok: false, output: `Get "${url}": ${err.message}` }));
    req.end();
  });
}

/** A tcpSocket or httpGet probe from this process's network namespace. */
export function netProbe(h: Exclude<ProbeHandler, { type: 'exec' }>, host: string, timeoutMs: number): Promise<ProbeOutcome> {
  return h.type === 'tcpSocket' ? tcpProbe(host, h.port, timeoutMs) : httpProbe(h, host, timeoutMs);
}

interface NetProbeRequest {
  handler: Exclude<ProbeHandler, { type: 'exec' }>;
  host: string;
  timeoutMs: number;
}

/** The same probe from inside another network namespace: this module as a program under `ip netns exec`. */
async function netProbeInNetns(netns: string, req: NetProbeRequest): Promise<ProbeOutcome> {
  const argv = [
    'ip', 'netns', 'exec', checkNetnsName(netns),
    process.execPath, '--import', import.meta.resolve('tsx'), fileURLToPath(import.meta.url), JSON.stringify(req),
  ];
  // Starting the helper takes time of its own; the probe's timeout applies inside it.
  const r = await runBounded(argv, req.timeoutMs + 15_000, { PATH: DEFAULT_PATH });
  if (r.code === 0) {
    try {
      const o = JSON.parse(r.output) as ProbeOutcome;
      if (typeof o.ok === 'boolean' && typeof o.output === 'string') return o;
    } catch {
      /* fall through */
    }
  }
  return { ok: false, output: `probe helper failed: ${r.error ?? (r.output.trim() || `exit ${r.code}`)}` };
}

/** Runs one validated handler against the container. */
export async function runProbe(h: ProbeHandler, t: ProbeTarget): Promise<ProbeOutcome> {
  if (h.type === 'exec') return execProbe(h.command, t);
  const host = hostFor(h.host, t.podIP);
  if (!host) return { ok: false, output: 'the pod has no IP address' };
  if (t.nodeNetns) return netProbeInNetns(t.nodeNetns, { handler: h, host, timeoutMs: t.timeoutMs });
  return netProbe(h, host, t.timeoutMs);
}

// As a program: one network probe described by argv[2] (JSON), the outcome as JSON on stdout.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const req = JSON.parse(process.argv[2] ?? '{}') as NetProbeRequest;
  const o = await netProbe(req.handler, req.host, req.timeoutMs);
  process.stdout.write(JSON.stringify(o));
}
