// The nftables adapter against the real kernel, in a network namespace this
// test creates (mlt-nft-<pid>): a table with base and regular chains, a
// verdict map and sets; a one-element change; an invalid transaction that
// changes nothing and names its line; stale chains deleted after the delay;
// and the host's own tables untouched (listed, read only, before and after).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../helpers/netns-lab.ts';
import { NftCommandRunner, NftApplyError, type NftRunner } from '../../src/nft/runner.ts';
import { NftTable } from '../../src/nft/table-sync.ts';
import { TableOwners } from '../../src/nft/owners.ts';
import { Transaction, renderTransaction, type RenderedTransaction } from '../../src/nft/transaction.ts';
import { rule, vmap, numgen, inSet, match, accept, goTo } from '../../src/nft/rule.ts';
import type { DesiredTable, MapDef } from '../../src/nft/model.ts';
import { Masquerade } from '../../src/overlay/masquerade.ts';

const NS = `mlt-nft-${process.pid}`;
const TABLE = { family: 'inet' as const, name: 'meshlet-nfttest' };
const owners = new TableOwners();
let hostTablesBefore = '';

const SERVICE_IPS: MapDef = { name: 'service-ips', type: ['ipv4_addr', 'inet_proto', 'inet_service'], value: 'verdict' };

function desired(services: Record<string, string[]>, allowed: [string, string, number][]): DesiredTable {
  const names = Object.keys(services);
  return {
    chains: [
      { name: 'services', base: { type: 'nat', hook: 'prerouting', priority: 'dstnat', policy: 'accept' }, rules: [rule(vmap('service-ips', 'ip daddr', 'meta l4proto', 'th dport'))] },
      { name: 'filter-input', base: { type: 'filter', hook: 'input', priority: 'filter', policy: 'accept' }, rules: [rule(inSet('allowed', 'ip saddr', 'meta l4proto', 'th dport'), accept)] },
      ...names.map((s) => ({
        name: `svc-${s}`,
        rules: [rule(inSet(`aff-${s}`, 'ip saddr'), goTo(`ep-${s}-0`)), rule(numgen(services[s].map((_, i) => ({ goto: `ep-${s}-${i}` }))))],
      })),
      ...names.flatMap((s) =>
        services[s].map((ep, i) => ({
          name: `ep-${s}-${i}`,
          rules: [rule(match('ip saddr', ep), { setMark: 0x4000, op: 'or' }), rule({ update: `aff-${s}`, key: ['ip saddr'] }, { dnat: { family: 'ip', addr: ep, port: 8080, protocol: 'tcp' } })],
        })),
      ),
    ],
    maps: [{ ...SERVICE_IPS, elements: names.map((s, i) => ({ key: [`10.96.0.${i + 1}`, 'tcp', 80], value: { goto: `svc-${s}` } })) }],
    sets: [
      { name: 'allowed', type: ['ipv4_addr', 'inet_proto', 'inet_service'], elements: allowed.map((k) => ({ key: k })) },
      ...names.map((s) => ({ name: `aff-${s}`, type: ['ipv4_addr' as const], flags: ['dynamic' as const, 'timeout' as const], timeout: 10800 })),
    ],
  };
}

interface Listed {
  chains: Map<string, number>;
  elements: Map<string, string[]>;
}

/** What the kernel holds in the test table: rules per chain and elements per set or map, from `nft -j`. */
async function listKernel(): Promise<Listed> {
  const doc = JSON.parse(await run('ip', ['netns', 'exec', NS, 'nft', '-j', 'list', 'table', TABLE.family, TABLE.name])) as { nftables: Record<string, Record<string, unknown>>[] };
  const chains = new Map<string, number>();
  const elements = new Map<string, string[]>();
  for (const o of doc.nftables) {
    if (o.chain) chains.set(String(o.chain.name), chains.get(String(o.chain.name)) ?? 0);
    if (o.rule) chains.set(String(o.rule.chain), (chains.get(String(o.rule.chain)) ?? 0) + 1);
    const s = o.set ?? o.map;
    if (s) elements.set(String(s.name), ((s.elem as unknown[]) ?? []).map((e) => JSON.stringify(e)).sort());
  }
  return { chains, elements };
}

