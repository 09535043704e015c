// The agent's pure pod-network decisions, the kubelet endpoint's request
// parsing and authentication, and the API server's pods/log proxy plan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/core/types.ts';
import { bridgeMacFor, nodeNetworkPatch, nodeShowsPatch, overlayPeers, overlayProjection, ownSubnets } from '../../src/agent/pod-network-plan.ts';
import { KUBELET_ENDPOINT_ANNOTATION } from '../../src/core/well-known.ts';
import { bearerMatches, parseLogRequest } from '../../src/agent/kubelet-server.ts';
import { parseKubeletEndpoint } from '../../src/api/kubelet-client.ts';
import { planLogProxy } from '../../src/api/pod-logs.ts';
import { KubeError } from '../../src/core/errors.ts';
import type { Identity } from '../../src/api/auth.ts';

function node(name: string, ip: string, mac: string, cidr: string): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name, annotations: { 'meshlet.io/vtep-ip': ip, 'meshlet.io/vtep-mac': mac } },
    spec: { podCIDR: cidr, podCIDRs: [cidr] },
  };
}
test('overlay peers: every other Node showing podCIDRs and a VTEP; never one claiming our subnet', () => {
  const nodes = [
    node('n1', '172.31.0.11', '02:00:00:00:00:01', '10.244.1.0/24'),
    node('n2', '172.31.0.12', '02:00:00:00:00:02', '10.244.2.0/24'),
    node('n3', '172.31.0.13', '02:00:00:00:00:03', '10.244.1.0/24'),
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n4', annotations: { 'meshlet.io/vtep-ip': '172.31.0.14', 'meshlet.io/vtep-mac': '02:00:00:00:00:04' } }, spec: {} },
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n5' }, spec: { podCIDR: '10.244.5.0/24' } },
  ];
  // n1 is self; n3 claims n1's subnet; n4's podCIDRs were withdrawn (lease lapsed); n5 has no VTEP yet.
  assert.deepEqual(overlayPeers(nodes, 'n1', ['10.244.1.0/24']).map((p) => p.name), ['n2']);
  assert.deepEqual(overlayPeers(nodes.slice(0, 1), 'n1', ['10.244.1.0/24']), [], 'Nodes deleted: no peer');
  assert.deepEqual(ownSubnets(nodes[0]), ['10.244.1.0/24']);
  assert.deepEqual(ownSubnets(nodes[3]), []);
});

test('the overlay projection changes only with podCIDRs, VTEP annotations (and our own kubelet endpoint)', () => {
  const n2 = node('n2', '172.31.0.12', '02:00:00:00:00:02', '10.244.2.0/24');
  const p = overlayProjection(n2, 'n1');
  // A status repost, a label, a taint: nothing the overlay programs.
  const reposted: KubeObject = { ...n2, metadata: { ...n2.metadata, labels: { a: 'b' }, resourceVersion: '99' }, spec: { ...(n2.spec as object), taints: [] }, status: { conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: 'now' }] } };
  assert.equal(overlayProjection(reposted, 'n1'), p);
  assert.notEqual(overlayProjection({ ...n2, spec: {} }, 'n1'), p, 'podCIDRs withdrawn');
  assert.notEqual(overlayProjection(node('n2', '172.31.0.12', '02:00:00:00:00:09', '10.244.2.0/24'), 'n1'), p, 'new VTEP MAC');
  const withEndpoint: KubeObject = { ...n2, metadata: { ...n2.metadata, annotations: { ...n2.metadata.annotations, [KUBELET_ENDPOINT_ANNOTATION]: 'unix:///x' } } };
  assert.equal(overlayProjection(withEndpoint, 'n1'), p, "another node's kubelet endpoint is not ours to care about");
  assert.notEqual(overlayProjection(withEndpoint, 'n2'), overlayProjection(n2, 'n2'), 'our own is: we publish it');
});

test('the Node patch publishes VTEP and kubelet endpoint, never podCIDRs; nodeShowsPatch says when it is already there', () => {
  const patch = nodeNetworkPatch({ vtepIp: '172.31.0.11', vtepMac: '02:AA:00:00:00:01', kubeletEndpoint: 'unix:///s/k.sock' });
  assert.deepEqual(patch, {
    metadata: { annotations: { 'meshlet.io/vtep-mac': '02:aa:00:00:00:01', 'meshlet.io/vtep-ip': '172.31.0.11', [KUBELET_ENDPOINT_ANNOTATION]: 'unix:///s/k.sock' } },
  });
  const n = node('n1', '172.31.0.11', '02:aa:00:00:00:01', '10.244.1.0/24');
  assert.equal(nodeShowsPatch(n, patch), false, 'endpoint missing');
  n.metadata.annotations![KUBELET_ENDPOINT_ANNOTATION] = 'unix:///s/k.sock';
  assert.equal(nodeShowsPatch(n, patch), true);
  assert.equal(nodeShowsPatch(undefined, patch), false);
});

