// The adapter's diff and committed state, against the in-memory fake kernel:
// O(changes) transactions, stale chains deleted after the delay, full sync
// after a failure, adoption of an earlier run's table, rebuild on a changed
// declaration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeNft } from '../../src/nft/fake.ts';
import { TableOwners } from '../../src/nft/owners.ts';
import { NftTable } from '../../src/nft/table-sync.ts';
import { NftApplyError } from '../../src/nft/runner.ts';
import { rule, vmap, numgen, goTo, inSet, match } from '../../src/nft/rule.ts';
import type { DesiredChain, DesiredTable, MapElement } from '../../src/nft/model.ts';

const TABLE = { family: 'ip' as const, name: 'meshlet-proxy' };

/** A small proxy-shaped table: services dispatched by a verdict map, a chain per service and per endpoint. */
function proxyTable(services: Record<string, string[]>, opts: { affinity?: boolean } = {}): DesiredTable {
  const chains: DesiredChain[] = [
    { name: 'services', base: { type: 'nat', hook: 'prerouting', priority: 'dstnat' }, rules: [rule(vmap('service-ips', 'ip daddr', 'meta l4proto', 'th dport'))] },
  ];
  const elements: MapElement[] = [];
  let n = 0;
  for (const [svc, eps] of Object.entries(services)) {
    n++;
    elements.push({ key: [`10.96.0.${n}`, 'tcp', 80], value: { goto: `svc-${svc}` } });
    chains.push({ name: `svc-${svc}`, rules: [rule(numgen(eps.map((e) => ({ goto: `ep-${svc}-${e.replaceAll('.', '-')}` }))))] });
    for (const e of eps) chains.push({ name: `ep-${svc}-${e.replaceAll('.', '-')}`, rules: [rule({ dnat: { family: 'ip', addr: e, port: 8080, protocol: 'tcp' } })] });
  }
  return {
    chains,
    maps: [{ name: 'service-ips', type: ['ipv4_addr', 'inet_proto', 'inet_service'], value: 'verdict', elements }],
    sets: opts.affinity ? [{ name: 'aff', type: ['ipv4_addr'], flags: ['dynamic', 'timeout'], timeout: 10800 }] : [],
  };
}

function setup(nft = new FakeNft()) {
  let now = 1_000_000;
  const table = new NftTable({ owner: 'proxy', table: TABLE, runner: nft, owners: new TableOwners(), now: () => now });
  return { nft, table, advance: (ms: number) => (now += ms), lastText: () => nft.applied.at(-1)!.text };
}

test('a first sync creates everything; the same desired state again sends nothing', async () => {
  const { nft, table } = setup();
  const first = await table.sync(proxyTable({ a: ['10.244.1.5', '10.244.2.5'] }));
  assert.equal(first.mode, 'full');
  assert.deepEqual(nft.elements(TABLE, 'service-ips'), ['10.96.0.1 . tcp . 80 : goto svc-a']);
  assert.deepEqual(nft.rules(TABLE, 'svc-a'), ['numgen random mod 2 vmap { 0 : goto ep-a-10-244-1-5, 1 : goto ep-a-10-244-2-5 }']);
  const again = await table.sync(proxyTable({ a: ['10.244.1.5', '10.244.2.5'] }));
  assert.deepEqual(again, { mode: 'incremental', ops: 0 });
  assert.equal(nft.attempts.length, 1);
});

test('a one-element change renders one element operation, not a rebuild', async () => {
  const { table, lastText } = setup();
  const d = proxyTable({ a: ['10.244.1.5'] });
  await table.sync(d);
  const more = { ...d, maps: [{ ...d.maps![0], elements: [...d.maps![0].elements!, { key: ['10.96.0.99', 'udp', 53], value: 'drop' as const }] }] };
  const r = await table.sync(more);
  assert.equal(r.ops, 1);
  assert.equal(lastText(), 'add element ip meshlet-proxy service-ips { 10.96.0.99 . udp . 53 : drop }\n');
  await table.sync(d);
  assert.equal(lastText(), 'delete element ip meshlet-proxy service-ips { 10.96.0.99 . udp . 53 }\n');
});

