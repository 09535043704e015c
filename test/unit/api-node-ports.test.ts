// The pure facts of Service node ports: the range flag, which Services need
// node ports and a health-check node port, what a Service holds, and what an
// update keeps or drops. The allocator itself runs against a real store in
// test/integration/api-node-ports.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { heldNodePorts, needsHealthCheckNodePort, needsNodePorts, nodePortsToCarry, parsePortRange } from '../../src/api/node-ports.ts';
import type { KubeObject } from '../../src/core/types.ts';

const svc = (spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'default' }, spec });
const ports = (o: KubeObject): unknown[] => ((o.spec as { ports?: { nodePort?: number }[] }).ports ?? []).map((p) => p.nodePort);

describe('--service-node-port-range', () => {
  it('parses FIRST-LAST and a single port', () => {
    assert.deepEqual(parsePortRange('30000-32767'), { first: 30000, last: 32767 });
    assert.deepEqual(parsePortRange(' 31000 - 31009 '), { first: 31000, last: 31009 });
    assert.deepEqual(parsePortRange('30080'), { first: 30080, last: 30080 });
  });
  it('refuses reversed, out-of-range and malformed ranges with a clear message', () => {
    for (const bad of ['32767-30000', '0-10', '30000-70000', 'a-b', '30000-', '']) {
      assert.throws(() => parsePortRange(bad), /invalid port range .*FIRST-LAST/, bad);
    }
  });
});

describe('which Services hold node ports', () => {
  it('NodePort and LoadBalancer (unless allocateLoadBalancerNodePorts is false) get node ports', () => {
    assert.equal(needsNodePorts({ type: 'NodePort' }), true);
    assert.equal(needsNodePorts({ type: 'LoadBalancer' }), true);
    assert.equal(needsNodePorts({ type: 'LoadBalancer', allocateLoadBalancerNodePorts: false }), false);
    assert.equal(needsNodePorts({ type: 'ClusterIP' }), false);
    assert.equal(needsNodePorts({}), false);
    assert.equal(needsNodePorts({ type: 'ExternalName' }), false);
  });
  it('a health-check node port goes with externalTrafficPolicy Local on NodePort and LoadBalancer', () => {
    assert.equal(needsHealthCheckNodePort({ type: 'LoadBalancer', externalTrafficPolicy: 'Local' }), true);
    assert.equal(needsHealthCheckNodePort({ type: 'NodePort', externalTrafficPolicy: 'Local' }), true);
    assert.equal(needsHealthCheckNodePort({ type: 'LoadBalancer', externalTrafficPolicy: 'Cluster' }), false);
    assert.equal(needsHealthCheckNodePort({ type: 'ClusterIP', externalTrafficPolicy: 'Local' }), false);
  });
  it('lists each held port once, with the health-check port', () => {
    const s = svc({ type: 'NodePort', ports: [{ port: 53, protocol: 'UDP', nodePort: 30053 }, { port: 53, protocol: 'TCP', nodePort: 30053 }, { port: 80, nodePort: 30080 }], healthCheckNodePort: 30999 });
    assert.deepEqual(heldNodePorts(s).sort(), [30053, 30080, 30999]);
    assert.deepEqual(heldNodePorts(svc({ type: 'ClusterIP', ports: [{ port: 80 }] })), []);
  });
});

describe('node ports on update', () => {
  const old = svc({ type: 'NodePort', externalTrafficPolicy: 'Local', healthCheckNodePort: 30999, ports: [{ name: 'http', port: 80, nodePort: 30080 }, { name: 'https', port: 443, nodePort: 30443 }] });

  it('a port left without a nodePort keeps the one of the old port of the same name', () => {
    const next = nodePortsToCarry(old, svc({ type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'https', port: 8443 }, { name: 'http', port: 80 }] }));
    assert.deepEqual(ports(next), [30443, 30080]);
    assert.equal((next.spec as { healthCheckNodePort?: number }).healthCheckNodePort, 30999);
  });
  it('an old value another port now uses explicitly is not carried over', () => {
    const next = nodePortsToCarry(old, svc({ type: 'NodePort', ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443, nodePort: 30080 }] }));
    assert.deepEqual(ports(next), [undefined, 30080]);
  });
  it('turning ClusterIP drops the old node ports (so they are freed); a new explicit value stays for validation to refuse', () => {
    const next = nodePortsToCarry(old, svc({ type: 'ClusterIP', ports: [{ name: 'http', port: 80, nodePort: 30080 }, { name: 'https', port: 443, nodePort: 31000 }], healthCheckNodePort: 30999 }));
    assert.deepEqual(ports(next), [undefined, 31000]);
    assert.equal((next.spec as { healthCheckNodePort?: number }).healthCheckNodePort, undefined);
    assert.deepEqual(ports(old), [30080, 30443], 'the old object is not changed');
  });
  it('a LoadBalancer turned NodePort drops the allocateLoadBalancerNodePorts it carried over', () => {
    const lb = svc({ type: 'LoadBalancer', allocateLoadBalancerNodePorts: true, ports: [{ name: 'http', port: 80, nodePort: 30080 }] });
    const next = nodePortsToCarry(lb, svc({ type: 'NodePort', allocateLoadBalancerNodePorts: true, ports: [{ name: 'http', port: 80 }] }));
    assert.equal((next.spec as { allocateLoadBalancerNodePorts?: boolean }).allocateLoadBalancerNodePorts, undefined);
    assert.deepEqual(ports(next), [30080]);
  });
  it('switching to externalTrafficPolicy Cluster drops the old health-check port', () => {
    const next = nodePortsToCarry(old, svc({ type: 'NodePort', externalTrafficPolicy: 'Cluster', healthCheckNodePort: 30999, ports: [{ name: 'http', port: 80 }] }));
    assert.equal((next.spec as { healthCheckNodePort?: number }).healthCheckNodePort, undefined);
    assert.deepEqual(ports(next), [30080]);
  });
});
