// The pure facts of Service addresses: the cluster DNS address, KEP-3070's
// bands, what a create or an update asks the allocator for, the kube-dns shape.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clusterIpChange, clusterIpRequest, heldClusterIp } from '../../src/api/cluster-ip.ts';
import { kubeDnsService } from '../../src/api/bootstrap.ts';
import { clusterDnsOf } from '../../src/agent/cluster-dns.ts';
import { prepareForUpdate } from '../../src/api/object-rules.ts';
import { validateObject } from '../../src/api/validation.ts';
import { resourceFor } from '../../src/core/resources.ts';
import {
  DEFAULT_CLUSTER_DNS,
  DEFAULT_SERVICE_CIDR,
  allocationBands,
  clusterDnsAddress,
  inStaticBand,
  staticBandSize,
} from '../../src/core/service-cidr.ts';
import type { KubeObject } from '../../src/core/types.ts';

const services = resourceFor('', 'v1', 'services')!;
const svc = (spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 's', namespace: 'default', uid: 'u', resourceVersion: '3' },
  spec,
});
const external = (extra: Record<string, unknown> = {}) => svc({ type: 'ExternalName', externalName: 'example.org', ...extra });
const clusterIp = (ip?: string) => svc({ type: 'ClusterIP', ports: [{ port: 80 }], ...(ip ? { clusterIP: ip, clusterIPs: [ip] } : {}) });

describe('the cluster DNS address', () => {
  it('is the 10th address of the service CIDR', () => {
    assert.equal(DEFAULT_SERVICE_CIDR, '10.96.0.0/16');
    assert.equal(DEFAULT_CLUSTER_DNS, '10.96.0.10');
    assert.equal(clusterDnsAddress('10.100.0.0/24'), '10.100.0.10');
    assert.equal(clusterDnsAddress('192.168.4.0/28'), '192.168.4.10');
    assert.equal(clusterDnsAddress('fd00:10:96::/112'), 'fd00:10:96::a');
  });
  it('is an error for a range too small to hold it', () => {
    assert.throws(() => clusterDnsAddress('10.0.0.0/29'), /too small/);
  });
});

describe('KEP-3070 bands', () => {
  it('sizes the static band min(max(16, size/16), 256), none for 16 addresses or fewer', () => {
    assert.equal(staticBandSize('10.96.0.0/16'), 256n);
    assert.equal(staticBandSize('10.96.0.0/20'), 256n); // 4096/16
    assert.equal(staticBandSize('10.96.0.0/21'), 128n); // 2048/16
    assert.equal(staticBandSize('10.96.0.0/24'), 16n);
    assert.equal(staticBandSize('10.96.0.0/27'), 16n); // max(16, 2)
    assert.equal(staticBandSize('10.96.0.0/28'), 0n);
    assert.equal(staticBandSize('fd00::/64'), 256n);
  });
  it('puts the lower band at the start of the host addresses and the rest above it', () => {
    assert.deepEqual(allocationBands('10.96.0.0/16'), { lower: { first: 1n, count: 256n }, upper: { first: 257n, count: 65534n - 256n } });
    assert.deepEqual(allocationBands('10.96.0.0/27'), { lower: { first: 1n, count: 16n }, upper: { first: 17n, count: 14n } });
    assert.deepEqual(allocationBands('10.96.0.0/28'), { lower: { first: 1n, count: 0n }, upper: { first: 1n, count: 14n } });
  });
  it('keeps the cluster DNS address in the static band', () => {
    assert.ok(inStaticBand('10.96.0.0/16', DEFAULT_CLUSTER_DNS));
    assert.ok(inStaticBand('10.96.0.0/16', '10.96.1.0'));
    assert.ok(!inStaticBand('10.96.0.0/16', '10.96.1.1'));
    assert.ok(!inStaticBand('10.96.0.0/16', '10.96.0.0'), 'the network address is in no band');
  });
});

