// The nftables adapter's pure core: typed values, rules, declarations,
// ownership and the rendering of a transaction for `nft -f`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TableOwners } from '../../src/nft/owners.ts';
import { Transaction, renderTransaction, NftRenderError } from '../../src/nft/transaction.ts';
import { renderValue } from '../../src/nft/values.ts';
import { renderRule, rule, vmap, numgen, inSet, match, matchAny, notMatchAny, masquerade, goTo, notrack } from '../../src/nft/rule.ts';
import { parseNftErrors } from '../../src/nft/runner.ts';
import { parseListing } from '../../src/nft/listing.ts';
import type { MapDef, SetDef } from '../../src/nft/model.ts';

const serviceIps: MapDef = { name: 'service-ips', type: ['ipv4_addr', 'inet_proto', 'inet_service'], value: 'verdict' };

test('values are validated by type and rendered canonically', () => {
  assert.equal(renderValue('ipv4_addr', '10.0.0.1'), '10.0.0.1');
  assert.equal(renderValue('ipv6_addr', 'fd00:0:0::0001'), 'fd00::1');
  assert.equal(renderValue('ipv4_addr', '10.0.0.0/8', true), '10.0.0.0/8');
  assert.throws(() => renderValue('ipv4_addr', '10.1.2.3/8', true), /host bits/);
  assert.equal(renderValue('inet_service', 443), '443');
  assert.equal(renderValue('inet_service', [30000, 32767], true), '30000-32767');
  assert.equal(renderValue('inet_proto', 6), 'tcp');
  assert.equal(renderValue('inet_proto', 'sctp'), 'sctp');
  assert.equal(renderValue('mark', 0x4000), '0x00004000');
  assert.equal(renderValue('ifname', 'eth0'), '"eth0"');
  for (const [t, v] of [
    ['ipv4_addr', 'fd00::1'], ['ipv4_addr', '10.0.0.1; flush ruleset'], ['ipv4_addr', '10.0.0.0/8'], ['ipv6_addr', '10.0.0.1'],
    ['inet_service', 65536], ['inet_service', -1], ['inet_service', '80 }'], ['inet_proto', 'tcp; drop'], ['ifname', 'eth0"'],
    ['ifname', 'a-very-long-interface-name'], ['mark', 2 ** 32], ['ct_state', 'bogus'],
  ] as const) {
    assert.throws(() => renderValue(t, v), /invalid/, `${t} ${String(v)}`);
  }
  assert.throws(() => renderValue('inet_service', [1, 2]), /interval flag/);
});

test('rules are typed statements: vmap dispatch, numgen, affinity, NAT, notrack', () => {
  assert.equal(renderRule(rule(vmap('service-ips', 'ip daddr', 'meta l4proto', 'th dport'))), 'ip daddr . meta l4proto . th dport vmap @service-ips');
  assert.equal(renderRule(rule(numgen([{ goto: 'ep-a' }, { goto: 'ep-b' }, 'drop']))), 'numgen random mod 3 vmap { 0 : goto ep-a, 1 : goto ep-b, 2 : drop }');
  assert.equal(renderRule(rule(inSet('aff-a', 'ip saddr'), goTo('ep-a'))), 'ip saddr @aff-a goto ep-a');
  assert.equal(renderRule(rule({ update: 'aff-a', key: ['ip saddr'] }, { dnat: { family: 'ip', addr: '10.244.1.5', port: 8080, protocol: 'tcp' } })),
    'update @aff-a { ip saddr } meta l4proto tcp dnat ip to 10.244.1.5:8080');
  assert.equal(renderRule(rule({ dnat: { family: 'ip6', addr: 'fd00::5', port: 80, protocol: 'udp' } })), 'meta l4proto udp dnat ip6 to [fd00::5]:80');
  assert.equal(renderRule(rule(match('ip daddr', '10.96.0.10'), match('meta l4proto', 'udp'), match('th dport', 53), notrack)), 'ip daddr 10.96.0.10 meta l4proto udp th dport 53 notrack');
  assert.equal(renderRule(rule(matchAny('ip saddr', ['10.244.1.0/24']), notMatchAny('ip daddr', ['10.244.0.0/16', '10.96.0.0/12']), masquerade)),
    'ip saddr 10.244.1.0/24 ip daddr != { 10.244.0.0/16, 10.96.0.0/12 } masquerade');
  assert.equal(renderRule({ body: [{ matchMasked: 'meta mark', mask: 0x4000, value: 0 }, { verdict: 'return' }], comment: 'not marked' }), 'meta mark & 0x00004000 == 0x00000000 return comment "not marked"');
  assert.equal(renderRule(rule({ reject: 'tcp reset' })), 'reject with tcp reset');
  assert.equal(renderRule(rule({ limit: { rate: 50, per: 'second', burst: 100 } }, { log: { prefix: 'mlp:deny:ingress', group: 4711 } })), 'limit rate 50/second burst 100 packets log prefix "mlp:deny:ingress" group 4711');
  assert.throws(() => renderRule(rule({ limit: { rate: 0, per: 'second' } })), /invalid limit rate/);
  assert.throws(() => renderRule(rule({ limit: { rate: 5, per: 'hour' as 'second' } })), /invalid limit unit/);
  assert.throws(() => renderRule(rule(goTo('x; flush ruleset'))), /invalid nftables chain name/);
  assert.throws(() => renderRule(rule(vmap('service-ips'))), /at least one field/);
  assert.throws(() => renderRule({ body: [masquerade], comment: 'a"b' }), /invalid nftables comment/);
  assert.throws(() => renderRule(rule({ match: 'ip saddr; drop' as 'ip saddr', value: '1.2.3.4' })), /unknown packet field/);
  assert.throws(() => renderRule({ body: [] }), /at least one statement/);
});

