// default/kubernetes, pure parts: the range's first address, the Service and
// its Endpoints/EndpointSlice bodies, and the server's --advertise-address,
// --netns-listen and --lb-pool flags (bad input is a usage error).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstServiceAddress } from '../../src/core/service-cidr.ts';
import { kubernetesEndpointBodies, kubernetesService } from '../../src/api/bootstrap.ts';
import { advertisedAddress, loadBalancerPool, netnsListen } from '../../src/cli/server.ts';
import { parseCommandLine, UsageError, type RunCommand } from '../../src/cli/args.ts';

function server(...args: string[]): RunCommand {
  const parsed = parseCommandLine(['server', ...args]);
  assert.equal(parsed.kind, 'run');
  return parsed as RunCommand;
}

test('the Service CIDR\'s first address', () => {
  assert.equal(firstServiceAddress('10.96.0.0/16'), '10.96.0.1');
  assert.equal(firstServiceAddress('10.0.0.0/24'), '10.0.0.1');
  assert.equal(firstServiceAddress('fd00:10:96::/112'), 'fd00:10:96::1');
});

test('default/kubernetes: 443 https to the advertised port, no selector; endpoints name the server', () => {
  const svc = kubernetesService('10.96.0.1', 6443, new Date(0));
  assert.equal(svc.metadata.namespace, 'default');
  assert.equal(svc.metadata.name, 'kubernetes');
  const spec = svc.spec as { clusterIP: string; selector?: unknown; ports: unknown[] };
  assert.equal(spec.clusterIP, '10.96.0.1');
  assert.equal(spec.selector, undefined);
  assert.deepEqual(spec.ports, [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }]);
  const { endpoints, slice } = kubernetesEndpointBodies({ ip: '172.31.0.2', port: 6443 });
  assert.deepEqual(endpoints.subsets, [{ addresses: [{ ip: '172.31.0.2' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }]);
  assert.equal(slice.metadata.labels?.['kubernetes.io/service-name'], 'kubernetes');
  assert.equal(slice.addressType, 'IPv4');
  assert.deepEqual(slice.endpoints, [{ addresses: ['172.31.0.2'], conditions: { ready: true, serving: true, terminating: false } }]);
  assert.equal(kubernetesEndpointBodies({ ip: 'fd00::2', port: 443 }).slice.addressType, 'IPv6');
});

test('server flags: --advertise-address, --netns-listen, --lb-pool', () => {
  const bound = { host: '127.0.0.1', port: 6443 };
  assert.equal(advertisedAddress(server(), bound), undefined, 'loopback is not advertised');
  assert.equal(advertisedAddress(server(), { host: '0.0.0.0', port: 6443 }), undefined, 'neither is any');
  assert.deepEqual(advertisedAddress(server(), { host: '192.168.1.5', port: 6443 }), { ip: '192.168.1.5', port: 6443 });
  assert.deepEqual(advertisedAddress(server('--advertise-address', '172.31.0.2'), bound), { ip: '172.31.0.2', port: 6443 });
  assert.deepEqual(advertisedAddress(server('--advertise-address', '172.31.0.2:7443'), bound), { ip: '172.31.0.2', port: 7443 });
  assert.throws(() => advertisedAddress(server('--advertise-address', 'api.example:443'), bound), UsageError);
  assert.deepEqual(netnsListen(server('--netns-listen', 'ml-x-ul=172.31.0.2:6443')), { netns: 'ml-x-ul', host: '172.31.0.2', port: 6443 });
  assert.equal(netnsListen(server()), undefined);
  assert.throws(() => netnsListen(server('--netns-listen', '172.31.0.2:6443')), UsageError);
  assert.throws(() => netnsListen(server('--netns-listen', 'ns=host:6443')), UsageError);
  assert.throws(() => netnsListen(server('--netns-listen', '../x=172.31.0.2:6443')), UsageError);
  assert.deepEqual(loadBalancerPool(server('--lb-pool', '10.0.0.0/30,10.1.0.1-10.1.0.2', '--lb-pool', '10.2.0.9-10.2.0.9'))?.text, ['10.0.0.0/30', '10.1.0.1-10.1.0.2', '10.2.0.9-10.2.0.9']);
  assert.equal(loadBalancerPool(server()), undefined);
  assert.throws(() => loadBalancerPool(server('--lb-pool', '10.0.0.0/24,10.0.0.5-10.0.0.6')), UsageError);
});
