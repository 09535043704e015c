// The LoadBalancer pool and planner (src/controllers/service-lb*.ts), pure:
// pool parsing, allocation without collisions, requested addresses, release
// on type change, pending without a pool, the announcer choice and its re-pick;
// the agent's side: which addresses a node announces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstFree, inPool, parseLbPool } from '../../src/controllers/service-lb-pool.ts';
import { lbActions, planLoadBalancers, rendezvous, type LbInputs } from '../../src/controllers/service-lb.ts';
import type { KubeObject } from '../../src/core/types.ts';
import { LB_ANNOUNCER_ANNOTATION } from '../../src/core/well-known.ts';
import { announcedAddresses } from '../../src/agent/lb-announcer-plan.ts';
import type { SlimService } from '../../src/client/slim-objects.ts';

function svc(name: string, created: string, opts: { type?: string; ip?: string; want?: string; announcer?: string; cls?: string } = {}): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, creationTimestamp: created, ...(opts.announcer ? { annotations: { [LB_ANNOUNCER_ANNOTATION]: opts.announcer } } : {}) },
    spec: { type: opts.type ?? 'LoadBalancer', ...(opts.want ? { loadBalancerIP: opts.want } : {}), ...(opts.cls ? { loadBalancerClass: opts.cls } : {}) },
    ...(opts.ip ? { status: { loadBalancer: { ingress: [{ ip: opts.ip }] } } } : {}),
  };
}

const pool = parseLbPool(['172.31.0.200-172.31.0.202'])!;
const everywhere = (): Set<string> => new Set(['n1', 'n2', 'n3']);
const inputs = (services: KubeObject[], over: Partial<LbInputs> = {}): LbInputs => ({ services, pool, readyNodes: new Set(['n1', 'n2', 'n3']), endpointNodes: everywhere, ...over });
const ips = (inp: LbInputs): Record<string, string | undefined> => Object.fromEntries(planLoadBalancers(inp).map((d) => [d.name, d.ip]));

test('pool: CIDR host addresses and ranges; bad input and overlaps are clear errors', () => {
  const p = parseLbPool(['10.1.0.0/30', '10.2.0.5-10.2.0.6'])!;
  assert.equal(firstFree(p, new Set()), '10.1.0.1');
  assert.equal(firstFree(p, new Set(['10.1.0.1', '10.1.0.2'])), '10.2.0.5');
  assert.equal(firstFree(p, new Set(['10.1.0.1', '10.1.0.2', '10.2.0.5', '10.2.0.6'])), undefined);
  assert.ok(inPool(p, '10.2.0.6') && !inPool(p, '10.1.0.3') && !inPool(p, '10.1.0.0'));
  assert.equal(parseLbPool([]), undefined);
  assert.throws(() => parseLbPool(['10.1.0.0/24', '10.1.0.9-10.1.0.12']), /overlap/);
  assert.throws(() => parseLbPool(['fd00::/120']), /IPv4/);
  assert.throws(() => parseLbPool(['10.0.0.9-10.0.0.1']), /ends before/);
  assert.throws(() => parseLbPool(['10.0.0.0/8']), /at most/);
  assert.throws(() => parseLbPool(['nonsense']));
});

test('each Service gets its own address; kept addresses stay; the older Service wins a collision', () => {
  assert.deepEqual(ips(inputs([svc('a', '1'), svc('b', '2'), svc('c', '3')])), { a: '172.31.0.200', b: '172.31.0.201', c: '172.31.0.202' });
  // b already holds .200: a (older, without one) gets the next free one, b keeps its own.
  assert.deepEqual(ips(inputs([svc('a', '1'), svc('b', '2', { ip: '172.31.0.200' })])), { a: '172.31.0.201', b: '172.31.0.200' });
  // Both claim .200 (an earlier writer's mistake): the older keeps it, the other is moved.
  assert.deepEqual(ips(inputs([svc('b', '2', { ip: '172.31.0.200' }), svc('a', '1', { ip: '172.31.0.200' })])), { a: '172.31.0.200', b: '172.31.0.201' });
  // The pool used up: the fourth stays pending.
  assert.deepEqual(ips(inputs([svc('a', '1'), svc('b', '2'), svc('c', '3'), svc('d', '4')])).d, undefined);
  // An address written but not yet in the cache is not handed out again.
  assert.deepEqual(ips(inputs([svc('a', '1'), svc('b', '2')], { assumed: new Map([['uid-b', '172.31.0.200']]) })), { a: '172.31.0.201', b: '172.31.0.200' });
});

test('spec.loadBalancerIP: given when in the pool and free, else pending; another class and no pool stay pending', () => {
  assert.deepEqual(ips(inputs([svc('a', '1', { want: '172.31.0.202' })])), { a: '172.31.0.202' });
  assert.deepEqual(ips(inputs([svc('a', '1', { want: '10.9.9.9' })])), { a: undefined });
  assert.deepEqual(ips(inputs([svc('a', '1', { ip: '172.31.0.200' }), svc('b', '2', { want: '172.31.0.200' })])), { a: '172.31.0.200', b: undefined });
  assert.deepEqual(planLoadBalancers(inputs([svc('a', '1', { cls: 'example.com/other' })])), []);
  assert.deepEqual(ips(inputs([svc('a', '1')], { pool: undefined })), { a: undefined });
});