describe('what a Service asks the allocator for', () => {
  it('on create: an address unless headless or ExternalName, the requested one if any', () => {
    assert.deepEqual(clusterIpRequest(clusterIp()), { allocate: true, requested: undefined });
    assert.deepEqual(clusterIpRequest(clusterIp('10.96.3.3')), { allocate: true, requested: '10.96.3.3' });
    assert.deepEqual(clusterIpRequest(svc({ clusterIP: 'None' })), { allocate: false });
    assert.deepEqual(clusterIpRequest(external()), { allocate: false });
    assert.equal(heldClusterIp(svc({ clusterIP: 'None' })), undefined);
  });
  it('on update: ExternalName → ClusterIP allocates; ClusterIP → ExternalName releases; otherwise nothing', () => {
    assert.deepEqual(clusterIpChange(external(), clusterIp()), { allocate: true });
    assert.deepEqual(clusterIpChange(external(), clusterIp('10.96.3.3')), { allocate: true });
    assert.deepEqual(clusterIpChange(clusterIp('10.96.3.3'), external()), { allocate: false, release: '10.96.3.3' });
    assert.deepEqual(clusterIpChange(clusterIp('10.96.3.3'), clusterIp('10.96.3.3')), { allocate: false });
    assert.deepEqual(clusterIpChange(svc({ clusterIP: 'None' }), svc({ clusterIP: 'None' })), { allocate: false });
    assert.deepEqual(clusterIpChange(external(), external()), { allocate: false });
  });
  it('an update to ExternalName drops the address it had; one to ClusterIP keeps none to carry over', () => {
    const toExternal = prepareForUpdate(services, clusterIp('10.96.3.3'), external());
    assert.equal((toExternal.spec as { clusterIP?: string }).clusterIP, undefined);
    const sameIpKept = prepareForUpdate(services, clusterIp('10.96.3.3'), external({ clusterIP: '10.96.3.3', clusterIPs: ['10.96.3.3'] }));
    assert.equal((sameIpKept.spec as { clusterIPs?: string[] }).clusterIPs, undefined, 'unchanged addresses are dropped, as upstream does');
    const toClusterIp = prepareForUpdate(services, external(), clusterIp());
    assert.equal((toClusterIp.spec as { clusterIP?: string }).clusterIP, undefined);
  });
  it('an ExternalName Service may not carry a clusterIP', () => {
    const causes = validateObject(services, external({ clusterIP: '10.96.3.3' }));
    assert.deepEqual(causes.map((c) => `${c.reason}@${c.field}`), ['FieldValueForbidden@spec.clusterIP']);
    assert.deepEqual(validateObject(services, external()), []);
  });
});

describe('kube-system/kube-dns', () => {
  it('has the DNS address, upstream\'s label and selector, and ports 53/UDP, 53/TCP, 9153/TCP', () => {
    const dns = kubeDnsService('10.96.0.10', new Date('2026-01-01T00:00:00Z'));
    assert.equal(dns.metadata.namespace, 'kube-system');
    assert.equal(dns.metadata.name, 'kube-dns');
    assert.deepEqual(dns.metadata.labels, { 'k8s-app': 'kube-dns' });
    const spec = dns.spec as { clusterIP: string; clusterIPs: string[]; selector: object; type: string; ports: { name: string; port: number; protocol: string }[] };
    assert.equal(spec.clusterIP, '10.96.0.10');
    assert.deepEqual(spec.clusterIPs, ['10.96.0.10']);
    assert.equal(spec.type, 'ClusterIP');
    assert.deepEqual(spec.selector, { 'k8s-app': 'kube-dns' });
    assert.deepEqual(spec.ports.map((p) => `${p.name} ${p.port}/${p.protocol}`), ['dns 53/UDP', 'dns-tcp 53/TCP', 'metrics 9153/TCP']);
    assert.deepEqual(validateObject(services, dns), []);
  });
});

describe('the agent\'s default --cluster-dns', () => {
  it('is the clusterIP of the kube-dns Service, when it has a valid one', () => {
    assert.equal(clusterDnsOf(kubeDnsService('10.100.0.10', new Date())), '10.100.0.10');
    assert.equal(clusterDnsOf(undefined), undefined);
    assert.equal(clusterDnsOf(svc({ clusterIP: 'None' })), undefined);
    assert.equal(clusterDnsOf(svc({})), undefined);
  });
});