const concat = (...parts: unknown[]) => ({ concat: parts });
const el = (key: unknown, value?: unknown) => JSON.stringify(value === undefined ? key : [key, value]);

before(async () => {
  hostTablesBefore = await run('nft', ['list', 'tables']);
  await run('ip', ['netns', 'add', NS]);
});

after(async () => {
  await run('ip', ['netns', 'del', NS]).catch(() => {});
});

const runner = () => new NftCommandRunner({ netns: NS });
let table: NftTable;

test('the kernel holds exactly the desired table; one element change is one element operation', async () => {
  table = new NftTable({ owner: 'nfttest', table: TABLE, runner: runner(), owners, staleDelayMs: 1000 });
  const first = await table.sync(desired({ a: ['10.244.1.5', '10.244.2.5'], b: ['10.244.3.5'] }, [['10.0.0.1', 'tcp', 22]]));
  assert.equal(first.mode, 'full');
  let k = await listKernel();
  assert.deepEqual([...k.chains].sort(), [['ep-a-0', 2], ['ep-a-1', 2], ['ep-b-0', 2], ['filter-input', 1], ['services', 1], ['svc-a', 2], ['svc-b', 2]]);
  assert.deepEqual(k.elements.get('service-ips'), [el(concat('10.96.0.1', 'tcp', 80), { goto: { target: 'svc-a' } }), el(concat('10.96.0.2', 'tcp', 80), { goto: { target: 'svc-b' } })].sort());
  assert.deepEqual(k.elements.get('allowed'), [el(concat('10.0.0.1', 'tcp', 22))]);
  assert.deepEqual(k.elements.get('aff-a'), []);

  const second = await table.sync(desired({ a: ['10.244.1.5', '10.244.2.5'], b: ['10.244.3.5'] }, [['10.0.0.1', 'tcp', 22], ['10.0.0.2', 'udp', 53]]));
  assert.equal(second.ops, 1);
  k = await listKernel();
  assert.deepEqual(k.elements.get('allowed'), [el(concat('10.0.0.1', 'tcp', 22)), el(concat('10.0.0.2', 'udp', 53))].sort());
  assert.equal(k.chains.get('svc-a'), 2);
  assert.equal((await table.sync(desired({ a: ['10.244.1.5', '10.244.2.5'], b: ['10.244.3.5'] }, [['10.0.0.1', 'tcp', 22], ['10.0.0.2', 'udp', 53]]))).ops, 0);
});

test('an invalid transaction changes nothing and its error names the offending line', async () => {
  const before = await listKernel();
  const h = table.handle;
  const tx = new Transaction('nfttest')
    .addElements(h, SERVICE_IPS, [{ key: ['10.96.0.9', 'tcp', 80], value: 'drop' }])
    .flushChain(h, 'svc-a')
    .deleteChain(h, 'no-such-chain');
  const err = await runner().apply(renderTransaction(tx, owners)).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof NftApplyError, String(err));
  assert.equal(err.errors[0].line, 3);
  assert.equal(err.errors[0].op, 2);
  assert.equal(err.errors[0].text, 'delete chain inet meshlet-nfttest no-such-chain');
  assert.match(err.message, /line 3 \(operation 3 delete-chain\)/);
  assert.deepEqual(await listKernel(), before, 'nothing of the batch was applied');
});