test('a new endpoint refills only its service chain and adds only its endpoint chain', async () => {
  const { nft, table, lastText } = setup();
  await table.sync(proxyTable({ a: ['10.244.1.5'], b: ['10.244.3.5'] }));
  await table.sync(proxyTable({ a: ['10.244.1.5', '10.244.2.5'], b: ['10.244.3.5'] }));
  assert.equal(lastText(), [
    'add chain ip meshlet-proxy ep-a-10-244-2-5',
    'flush chain ip meshlet-proxy svc-a',
    'add chain ip meshlet-proxy svc-a { numgen random mod 2 vmap { 0 : goto ep-a-10-244-1-5, 1 : goto ep-a-10-244-2-5 } ; }',
    'add chain ip meshlet-proxy ep-a-10-244-2-5 { meta l4proto tcp dnat ip to 10.244.2.5:8080 ; }',
    '',
  ].join('\n'));
  assert.deepEqual(nft.rules(TABLE, 'svc-b'), ['numgen random mod 1 vmap { 0 : goto ep-b-10-244-3-5 }']);
});

test('a chain no longer wanted is flushed now and deleted once the delay has passed', async () => {
  const { nft, table, advance, lastText } = setup();
  await table.sync(proxyTable({ a: ['10.244.1.5'], b: ['10.244.3.5'] }));
  const r = await table.sync(proxyTable({ a: ['10.244.1.5'] }));
  assert.equal(lastText(), [
    'delete element ip meshlet-proxy service-ips { 10.96.0.2 . tcp . 80 }',
    'flush chain ip meshlet-proxy svc-b',
    'flush chain ip meshlet-proxy ep-b-10-244-3-5',
    '',
  ].join('\n'));
  assert.deepEqual(nft.rules(TABLE, 'svc-b'), [], 'flushed, still there');
  assert.ok(r.staleDueAt !== undefined);
  advance(500);
  assert.equal((await table.sync(proxyTable({ a: ['10.244.1.5'] }))).ops, 0, 'not yet due');
  advance(500);
  const done = await table.sync(proxyTable({ a: ['10.244.1.5'] }));
  assert.equal(lastText(), 'delete chain ip meshlet-proxy svc-b\ndelete chain ip meshlet-proxy ep-b-10-244-3-5\n');
  assert.equal(done.staleDueAt, undefined);
  assert.equal(nft.rules(TABLE, 'svc-b'), undefined);
});

test('a stale chain wanted again before its deletion is refilled, not recreated', async () => {
  const { nft, table, advance, lastText } = setup();
  await table.sync(proxyTable({ a: ['10.244.1.5'], b: ['10.244.3.5'] }));
  await table.sync(proxyTable({ a: ['10.244.1.5'] }));
  advance(200);
  const r = await table.sync(proxyTable({ a: ['10.244.1.5'], b: ['10.244.3.5'] }));
  // rules go in as `add chain T C { … }` blocks; no chain is declared (a bare `add chain T C`) or deleted
  assert.doesNotMatch(lastText(), /^add chain \S+ \S+ \S+$|delete chain/m);
  assert.equal(r.staleDueAt, undefined);
  assert.deepEqual(nft.elements(TABLE, 'service-ips'), ['10.96.0.1 . tcp . 80 : goto svc-a', '10.96.0.2 . tcp . 80 : goto svc-b']);
});

