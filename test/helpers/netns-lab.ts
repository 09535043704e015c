// Network-namespace scaffolding for the overlay's integration test and bench
// (root): an underlay bridge namespace, node namespaces wired to it, pod
// namespaces on a node's bridge, and the overlay applied inside a node by
// overlay-cli.ts under `ip netns exec`. Everything is created under names
// the caller gives (tests use "mlt-…") and removed by exact name.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ActualOverlay, OverlayChanges, OverlayConfig, OverlayPeer, OverlaySelf } from '../../src/overlay/vxlan.ts';

const CLI = fileURLToPath(new URL('../../src/overlay/overlay-cli.ts', import.meta.url));

/** Run a command; resolves with stdout, rejects with stderr on a non-zero exit. */
export function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim()}`))));
    if (input !== undefined) {
      child.stdin!.on('error', () => {}); // a child that exits without reading: its exit code tells
      child.stdin!.end(input);
    }
  });
}

export const inNs = (ns: string, ...args: string[]): Promise<string> => run('ip', ['netns', 'exec', ns, ...args]);
/** `ip -n <ns> <args>` (args split on spaces). */
export const ipIn = (ns: string, args: string): Promise<string> => run('ip', ['-n', ns, ...args.split(' ')]);

export class NetnsLab {
  readonly created: string[] = [];

  async addNamespace(name: string): Promise<string> {
    if (!/^mlt-[a-z0-9-]{1,40}$/.test(name)) throw new Error(`lab namespaces are named mlt-…, not ${name}`);
    await run('ip', ['netns', 'add', name]);
    this.created.push(name);
    await ipIn(name, 'link set lo up');
    return name;
  }

  /** Delete every namespace this lab created, by exact name (their links go with them). */
  async cleanup(): Promise<void> {
    for (const ns of this.created.splice(0).reverse()) await run('ip', ['netns', 'del', ns]).catch(() => {});
  }

  /** Underlay namespace `u` with bridge `mltu` (172.31.0.254/24) and each node's "eth0" on it. */
  async underlay(u: string, nodes: { ns: string; ip: string }[]): Promise<void> {
    await this.addNamespace(u);
    await ipIn(u, 'link add mltu type bridge');
    await ipIn(u, 'addr add 172.31.0.254/24 dev mltu');
    await ipIn(u, 'link set mltu up');
    for (const [i, n] of nodes.entries()) {
      await this.addNamespace(n.ns);
      await ipIn(u, `link add mltu${i} type veth peer name eth0 netns ${n.ns}`);
      await ipIn(u, `link set mltu${i} master mltu up`);
      await ipIn(n.ns, `addr add ${n.ip}/24 dev eth0`);
      await ipIn(n.ns, 'link set eth0 up');
    }
  }

  /** A pod namespace on `node`: veth into `bridge`, `ip/prefix`, default route via `gateway`. */
  async pod(node: string, pod: string, cidr: string, gateway: string, opts: { bridge?: string; mtu?: number; hostIf?: string } = {}): Promise<void> {
    await this.addNamespace(pod);
    const hostIf = opts.hostIf ?? 'mltpod';
    await ipIn(node, `link add ${hostIf} type veth peer name eth0 netns ${pod}`);
    await ipIn(node, `link set ${hostIf} mtu ${opts.mtu ?? 1450} master ${opts.bridge ?? 'mlbr0'} up`);
    await ipIn(pod, `link set eth0 mtu ${opts.mtu ?? 1450} up`);
    await ipIn(pod, `addr add ${cidr} dev eth0`);
    await ipIn(pod, `route add default via ${gateway}`);
  }
}

/** Apply the overlay inside `ns` (a fresh process each time, like an agent restart). */
export async function applyInNs(
  ns: string, self: OverlaySelf, peers: OverlayPeer[], cfg: OverlayConfig, opts: { masquerade?: boolean } = {},
): Promise<{ vtepMac: string; changes: OverlayChanges }> {
  const input = JSON.stringify({ self, peers, cfg, masquerade: opts.masquerade ?? true });
  const out = await run('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', CLI, 'apply'], input);
  return JSON.parse(out) as { vtepMac: string; changes: OverlayChanges };
}

/** The overlay state as the kernel inside `ns` holds it. */
export async function stateInNs(ns: string): Promise<ActualOverlay> {
  return JSON.parse(await inNs(ns, process.execPath, '--import', 'tsx', CLI, 'state')) as ActualOverlay;
}
