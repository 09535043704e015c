// Pod sandboxes: a named network namespace per pod with a veth pair into the
// node bridge, and the per-pod resolv.conf/hosts/hostname files.
//
// Where it runs: by default in the node's own network namespace (the agent is
// started as `ip netns exec <node-netns> meshlet agent`), so host-side veth
// commands need no `-n`. Given `nodeNetns` (tests, tools running outside the
// node), host-side commands run as `ip -n <nodeNetns>`. Pod-side commands always
// use `ip -n <pod-netns>`. Pod namespaces are named (/run/netns), so they are
// visible from any mount namespace that shares /run/netns, as `ip` arranges.
import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeletPod } from './pod-spec.ts';
import { checkUid, checkNetnsName, checkIfName } from './names.ts';
import { sandboxPlan, sandboxNames, type PodNetwork, type SandboxConfig } from './sandbox-plan.ts';
import { ip, ipCommands, listNetns } from './ip-exec.ts';
import { CommandError } from '../core/command.ts';
import { DEFAULT_NAMESPACE } from '../core/well-known.ts';

/** Where `ip netns exec <netns>` finds the namespace's own /etc files. */
export const DEFAULT_ETC_NETNS = '/etc/netns';

/** What is kept on disk about a sandbox (<dataDir>/pods/<uid>/sandbox.json). */
export interface SandboxRecord {
  uid: string;
  namespace: string;
  name: string;
  netns: string;
  hostVeth: string;
  ip: string;
  prefixLength: number;
  gateway: string;
  hostname: string;
  createdAt: string;
}

export function podDir(dataDir: string, uid: string): string {
  return join(dataDir, 'pods', checkUid(uid));
}

export interface SandboxFiles {
  resolvConf: string;
  hosts: string;
}

export function sandboxFiles(dataDir: string, uid: string): SandboxFiles {
  const dir = podDir(dataDir, uid);
  return { resolvConf: join(dir, 'resolv.conf'), hosts: join(dir, 'hosts') };
}

/** Writes a file atomically (temp file + rename), so a reader never sees half of it. */
export async function writeAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}

export async function readSandboxRecord(dataDir: string, uid: string): Promise<SandboxRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(podDir(dataDir, uid), 'sandbox.json'), 'utf8')) as SandboxRecord;
  } catch {
    return undefined;
  }
}

function isMissing(err: unknown): boolean {
  return err instanceof CommandError && /No such file|Cannot find device|does not exist|not found/i.test(err.stderr);
}

export class SandboxManager {
  constructor(
    private readonly dataDir: string,
    private readonly cfg: SandboxConfig,
  ) {}

  names(uid: string): { netns: string; hostVeth: string } {
    return sandboxNames(uid, this.cfg.netnsPrefix);
  }

  /**
   * Sandboxes whose eth0 was seen holding their IP, by uid. The resync runs every
   * second for every pod, so after the first full check it only looks for the
   * namespace file instead of spawning `ip` per pod per second.
   */
  private readonly verified = new Map<string, string>();

  /** True when the sandbox the record describes is in place: namespace present and eth0 holding the pod IP. */
  async isReady(rec: SandboxRecord): Promise<boolean> {
    if (!existsSync(join('/run/netns', checkNetnsName(rec.netns)))) {
      this.verified.delete(rec.uid);
      return false;
    }
    if (this.verified.get(rec.uid) === rec.ip) return true;
    try {
      const { stdout } = await ip(rec.netns, ['-o', 'addr', 'show', 'dev', 'eth0']);
      const ready = stdout.includes(` ${rec.ip}/`);
      if (ready) this.verified.set(rec.uid, rec.ip);
      return ready;
    } catch {
      return false;
    }
  }

  /**
   * Builds the pod's sandbox with the given network, replacing any partial
   * one left by an earlier attempt. Writes the per-pod files and the record.
   */
  async create(pod: KubeletPod, net: PodNetwork): Promise<SandboxRecord> {
    const uid = pod.metadata.uid!;
    const plan = sandboxPlan(pod, this.cfg, net);
    await this.teardownNetwork(uid);
    const dir = podDir(this.dataDir, uid);
    await mkdir(dir, { recursive: true });
    const files = sandboxFiles(this.dataDir, uid);
    await writeAtomic(files.resolvConf, plan.resolvConf);
    await writeAtomic(files.hosts, plan.hosts);
    const etc = this.etcNetnsDir(plan.netns);
    await mkdir(etc, { recursive: true });
    await writeAtomic(join(etc, 'resolv.conf'), plan.resolvConf);
    await writeAtomic(join(etc, 'hosts'), plan.hosts);
    try {
      await ipCommands(plan.commands);
    } catch (err) {
      await this.teardownNetwork(uid).catch(() => undefined);
      throw err;
    }
    const rec: SandboxRecord = {
      uid,
      namespace: pod.metadata.namespace ?? DEFAULT_NAMESPACE,
      name: pod.metadata.name ?? '',
      netns: plan.netns,
      hostVeth: plan.hostVeth,
      ip: net.ip,
      prefixLength: net.prefixLength,
      gateway: net.gateway,
      hostname: plan.hostname,
      createdAt: new Date().toISOString(),
    };
    await writeAtomic(join(dir, 'sandbox.json'), JSON.stringify(rec, null, 2));
    return rec;
  }

  /** Deletes the pod's namespace (its veth goes with it) and any stray host veth. Idempotent. */
  async teardownNetwork(uid: string): Promise<void> {
    this.verified.delete(uid);
    const { netns, hostVeth } = this.names(uid);
    await this.deleteNetns(netns);
    try {
      await ip(this.cfg.nodeNetns, ['link', 'del', checkIfName(hostVeth)]);
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    await rm(join(podDir(this.dataDir, uid), 'sandbox.json'), { force: true });
  }

  /** <etcNetnsDir>/<netns>: the pod's files for `ip netns exec` (see SandboxConfig.etcNetnsDir). */
  etcNetnsDir(netns: string): string {
    return join(this.cfg.etcNetnsDir ?? DEFAULT_ETC_NETNS, checkNetnsName(netns));
  }

  /** Deletes the pod's namespace and its /etc/netns directory. Idempotent. */
  async deleteNetns(netns: string): Promise<void> {
    checkNetnsName(netns);
    await rm(this.etcNetnsDir(netns), { recursive: true, force: true });
    if (!existsSync(join('/run/netns', netns))) return;
    try {
      await ip(undefined, ['netns', 'del', netns]);
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }

  /** Tears the network down and removes the pod's directory (files, logs, container state). Idempotent. */
  async remove(uid: string): Promise<void> {
    await this.teardownNetwork(uid);
    await rm(podDir(this.dataDir, uid), { recursive: true, force: true });
  }

  /** Pod namespaces of this prefix that exist now. */
  async listPodNetns(): Promise<string[]> {
    const prefix = `${this.cfg.netnsPrefix}p-`;
    return (await listNetns()).filter((n) => n.startsWith(prefix));
  }
}