test('a chain no longer wanted is flushed, then deleted after the delay', async () => {
  const r = await table.sync(desired({ a: ['10.244.1.5', '10.244.2.5'] }, [['10.0.0.1', 'tcp', 22]]));
  assert.ok(r.staleDueAt !== undefined);
  let k = await listKernel();
  assert.equal(k.chains.get('svc-b'), 0, 'flushed, still present');
  assert.equal(k.chains.get('ep-b-0'), 0);
  assert.equal(k.elements.get('service-ips')!.length, 1);
  assert.equal(k.elements.has('aff-b'), false, 'a set no longer used goes at once');
  await new Promise((res) => setTimeout(res, Math.max(0, r.staleDueAt! - Date.now()) + 50));
  const done = await table.sync(desired({ a: ['10.244.1.5', '10.244.2.5'] }, [['10.0.0.1', 'tcp', 22]]));
  assert.equal(done.ops, 2, 'the two chain deletions');
  k = await listKernel();
  assert.equal(k.chains.has('svc-b'), false);
  assert.equal(k.chains.has('ep-b-0'), false);
});

test('masquerade keeps its table: a subnet change refills the chain in place, no change runs no nft', async () => {
  const m = new Masquerade({ runner: runner(), owners: new TableOwners() });
  const handles = async () => {
    const doc = JSON.parse(await run('ip', ['netns', 'exec', NS, 'nft', '-j', 'list', 'table', 'inet', 'meshlet-nat'])) as { nftables: Record<string, { handle?: number; name?: string }>[] };
    return { table: doc.nftables.find((o) => o.table)!.table.handle, chain: doc.nftables.find((o) => o.chain)!.chain.handle };
  };
  assert.equal((await m.sync(['10.244.1.0/24'], ['10.244.0.0/16'])).mode, 'full');
  const h1 = await handles();
  assert.equal((await m.sync(['10.244.1.0/24'], ['10.244.0.0/16'])).ops, 0);
  const r = await m.sync(['10.244.2.0/24', 'fd00:10:244:2::/64'], ['10.244.0.0/16', 'fd00:10:244::/56']);
  assert.equal(r.mode, 'incremental');
  assert.deepEqual(await handles(), h1, 'same table and chain objects: not deleted and recreated');
  const listed = await run('ip', ['netns', 'exec', NS, 'nft', 'list', 'table', 'inet', 'meshlet-nat']);
  assert.match(listed, /ip saddr 10\.244\.2\.0\/24 ip daddr != 10\.244\.0\.0\/16 masquerade/);
  assert.match(listed, /ip6 saddr fd00:10:244:2::\/64 ip6 daddr != fd00:10:244::\/56 masquerade/);
  assert.doesNotMatch(listed, /10\.244\.1\.0/);
  await m.remove();
  await m.remove(); // idempotent
});

test('a new adapter over the existing table adopts it (restart) and the host namespace is untouched', async () => {
  const real = runner();
  const sent: RenderedTransaction[] = [];
  const recording: NftRunner = { list: (t) => real.list(t), apply: (tx) => (sent.push(tx), real.apply(tx)) };
  const restarted = new NftTable({ owner: 'nfttest', table: TABLE, runner: recording, owners: new TableOwners() });
  const r = await restarted.sync(desired({ a: ['10.244.1.5'] }, [['10.0.0.1', 'tcp', 22]]));
  assert.equal(r.mode, 'full');
  assert.equal(sent.length, 1);
  assert.doesNotMatch(sent[0].text, /element|delete table|flush (set|map)/, 'elements already right are left alone');
  const k = await listKernel();
  assert.equal(k.chains.get('ep-a-1'), 0, 'leftover flushed, to be deleted later');
  assert.equal(k.chains.get('svc-a'), 2);
  await restarted.delete();
  await assert.rejects(run('ip', ['netns', 'exec', NS, 'nft', 'list', 'table', TABLE.family, TABLE.name]), /No such file or directory/);
  assert.equal(await run('nft', ['list', 'tables']), hostTablesBefore);
  assert.doesNotMatch(hostTablesBefore, /meshlet-nfttest/);
});
