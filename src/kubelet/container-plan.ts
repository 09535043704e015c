// How a container becomes a command line, as data: its environment (values
// and the downward-API fieldRefs the kubelet can answer), $(VAR) expansion in
// command/args, the namespace wrapper and the supervisor shim. Pure.
import type { ContainerSpec, KubeletPod } from './pod-spec.ts';

/** Which namespaces, besides the pod's network namespace, containers get on this host. */
export interface NamespaceSupport {
  uts: boolean;
  mount: boolean;
  pid: boolean;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Why the container cannot be created from its spec (CreateContainerConfigError), or undefined.
 * meshlet has no image entrypoints: `command` + `args` is the whole command line, so a
 * container with `args` but no `command` (what `kubectl run r --image=x -- cmd` makes) runs
 * its args as the command; one with neither cannot run.
 */
export function containerConfigError(c: ContainerSpec): string | undefined {
  const argv = [...(Array.isArray(c.command) ? c.command : []), ...(Array.isArray(c.args) ? c.args : [])];
  if (argv.length === 0 || typeof argv[0] !== 'string' || argv[0] === '') {
    return `container ${c.name} has no command: meshlet runs commands on the node's filesystem and does not pull images, so "command" or "args" is required (image ${JSON.stringify(c.image ?? '')} is recorded only)`;
  }
  if (c.workingDir !== undefined && !c.workingDir.startsWith('/')) return `container ${c.name}: workingDir must be an absolute path`;
  return undefined;
}

export interface EnvContext {
  podIP?: string;
  nodeName: string;
  hostIP?: string;
}

export interface ResolvedEnv {
  env: Record<string, string>;
  /** Variables left out, with why (reported as events). */
  skipped: { name: string; reason: string }[];
}

/** The value of a downward-API fieldRef, or undefined when meshlet cannot answer it. */
export function fieldRefValue(pod: KubeletPod, path: string, ctx: EnvContext): string | undefined {
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'status.podIP':
      return ctx.podIP ?? '';
    case 'status.hostIP':
      return ctx.hostIP ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? ctx.nodeName;
    case 'spec.serviceAccountName':
      return String((pod.spec as { serviceAccountName?: string } | undefined)?.serviceAccountName ?? 'default');
  }
  const label = /^metadata\.labels\['(.+)'\]$/.exec(path);
  if (label) return pod.metadata.labels?.[label[1]] ?? '';
  const ann = /^metadata\.annotations\['(.+)'\]$/.exec(path);
  if (ann) return pod.metadata.annotations?.[ann[1]] ?? '';
  return undefined;
}

/**
 * Kubernetes' $(VAR) expansion: $(NAME) becomes the variable's value when it
 * is defined (else stays as written), $$ becomes $.
 */
export function expandVars(s: string, env: Record<string, string>): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch !== '$' || i + 1 >= s.length) {
      out += ch;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i++;
    } else if (next === '(') {
      const end = s.indexOf(')', i + 2);
      if (end < 0) {
        out += ch;
        continue;
      }
      const name = s.slice(i + 2, end);
      if (Object.hasOwn(env, name)) out += env[name];
      else out += s.slice(i, end + 1);
      i = end;
    } else out += ch;
  }
  return out;
}

/**
 * The container's environment in order: PATH and HOSTNAME, then spec.env (each may refer to
 * earlier ones and to the Service variables with $(VAR)), then the Service variables
 * (service-env.ts) that spec.env does not set: the container's own env wins, as upstream's.
 */
export function resolveEnv(pod: KubeletPod, c: ContainerSpec, ctx: EnvContext, hostname: string, serviceEnv: Readonly<Record<string, string>> = {}): ResolvedEnv {
  const env: Record<string, string> = { PATH: DEFAULT_PATH, HOSTNAME: hostname };
  const lookup = (): Record<string, string> => ({ ...serviceEnv, ...env });
  const skipped: ResolvedEnv['skipped'] = [];
  for (const v of c.env ?? []) {
    if (!v || typeof v.name !== 'string' || v.name === '') continue;
    if (v.valueFrom) {
      const path = v.valueFrom.fieldRef?.fieldPath;
      const value = path === undefined ? undefined : fieldRefValue(pod, path, ctx);
      if (value === undefined) {
        const what = path !== undefined ? `fieldRef ${path}` : Object.keys(v.valueFrom).join(',');
        skipped.push({ name: v.name, reason: `meshlet does not resolve valueFrom ${what}; variable left unset` });
        continue;
      }
      env[v.name] = value;
    } else env[v.name] = expandVars(String(v.value ?? ''), lookup());
  }
  for (const [k, v] of Object.entries(serviceEnv)) if (!Object.hasOwn(env, k)) env[k] = v;
  return { env, skipped };
}