test('a transaction renders one line per operation, declarations and elements typed', () => {
  const owners = new TableOwners();
  const t = owners.claim('proxy', { family: 'ip', name: 'meshlet-proxy' });
  const aff: SetDef = { name: 'aff-a', type: ['ipv4_addr'], flags: ['dynamic', 'timeout'], timeout: 10800 };
  const tx = new Transaction('proxy')
    .addTable(t)
    .addChain(t, { name: 'services', base: { type: 'nat', hook: 'prerouting', priority: { name: 'dstnat', offset: 0 } } })
    .addChain(t, { name: 'svc-a' })
    .addSet(t, serviceIps)
    .addSet(t, aff)
    .flushChain(t, 'svc-a')
    .addRule(t, 'services', rule(vmap('service-ips', 'ip daddr', 'meta l4proto', 'th dport')))
    .insertRule(t, 'svc-a', rule(inSet('aff-a', 'ip saddr'), goTo('svc-a')), 0)
    .addElements(t, serviceIps, [{ key: ['10.96.0.1', 'tcp', 443], value: { goto: 'svc-a' } }])
    .deleteElements(t, serviceIps, [{ key: ['10.96.0.2', 'udp', 53], value: 'drop' }])
    .deleteChain(t, 'old');
  const r = renderTransaction(tx, owners);
  assert.equal(r.text, [
    'add table ip meshlet-proxy',
    'add chain ip meshlet-proxy services { type nat hook prerouting priority dstnat ; }',
    'add chain ip meshlet-proxy svc-a',
    'add map ip meshlet-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }',
    'add set ip meshlet-proxy aff-a { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }',
    'flush chain ip meshlet-proxy svc-a',
    // rules in the block form (nft then loads no chain or set cache); the map is added by this transaction
    'add chain ip meshlet-proxy services { ip daddr . meta l4proto . th dport vmap @service-ips ; }',
    'insert rule ip meshlet-proxy svc-a index 0 ip saddr @aff-a goto svc-a',
    'add element ip meshlet-proxy service-ips { 10.96.0.1 . tcp . 443 : goto svc-a }',
    'delete element ip meshlet-proxy service-ips { 10.96.0.2 . udp . 53 }',
    'delete chain ip meshlet-proxy old',
    '',
  ].join('\n'));
  assert.equal(r.lines[8].op, 8);
  // A run of rules on one chain is one line (its first operation's); a rule naming a set this
  // transaction does not add keeps the `add rule` form (nft must load its set cache to resolve it).
  const run = renderTransaction(new Transaction('proxy')
    .addRule(t, 'svc-a', rule(match('ip saddr', '10.244.0.0/16'), goTo('ep-a')))
    .addRule(t, 'svc-a', rule(goTo('ep-b')))
    .addRule(t, 'svc-a', rule(inSet('aff-a', 'ip saddr'), goTo('ep-a')))
    .addRule(t, 'ep-a', rule(goTo('ep-b'))), owners);
  assert.deepEqual(run.lines, [
    { op: 0, text: 'add chain ip meshlet-proxy svc-a { ip saddr 10.244.0.0/16 goto ep-a ; goto ep-b ; }' },
    { op: 2, text: 'add rule ip meshlet-proxy svc-a ip saddr @aff-a goto ep-a' },
    { op: 3, text: 'add chain ip meshlet-proxy ep-a { goto ep-b ; }' },
  ]);
  // An element validated by its set's type: a wrong-family address is refused, naming the operation.
  const bad = new Transaction('proxy').addTable(t).addElements(t, serviceIps, [{ key: ['fd00::1', 'tcp', 443], value: 'drop' }]);
  assert.throws(() => renderTransaction(bad, owners), (e: unknown) => e instanceof NftRenderError && e.op === 1 && /operation 2 \(add-elements\).*not an IPv4 address/.test(e.message));
  assert.throws(() => renderTransaction(new Transaction('proxy').addElements(t, serviceIps, [{ key: ['10.0.0.1', 'tcp'], value: 'drop' }]), owners), /has 3 part/);
  assert.throws(() => renderTransaction(new Transaction('proxy').addSet(t, { name: 's', type: ['ipv4_addr'], timeout: 5 }), owners), /timeout flag/);
});

