// Denial records: what the policy table logged (NFLOG, nflog.ts), named with
// the node's cluster view (which pods, which policies isolate the side that
// denied), kept in a bounded ring in memory, counted for Prometheus per
// namespace and policy, and served to `meshlet netpol denials [--follow]`.
// The record builder is pure; DenialLog is the bounded store.
import type { ServerResponse } from 'node:http';
import { Counter, type Registry } from 'prom-client';
import { isolatingPolicies, podId, type ClusterView, type Direction } from './model.ts';
import { parseIpv4Header, type NflogPacket, type PacketProtocol } from './nflog.ts';
import { parseDenialPrefix } from './ruleset.ts';

export interface DenialEnd {
  ip: string;
  /** `namespace/name`, when the address is a pod's. */
  pod?: string;
}

export interface DenialRecord {
  time: string;
  node: string;
  /** deny: dropped; audit: an audit-mode policy would have dropped it (it passed). */
  mode: 'deny' | 'audit';
  /** The side that denied: egress at the source pod, ingress at the destination pod. */
  direction: Direction;
  source: DenialEnd;
  destination: DenialEnd & { port?: number; protocol: PacketProtocol };
  /** The policies isolating that side (audit-mode ones for an audit record). */
  policies: string[];
  /** Packets merged into this record (the same flow again within the merge window, e.g. SYN retransmits). */
  count: number;
}

function end(cluster: ClusterView, ip: string): DenialEnd {
  const pod = cluster.pods.find((p) => !p.hostNetwork && p.ips.includes(ip));
  return pod ? { ip, pod: podId(pod) } : { ip };
}

/**
 * The record of one logged packet, or undefined if it is not one of the policy table's. Pure.
 * `views` are the cluster views the table may be enforcing, newest first: while a sync's transaction
 * is being committed, packets are already dropped by its rules before the enforcer has taken up its
 * view. Names and policies come from the first view that has them, so a packet dropped by a policy
 * just added is not recorded as "isolating policy unknown".
 */
export function denialRecord(packet: NflogPacket, views: ClusterView | readonly ClusterView[], node: string, now: Date): DenialRecord | undefined {
  const what = parseDenialPrefix(packet.prefix);
  const hdr = parseIpv4Header(packet.payload);
  if (!what || !hdr) return undefined;
  const all: readonly ClusterView[] = Array.isArray(views) ? views : [views as ClusterView];
  const named = (ip: string): DenialEnd => {
    for (const v of all) {
      const e = end(v, ip);
      if (e.pod) return e;
    }
    return { ip };
  };
  const source = named(hdr.src);
  const destination = named(hdr.dst);
  const sideIp = what.direction === 'egress' ? hdr.src : hdr.dst;
  let policies: string[] = [];
  for (const cluster of all) {
    const sidePod = cluster.pods.find((p) => !p.hostNetwork && p.ips.includes(sideIp));
    policies = sidePod ? isolatingPolicies(cluster.policies, sidePod, what.direction, what.mode === 'audit') : [];
    if (policies.length) break;
  }
  return {
    time: now.toISOString(),
    node,
    mode: what.mode,
    direction: what.direction,
    source,
    destination: { ...destination, protocol: hdr.protocol, ...(hdr.port !== undefined ? { port: hdr.port } : {}) },
    policies,
    count: 1,
  };
}

const flowKey = (r: DenialRecord): string => [r.mode, r.direction, r.source.ip, r.destination.ip, r.destination.protocol, r.destination.port ?? ''].join('|');

export interface DenialLogOptions {
  /** Records kept (the oldest go first; default 1000). */
  capacity?: number;
  /** The same flow within this many ms is one record with a higher count (default 2000). */
  mergeWindowMs?: number;
  registry?: Registry;
}

/** The bounded in-memory store of denial records, with followers. */
export class DenialLog {
  private readonly ring: DenialRecord[] = [];
  private readonly capacity: number;
  private readonly mergeMs: number;
  private readonly last = new Map<string, { record: DenialRecord; at: number }>();
  private readonly followers = new Set<(r: DenialRecord) => void>();
  private readonly counter: Counter<'namespace' | 'policy' | 'direction' | 'mode'> | undefined;
  /** Records dropped from the ring so far. */
  evicted = 0;

  constructor(opts: DenialLogOptions = {}) {
    this.capacity = opts.capacity ?? 1000;
    this.mergeMs = opts.mergeWindowMs ?? 2000;
    if (opts.registry) {
      this.counter = new Counter({
        name: 'meshlet_policy_denied_packets_total',
        help: 'Packets the policy table logged as denied (mode deny) or would deny (mode audit), by the isolating policy; rate-limited in the rule, so a sample under load',
        labelNames: ['namespace', 'policy', 'direction', 'mode'],
        registers: [opts.registry],
      });
    }
  }

  add(r: DenialRecord, nowMs = Date.now()): void {
    for (const p of r.policies.length ? r.policies : ['/']) {
      const [namespace, policy] = p.split('/');
      this.counter?.inc({ namespace, policy, direction: r.direction, mode: r.mode });
    }
    const key = flowKey(r);
    const prev = this.last.get(key);
    if (prev && nowMs - prev.at <= this.mergeMs) {
      prev.record.count++;
      prev.at = nowMs;
      return;
    }
    this.ring.push(r);
    this.last.set(key, { record: r, at: nowMs });
    // An evicted record leaves `last` too, so a merge never lands on a record no longer kept.
    while (this.ring.length > this.capacity) {
      const gone = this.ring.shift()!;
      this.evicted++;
      const k = flowKey(gone);
      if (this.last.get(k)?.record === gone) this.last.delete(k);
    }
    for (const f of this.followers) f(r);
  }

  list(): DenialRecord[] {
    return [...this.ring];
  }

  follow(fn: (r: DenialRecord) => void): () => void {
    this.followers.add(fn);
    return () => this.followers.delete(fn);
  }
}

/** GET …/policyDenials[?follow=true]: the records as JSON lines; with follow, new ones as they come. */
export function serveDenials(log: DenialLog, query: URLSearchParams, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
  for (const r of log.list()) res.write(`${JSON.stringify(r)}\n`);
  const follow = query.get('follow');
  if (follow !== 'true' && follow !== '1') {
    res.end();
    return;
  }
  res.flushHeaders();
  const stop = log.follow((r) => res.write(`${JSON.stringify(r)}\n`));
  res.on('close', stop);
}

/** serveDenials bound to one log (the kubelet endpoint's /policyDenials handler). */
export function denialsHandler(log: DenialLog): (query: URLSearchParams, res: ServerResponse) => void {
  return (query, res) => serveDenials(log, query, res);
}

const endText = (e: DenialEnd): string => (e.pod ? `${e.pod} (${e.ip})` : e.ip);

/** One record as a line of `meshlet netpol denials`. Pure. */
export function formatDenial(r: DenialRecord): string {
  const port = r.destination.port !== undefined ? `${r.destination.port}/${r.destination.protocol}` : r.destination.protocol;
  const what = r.mode === 'audit' ? `would deny (audit) ${r.direction}` : `denied ${r.direction}`;
  const by = r.policies.length ? `isolated by ${r.policies.join(', ')}` : 'isolating policy unknown (gone since?)';
  return `${r.time} ${r.node} ${what}: ${endText(r.source)} -> ${endText(r.destination)} ${port}; ${by}${r.count > 1 ? ` (x${r.count})` : ''}`;
}