test('a Service that stops being a LoadBalancer loses its address and announcer (released for others)', () => {
  const was = svc('a', '1', { type: 'ClusterIP', ip: '172.31.0.200', announcer: 'n1' });
  const plan = planLoadBalancers(inputs([was, svc('b', '2')]));
  assert.deepEqual(plan, [{ namespace: 'default', name: 'b', ip: '172.31.0.200', announcer: rendezvous('default/b', ['n1', 'n2', 'n3']) }, { namespace: 'default', name: 'a' }]);
  assert.deepEqual(lbActions(was, plan[1], pool).map((a) => a.op === 'patch' && a.patch), [
    { status: { loadBalancer: { ingress: null } } },
    { metadata: { annotations: { [LB_ANNOUNCER_ANNOTATION]: null } } },
  ]);
});

test('announcer: a Ready node with a ready endpoint, kept while eligible, re-picked when it is not', () => {
  const only = (nodes: string[]) => (): Set<string> => new Set(nodes);
  const pick = (s: KubeObject, over: Partial<LbInputs>): string | undefined => planLoadBalancers(inputs([s], over))[0].announcer;
  assert.equal(pick(svc('a', '1'), { endpointNodes: only(['n2']) }), 'n2');
  assert.equal(pick(svc('a', '1'), { endpointNodes: only([]) }), undefined, 'no endpoint: nobody announces');
  assert.equal(pick(svc('a', '1', { announcer: 'n3' }), {}), 'n3', 'the current announcer stays');
  assert.equal(pick(svc('a', '1', { announcer: 'n3' }), { readyNodes: new Set(['n1', 'n2']) }), rendezvous('default/a', ['n1', 'n2']), 'NotReady: moved');
  assert.equal(pick(svc('a', '1', { announcer: 'n3' }), { endpointNodes: only(['n1']) }), 'n1', 'lost its endpoints: moved');
  assert.equal(pick(svc('a', '1', { announcer: 'n3' }), { pool: undefined }), undefined, 'no address: no announcer');
  // Deterministic and spread: the choice depends only on Service and nodes.
  assert.equal(rendezvous('default/a', ['n1', 'n2', 'n3']), rendezvous('default/a', ['n3', 'n2', 'n1']));
  const spread = new Set(Array.from({ length: 30 }, (_, i) => rendezvous(`default/s${i}`, ['n1', 'n2', 'n3'])));
  assert.equal(spread.size, 3);
});

test('actions: status and annotation patches only when they differ', () => {
  const s = svc('a', '1', { ip: '172.31.0.200', announcer: 'n1' });
  assert.deepEqual(lbActions(s, { namespace: 'default', name: 'a', ip: '172.31.0.200', announcer: 'n1' }, pool), []);
  const moved = lbActions(s, { namespace: 'default', name: 'a', ip: '172.31.0.200', announcer: 'n2' }, pool);
  assert.deepEqual(moved.map((a) => a.op === 'patch' && [a.subresource, a.patch]), [[undefined, { metadata: { annotations: { [LB_ANNOUNCER_ANNOTATION]: 'n2' } } }]]);
  const fresh = lbActions(svc('b', '1'), { namespace: 'default', name: 'b', ip: '172.31.0.201' }, pool);
  assert.deepEqual(fresh.map((a) => a.op === 'patch' && [a.subresource, a.patch]), [['status', { status: { loadBalancer: { ingress: [{ ip: '172.31.0.201', ipMode: 'VIP' }] } } }]]);
});

test('agent: the addresses a node announces are the IPv4 ingress addresses of the LoadBalancer Services naming it', () => {
  const slim = (name: string, type: string, announcer: string | undefined, ips: string[]): SlimService => ({
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', ...(announcer ? { annotations: { [LB_ANNOUNCER_ANNOTATION]: announcer } } : {}) },
    spec: { type }, status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } },
  });
  const all = [
    slim('a', 'LoadBalancer', 'n1', ['172.31.0.241']),
    slim('b', 'LoadBalancer', 'n2', ['172.31.0.242']),
    slim('c', 'LoadBalancer', 'n1', ['172.31.0.243', 'fd00::1']),
    slim('d', 'ClusterIP', 'n1', ['172.31.0.244']),
    slim('e', 'LoadBalancer', undefined, ['172.31.0.245']),
    slim('f', 'LoadBalancer', 'n1', ['172.31.0.241']),
  ];
  assert.deepEqual(announcedAddresses(all, 'n1'), ['172.31.0.241', '172.31.0.243']);
  assert.deepEqual(announcedAddresses(all, 'n2'), ['172.31.0.242']);
  assert.deepEqual(announcedAddresses(all, 'n3'), []);
});