test('one owner per table: a foreign or unclaimed table is refused before rendering', () => {
  const owners = new TableOwners();
  const nat = owners.claim('masquerade', { family: 'inet', name: 'meshlet-nat' });
  assert.equal(owners.claim('masquerade', { family: 'inet', name: 'meshlet-nat' }), nat);
  assert.throws(() => owners.claim('proxy', { family: 'inet', name: 'meshlet-nat' }), /owned by masquerade/);
  assert.throws(() => renderTransaction(new Transaction('proxy').addTable(nat), owners), /owned by masquerade, not proxy/);
  const forged = { ...nat };
  assert.throws(() => renderTransaction(new Transaction('masquerade').addTable(forged), owners), /not a handle from this registry/);
  const other = new TableOwners().claim('masquerade', { family: 'inet', name: 'meshlet-other' });
  assert.throws(() => renderTransaction(new Transaction('masquerade').addTable(other), owners), /not claimed by any part/);
  // Only meshlet's tables can be named at all.
  for (const name of ['filter', 'nat', 'kube-proxy', 'meshlet_x', 'meshlet-A', 'meshlet-nat; flush ruleset']) {
    assert.throws(() => owners.claim('masquerade', { family: 'inet', name }), /invalid nftables table name/, name);
  }
  assert.throws(() => owners.claim('masquerade', { family: 'bridge' as 'inet', name: 'meshlet-x' }), /invalid nftables table family/);
});

test("nft's errors are mapped back to the rendered line and its operation", () => {
  const owners = new TableOwners();
  const t = owners.claim('proxy', { family: 'ip', name: 'meshlet-proxy' });
  const r = renderTransaction(new Transaction('proxy').addTable(t).addChain(t, { name: 'a' }).deleteChain(t, 'b'), owners);
  const errs = parseNftErrors('/dev/stdin:3:1-36: Error: Could not process rule: No such file or directory\ndelete chain ip meshlet-proxy b\n^^^^\n', r);
  assert.deepEqual(errs, [{ line: 3, column: 1, message: 'Could not process rule: No such file or directory', text: 'delete chain ip meshlet-proxy b', op: 2 }]);
});

test("nft's JSON listing (as nft 1.0.6 prints it) is read back as typed values of this table only", () => {
  const meta = { metainfo: { version: '1.0.6', json_schema_version: 1 } };
  const chains = JSON.stringify({ nftables: [meta,
    { chain: { family: 'inet', table: 'meshlet-x', name: 'a', handle: 1 } },
    { chain: { family: 'inet', table: 'meshlet-x', name: 'base', handle: 2, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
    { chain: { family: 'inet', table: 'other', name: 'c', handle: 1 } },
  ] });
  const sets = JSON.stringify({ nftables: [meta,
    { set: { family: 'inet', name: 's', table: 'meshlet-x', type: 'ipv4_addr', handle: 5, flags: ['timeout'], timeout: 10, elem: [{ elem: { val: '10.9.9.9', expires: 9 } }] } },
    { set: { family: 'inet', name: 'p', table: 'meshlet-x', type: ['ipv4_addr', 'inet_proto', 'inet_service'], handle: 6, flags: ['interval'], elem: [{ elem: { val: { concat: [{ prefix: { addr: '10.0.0.0', len: 24 } }, 'tcp', { range: [80, 90] }] }, comment: 'x' } }] } },
  ] });
  const maps = JSON.stringify({ nftables: [meta,
    { map: { family: 'inet', name: 'm', table: 'meshlet-x', type: ['ipv4_addr', 'inet_proto', 'inet_service'], handle: 4, map: 'verdict', elem: [[{ concat: ['10.0.0.1', 'tcp', 80] }, { goto: { target: 'a' } }], [{ concat: ['10.0.0.2', 'tcp', 80] }, { drop: null }]] } },
  ] });
  assert.deepEqual(parseListing({ family: 'inet', name: 'meshlet-x' }, chains, sets, maps), {
    chains: [{ name: 'a' }, { name: 'base', base: { type: 'filter', hook: 'input', prio: 0 } }],
    sets: [
      { name: 's', map: false, type: ['ipv4_addr'], flags: ['timeout'], elements: [{ key: ['10.9.9.9'] }] },
      { name: 'p', map: false, type: ['ipv4_addr', 'inet_proto', 'inet_service'], flags: ['interval'], elements: [{ key: ['10.0.0.0/24', 'tcp', [80, 90]], comment: 'x' }] },
      { name: 'm', map: true, type: ['ipv4_addr', 'inet_proto', 'inet_service'], value: 'verdict', flags: [], elements: [{ key: ['10.0.0.1', 'tcp', 80], value: { goto: 'a' } }, { key: ['10.0.0.2', 'tcp', 80], value: 'drop' }] },
    ],
  });
});
