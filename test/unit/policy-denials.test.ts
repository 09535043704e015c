// Denial records without root: NFLOG messages as the kernel sends them (bytes)
// parsed, named with the cluster view, merged, bounded, counted and printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { bindMessages, parseIpv4Header, parseNflogPacket } from '../../src/policy/nflog.ts';
import { DenialLog, denialRecord, formatDenial, type DenialRecord } from '../../src/policy/denials.ts';
import { denialPrefix, parseDenialPrefix } from '../../src/policy/ruleset.ts';
import { compilePolicy, type ClusterView } from '../../src/policy/model.ts';
import { topology } from '../../src/policy/cases.ts';

function nlattr(type: number, value: Buffer): Buffer {
  const b = Buffer.alloc((4 + value.length + 3) & ~3);
  b.writeUInt16LE(4 + value.length, 0);
  b.writeUInt16LE(type, 2);
  value.copy(b, 4);
  return b;
}

/** An IPv4 packet: 20-byte header, then ports. */
function ipv4(src: string, dst: string, proto: number, dport: number): Buffer {
  const p = Buffer.alloc(40);
  p[0] = 0x45;
  p[9] = proto;
  src.split('.').forEach((o, i) => (p[12 + i] = Number(o)));
  dst.split('.').forEach((o, i) => (p[16 + i] = Number(o)));
  p.writeUInt16BE(40000, 20);
  p.writeUInt16BE(dport, 22);
  return p;
}

/** An NFULNL_MSG_PACKET body: nfgenmsg, packet header attr, prefix, payload (what nfnetlink_log sends). */
function nflogBody(group: number, prefix: string, payload: Buffer): Buffer {
  const gen = Buffer.from([2, 0, 0, 0]);
  gen.writeUInt16BE(group, 2);
  return Buffer.concat([gen, nlattr(1, Buffer.from([0x08, 0x00, 2, 0])), nlattr(10, Buffer.from(`${prefix}\0`)), nlattr(9, payload)]);
}

const np = (namespace: string, name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) =>
  compilePolicy({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace, name, ...(annotations ? { annotations } : {}) }, spec });