test('a failed transaction changes nothing; the next sync is a full one and converges', async () => {
  const { nft, table, lastText } = setup();
  await table.sync(proxyTable({ a: ['10.244.1.5'] }));
  const before = nft.elements(TABLE, 'service-ips');
  nft.failNext('Could not process rule: Cannot allocate memory');
  await assert.rejects(table.sync(proxyTable({ a: ['10.244.1.5'], b: ['10.244.3.5'] })), (e: unknown) => e instanceof NftApplyError && e.errors[0].line === 1);
  assert.deepEqual(nft.elements(TABLE, 'service-ips'), before);
  assert.equal(table.state, undefined);
  const r = await table.sync(proxyTable({ a: ['10.244.1.5'], b: ['10.244.3.5'] }));
  assert.equal(r.mode, 'full');
  assert.match(lastText(), /^add table ip meshlet-proxy\n/);
  assert.doesNotMatch(lastText(), /flush map/, 'elements are diffed against the listing, not flushed');
  assert.deepEqual(lastText().match(/^add element.*$/gm), ['add element ip meshlet-proxy service-ips { 10.96.0.2 . tcp . 80 : goto svc-b }']);
  assert.deepEqual(nft.elements(TABLE, 'service-ips'), ['10.96.0.1 . tcp . 80 : goto svc-a', '10.96.0.2 . tcp . 80 : goto svc-b']);
  assert.equal((await table.sync(proxyTable({ a: ['10.244.1.5'], b: ['10.244.3.5'] }))).ops, 0);
});

test('a new process adopts the table: refills what it wants, retires leftovers, keeps kernel-owned set contents', async () => {
  const nft = new FakeNft();
  await setup(nft).table.sync(proxyTable({ a: ['10.244.1.5'], old: ['10.244.9.9'] }, { affinity: true }));
  // The packet path put an affinity entry in the dynamic set.
  nft.tables.get('ip meshlet-proxy')!.sets.get('aff')!.elements.set('10.244.7.7', { text: '10.244.7.7', element: { key: ['10.244.7.7'] } });
  const restarted = setup(nft);
  const r = await restarted.table.sync(proxyTable({ a: ['10.244.1.5'] }, { affinity: true }));
  assert.equal(r.mode, 'full');
  const text = restarted.lastText();
  assert.doesNotMatch(text, /delete table/);
  assert.doesNotMatch(text, /flush set ip meshlet-proxy aff/);
  assert.match(text, /flush chain ip meshlet-proxy svc-old\n/);
  assert.deepEqual(nft.elements(TABLE, 'aff'), ['10.244.7.7']);
  assert.deepEqual(nft.elements(TABLE, 'service-ips'), ['10.96.0.1 . tcp . 80 : goto svc-a']);
  assert.deepEqual(nft.rules(TABLE, 'svc-old'), []);
  restarted.advance(1000);
  await restarted.table.sync(proxyTable({ a: ['10.244.1.5'] }, { affinity: true }));
  assert.equal(nft.rules(TABLE, 'svc-old'), undefined);
});

test('a changed declaration rebuilds the table in one transaction', async () => {
  const { nft, table, lastText } = setup();
  await table.sync(proxyTable({ a: ['10.244.1.5'] }));
  const d = proxyTable({ a: ['10.244.1.5'] });
  const changed = { ...d, chains: d.chains.map((c) => (c.name === 'services' ? { ...c, base: { type: 'nat' as const, hook: 'output' as const, priority: 'dstnat' as const } } : c)) };
  const r = await table.sync(changed);
  assert.equal(r.mode, 'rebuild');
  assert.match(lastText(), /^add table ip meshlet-proxy\ndelete table ip meshlet-proxy\nadd table ip meshlet-proxy\n/);
  assert.equal(nft.table(TABLE)!.chains.get('services')!.spec, ' { type nat hook output priority dstnat ; }');
});