/** command + args with $(VAR) references expanded. */
export function containerArgv(c: ContainerSpec, env: Record<string, string>): string[] {
  return [...(c.command ?? []), ...(c.args ?? [])].map((s) => expandVars(String(s), env));
}

/**
 * Set-up run inside the container's namespaces before exec'ing its command:
 * $1 hostname, $2 resolv.conf, $3 hosts ('' to skip), $4 workingDir ('' for none), then the command.
 */
export const INIT_SCRIPT = [
  'h=$1; rc=$2; hf=$3; wd=$4; shift 4',
  'if [ -n "$h" ]; then hostname "$h" 2>/dev/null || echo "$h" >/proc/sys/kernel/hostname; fi',
  'if [ -n "$rc" ]; then mount --bind "$rc" /etc/resolv.conf && mount --bind "$hf" /etc/hosts || echo "meshlet: cannot bind-mount /etc/resolv.conf and /etc/hosts" >&2; fi',
  'if [ -n "$wd" ]; then cd "$wd" || { echo "meshlet: cannot enter workingDir $wd" >&2; exit 128; }; fi',
  'exec "$@"',
].join('\n');

/**
 * The supervisor: started detached (own session), it runs the wrapped command
 * with output to the log, records the command's pid, waits, and records the
 * exit status. It is not the agent, so containers outlive the agent.
 * $1 pid file, $2 exit file, $3 log file, then the command.
 */
export const SHIM_SCRIPT = [
  'pidf=$1; exitf=$2; logf=$3; shift 3',
  '"$@" >>"$logf" 2>&1 </dev/null &',
  'c=$!',
  'echo $c >"$pidf.tmp" && mv "$pidf.tmp" "$pidf"',
  'wait $c',
  'code=$?',
  'echo $code >"$exitf.tmp" && mv "$exitf.tmp" "$exitf"',
].join('\n');

export interface LaunchSpec {
  netns: string;
  hostname: string;
  resolvConf: string;
  hosts: string;
  workingDir?: string;
  argv: string[];
  ns: NamespaceSupport;
}

/** argv of the namespace wrapper: enter the pod netns, unshare what the host allows, set up, exec the command. */
export function wrapperArgv(spec: LaunchSpec): string[] {
  const unshare: string[] = [];
  if (spec.ns.uts) unshare.push('--uts');
  if (spec.ns.mount) unshare.push('--mount');
  if (spec.ns.pid) unshare.push('--pid', '--fork', '--kill-child', '--mount-proc');
  const pre = unshare.length > 0 ? ['unshare', ...unshare, '--'] : [];
  return [
    'ip', 'netns', 'exec', spec.netns,
    ...pre,
    'sh', '-c', INIT_SCRIPT, 'meshlet-init',
    spec.ns.uts ? spec.hostname : '',
    spec.ns.mount ? spec.resolvConf : '',
    spec.ns.mount ? spec.hosts : '',
    spec.workingDir ?? '',
    ...spec.argv,
  ];
}

/** argv of the supervisor process (run detached). */
export function shimArgv(files: { pid: string; exit: string; log: string }, wrapped: string[]): string[] {
  return ['sh', '-c', SHIM_SCRIPT, 'meshlet-shim', files.pid, files.exit, files.log, ...wrapped];
}

/**
 * Joins the container's cgroups, then execs: run as the shim's child, so the
 * process is in its cgroups (limits, accounting) before any of the container's
 * code runs. $1 the number of cgroup.procs files, then the files, then the command.
 */
export const CGROUP_JOIN_SCRIPT = [
  'n=$1; shift',
  'while [ "$n" -gt 0 ]; do echo $$ >"$1" || { echo "meshlet: cannot join cgroup $1" >&2; exit 128; }; shift; n=$((n - 1)); done',
  'exec "$@"',
].join('\n');

/** argv that joins the cgroups (their cgroup.procs files) and execs argv; argv itself without cgroups. */
export function cgroupJoinArgv(procs: string[], argv: string[]): string[] {
  return procs.length === 0 ? argv : ['sh', '-c', CGROUP_JOIN_SCRIPT, 'meshlet-cgroup', String(procs.length), ...procs, ...argv];
}

/** Namespaces actually used, for the record. */
export function namespacesUsed(ns: NamespaceSupport): string[] {
  return ['net', ...(ns.uts ? ['uts'] : []), ...(ns.mount ? ['mount'] : []), ...(ns.pid ? ['pid'] : [])];
}