const cluster: ClusterView = {
  ...topology(),
  policies: [np('x', 'deny', { podSelector: {}, policyTypes: ['Ingress'] }), np('x', 'trial', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'] }, { 'meshlet.io/policy-mode': 'audit' })],
};
const ip = (id: string): string => cluster.pods.find((p) => `${p.namespace}/${p.name}` === id)!.ips[0];

test('the bind messages name the group; a logged packet parses back to prefix, addresses, protocol and port', () => {
  const [bind, mode] = bindMessages(4711);
  assert.equal(bind.readUInt16BE(2), 4711);
  assert.equal(mode.readUInt16BE(2), 4711);
  assert.throws(() => bindMessages(70000), /invalid NFLOG group/);
  const p = parseNflogPacket(nflogBody(4711, denialPrefix('deny', 'ingress'), ipv4('10.244.2.11', '10.244.1.10', 6, 80)));
  assert.ok(p);
  assert.equal(p.group, 4711);
  assert.deepEqual(parseDenialPrefix(p.prefix), { mode: 'deny', direction: 'ingress' });
  assert.deepEqual(parseIpv4Header(p.payload), { src: '10.244.2.11', dst: '10.244.1.10', protocol: 'TCP', port: 80 });
  assert.deepEqual(parseIpv4Header(ipv4('1.2.3.4', '5.6.7.8', 1, 0)), { src: '1.2.3.4', dst: '5.6.7.8', protocol: 'ICMP' });
  assert.equal(parseNflogPacket(Buffer.from([0, 0])), undefined);
  assert.equal(parseIpv4Header(Buffer.alloc(10)), undefined);
  assert.equal(parseDenialPrefix('something else'), undefined);
});

test('a record names both pods, the side that denied and the policies isolating it (audit ones for audit)', () => {
  const now = new Date('2026-12-01T20:00:00.000Z');
  const deny = denialRecord(parseNflogPacket(nflogBody(1, 'mlp:deny:ingress', ipv4(ip('y/b'), ip('x/a'), 6, 80)))!, cluster, 'node-1', now);
  assert.deepEqual(deny, {
    time: '2026-12-01T20:00:00.000Z', node: 'node-1', mode: 'deny', direction: 'ingress',
    source: { ip: ip('y/b'), pod: 'y/b' }, destination: { ip: ip('x/a'), pod: 'x/a', protocol: 'TCP', port: 80 },
    policies: ['x/deny'], count: 1,
  });
  const audit = denialRecord(parseNflogPacket(nflogBody(1, 'mlp:audit:egress', ipv4(ip('x/a'), '192.0.2.7', 17, 53)))!, cluster, 'node-1', now)!;
  assert.equal(audit.mode, 'audit');
  assert.deepEqual(audit.policies, ['x/trial']);
  assert.deepEqual(audit.destination, { ip: '192.0.2.7', protocol: 'UDP', port: 53 });
  assert.equal(formatDenial(deny!), `2026-12-01T20:00:00.000Z node-1 denied ingress: y/b (${ip('y/b')}) -> x/a (${ip('x/a')}) 80/TCP; isolated by x/deny`);
  assert.equal(formatDenial({ ...audit, count: 3 }), `2026-12-01T20:00:00.000Z node-1 would deny (audit) egress: x/a (${ip('x/a')}) -> 192.0.2.7 53/UDP; isolated by x/trial (x3)`);
  assert.equal(denialRecord(parseNflogPacket(nflogBody(1, 'other', ipv4('1.1.1.1', '2.2.2.2', 6, 1)))!, cluster, 'n', now), undefined);
});

test('while a sync is committed, a packet its new rules drop is named with the new view, one an old rule dropped with the old', () => {
  const now = new Date('2026-12-01T20:00:00.000Z');
  const before: ClusterView = { ...cluster, policies: [] };
  const packet = parseNflogPacket(nflogBody(1, 'mlp:deny:ingress', ipv4(ip('y/b'), ip('x/a'), 6, 80)))!;
  // The committed view alone does not know the policy just added: that is the gap the views close.
  assert.deepEqual(denialRecord(packet, before, 'node-1', now)!.policies, []);
  assert.deepEqual(denialRecord(packet, [cluster, before], 'node-1', now)!.policies, ['x/deny']);
  // A policy just removed: the view being committed no longer has it, the committed one still does.
  assert.deepEqual(denialRecord(packet, [before, cluster], 'node-1', now)!.policies, ['x/deny']);
  const r = denialRecord(packet, [before, cluster], 'node-1', now)!;
  assert.equal(r.source.pod, 'y/b');
  assert.equal(r.destination.pod, 'x/a');
});

test('the log merges repeats of a flow, keeps at most its capacity, feeds followers and counts per policy', async () => {
  const registry = new Registry();
  const log = new DenialLog({ capacity: 3, mergeWindowMs: 1000, registry });
  const rec = (port: number): DenialRecord => ({
    time: 't', node: 'n', mode: 'deny', direction: 'ingress', source: { ip: '10.0.0.1' }, destination: { ip: '10.0.0.2', pod: 'x/a', protocol: 'TCP', port }, policies: ['x/deny'], count: 1,
  });
  const followed: number[] = [];
  const stop = log.follow((r) => followed.push(r.destination.port!));
  log.add(rec(1), 0);
  log.add(rec(1), 500); // SYN retransmit: merged
  assert.equal(log.list().length, 1);
  assert.equal(log.list()[0].count, 2);
  log.add(rec(1), 2000); // outside the window: a new record
  for (const p of [2, 3, 4]) log.add(rec(p), 2100);
  assert.deepEqual(log.list().map((r) => r.destination.port), [2, 3, 4]);
  assert.equal(log.evicted, 2);
  assert.deepEqual(followed, [1, 1, 2, 3, 4]);
  stop();
  log.add(rec(5), 2200);
  assert.equal(followed.length, 5);
  const text = await registry.metrics();
  assert.match(text, /meshlet_policy_denied_packets_total\{namespace="x",policy="deny",direction="ingress",mode="deny"\} 7/);
});