test('dangling references are refused before anything is sent', async () => {
  const { nft, table } = setup();
  await assert.rejects(table.sync({ chains: [{ name: 'c', rules: [rule(goTo('nowhere'))] }] }), /jumps to chain nowhere/);
  await assert.rejects(table.sync({ chains: [{ name: 'c', rules: [rule(inSet('nope', 'ip saddr'), match('th dport', 1))] }] }), /uses set or map nope/);
  await assert.rejects(table.sync({ chains: [], maps: [{ name: 'm', type: ['ipv4_addr'], value: 'verdict', elements: [{ key: ['10.0.0.1'], value: { goto: 'x' } }] }] }), /points to chain x/);
  assert.equal(nft.attempts.length, 0);
});

test('a cold start in chunks: each chunk is one transaction holding only the new services', async () => {
  const { table, lastText } = setup();
  const all: Record<string, string[]> = {};
  for (let i = 0; i < 6; i++) all[`s${i}`] = [`10.244.1.${i + 1}`];
  const chunk = (n: number) => Object.fromEntries(Object.entries(all).slice(0, n));
  await table.sync(proxyTable(chunk(3)));
  await table.sync(proxyTable(chunk(6)));
  const text = lastText();
  assert.doesNotMatch(text, /s[012]\b|flush/);
  assert.equal(text.match(/^add element/gm)!.length, 1);
  assert.equal(text.match(/^add chain \S+ \S+ \S+$/gm)!.length, 6, 'six chains declared');
});

test('a restart with a chunked cold start retires nothing until the last chunk, and keeps every element that is right', async () => {
  const nft = new FakeNft();
  const all: Record<string, string[]> = { a: ['10.244.1.5'], b: ['10.244.2.5'], c: ['10.244.3.5'], gone: ['10.244.9.9'] };
  await setup(nft).table.sync(proxyTable(all));
  const { table, lastText, advance } = setup(nft); // a new process
  const wanted = { a: all.a, b: all.b, c: all.c };
  await table.sync(proxyTable({ a: all.a }), { partial: true });
  assert.doesNotMatch(lastText(), /element/, 'the verdict map already holds the right elements');
  assert.deepEqual(nft.elements(TABLE, 'service-ips')!.length, 4, 'later chunks and the leftover still dispatch');
  assert.deepEqual(nft.rules(TABLE, 'svc-c'), ['numgen random mod 1 vmap { 0 : goto ep-c-10-244-3-5 }']);
  await table.sync(proxyTable({ a: all.a, b: all.b }), { partial: true });
  assert.match(lastText(), /^flush chain ip meshlet-proxy svc-b$/m);
  assert.doesNotMatch(lastText(), /svc-a|svc-c|gone|element/);
  const last = await table.sync(proxyTable(wanted));
  assert.equal(last.mode, 'incremental');
  assert.match(lastText(), /^delete element ip meshlet-proxy service-ips \{ 10\.96\.0\.4 \. tcp \. 80 \}$/m);
  assert.match(lastText(), /^flush chain ip meshlet-proxy svc-gone$/m);
  advance(1000);
  await table.sync(proxyTable(wanted));
  assert.equal(nft.rules(TABLE, 'svc-gone'), undefined);
  assert.deepEqual(nft.elements(TABLE, 'service-ips'), ['10.96.0.1 . tcp . 80 : goto svc-a', '10.96.0.2 . tcp . 80 : goto svc-b', '10.96.0.3 . tcp . 80 : goto svc-c']);
});

test('a full sync whose listing shows another declaration rebuilds', async () => {
  const nft = new FakeNft();
  await setup(nft).table.sync({ chains: [], sets: [{ name: 's', type: ['ipv4_addr'], elements: [{ key: ['10.0.0.1'] }] }] });
  const { table, lastText } = setup(nft);
  const r = await table.sync({ chains: [], sets: [{ name: 's', type: ['ipv4_addr', 'inet_service'], elements: [{ key: ['10.0.0.1', 80] }] }] });
  assert.equal(r.mode, 'rebuild');
  assert.match(lastText(), /^add table ip meshlet-proxy\ndelete table ip meshlet-proxy\n/);
  assert.deepEqual(nft.elements(TABLE, 's'), ['10.0.0.1 . 80']);
});