test('the bridge MAC is fixed by the gateway address', () => {
  assert.equal(bridgeMacFor('10.244.2.1'), '0a:58:0a:f4:02:01');
  assert.throws(() => bridgeMacFor('fd00::1'), /not an IPv4/);
});

test('kubelet log requests: path, options, errors', () => {
  const r = parseLogRequest('/containerLogs/default/web-1/main', new URLSearchParams('follow=true&tailLines=10&previous=false&timestamps=1'));
  assert.deepEqual(r, { namespace: 'default', pod: 'web-1', container: 'main', opts: { follow: true, timestamps: true, tailLines: 10 } });
  assert.throws(() => parseLogRequest('/containerLogs/default/web-1', new URLSearchParams()), (e) => e instanceof KubeError && e.code === 404);
  assert.throws(() => parseLogRequest('/containerLogs/default/../x', new URLSearchParams()), /invalid pod name/);
  assert.throws(() => parseLogRequest('/containerLogs/a/b/c', new URLSearchParams('tailLines=-1')), /tailLines/);
});

test('kubelet endpoint authentication: exactly the node token', () => {
  assert.equal(bearerMatches('Bearer abc123', 'abc123'), true);
  assert.equal(bearerMatches('bearer abc123', 'abc123'), true);
  assert.equal(bearerMatches('Bearer abc124', 'abc123'), false);
  assert.equal(bearerMatches('Bearer abc', 'abc123'), false);
  assert.equal(bearerMatches(undefined, 'abc123'), false);
  assert.equal(bearerMatches('Bearer x', ''), false);
});

test('pods/log proxy plan: container choice, node endpoint, node token, forwarded options', () => {
  const tokens = new Map<string, Identity>([
    ['admintok', { user: 'admin', uid: 'a', groups: ['system:masters'] }],
    ['n1tok', { user: 'system:node:n1', uid: 'n', groups: ['system:nodes'] }],
  ]);
  const pod = (containers: string[], nodeName?: string): KubeObject => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' },
    spec: { ...(nodeName ? { nodeName } : {}), containers: containers.map((name) => ({ name })) },
  });
  const n1: KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', annotations: { [KUBELET_ENDPOINT_ANNOTATION]: 'unix:///lab/n1/kubelet.sock' } } };
  const route = { namespace: 'ns', name: 'p' };
  const plan = planLogProxy(pod(['c'], 'n1'), n1, new URLSearchParams('follow=true&tailLines=2&pretty=1'), tokens, route);
  assert.deepEqual(plan, { target: { socketPath: '/lab/n1/kubelet.sock' }, path: '/containerLogs/ns/p/c?follow=true&tailLines=2', token: 'n1tok' });
  const code = (fn: () => unknown) => { try { fn(); return 0; } catch (e) { return (e as KubeError).code; } };
  assert.equal(code(() => planLogProxy(undefined, n1, new URLSearchParams(), tokens, route)), 404);
  assert.throws(() => planLogProxy(pod(['a', 'b'], 'n1'), n1, new URLSearchParams(), tokens, route), /a container name must be specified for pod p, choose one of: \[a b\]/);
  assert.throws(() => planLogProxy(pod(['a'], 'n1'), n1, new URLSearchParams('container=z'), tokens, route), /container z is not valid for pod p/);
  assert.throws(() => planLogProxy(pod(['a']), n1, new URLSearchParams(), tokens, route), /does not have a host assigned/);
  const bare: KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n2' } };
  assert.equal(code(() => planLogProxy(pod(['a'], 'n2'), bare, new URLSearchParams(), tokens, route)), 503);
  const n2: KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n2', annotations: { [KUBELET_ENDPOINT_ANNOTATION]: 'http://172.31.0.12:10250' } } };
  assert.throws(() => planLogProxy(pod(['a'], 'n2'), n2, new URLSearchParams(), tokens, route), /no credential for node "n2"/);
  assert.deepEqual(parseKubeletEndpoint('http://172.31.0.12:10250'), { host: '172.31.0.12', port: 10250 });
  assert.deepEqual(parseKubeletEndpoint('http://[fd00::1]:10250'), { host: 'fd00::1', port: 10250 });
  assert.equal(parseKubeletEndpoint('ftp://x'), undefined);
});
