// Service environment variables (src/kubelet/service-env.ts) against the
// outputs upstream documents: the Kubernetes docs' redis-primary example
// (concepts/services-networking/service, "Environment variables") and the
// cases of pkg/kubelet/envvars (named and unnamed ports, UDP/SCTP, IPv6
// brackets, headless and empty ClusterIPs skipped), plus the kubelet's choice
// of Services (default/kubernetes always, enableServiceLinks) and the
// container's own env winning (container-plan.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { envVariableName, podServiceEnv, serviceEnvVars, type EnvService } from '../../src/kubelet/service-env.ts';
import { resolveEnv } from '../../src/kubelet/container-plan.ts';
import type { KubeletPod } from '../../src/kubelet/pod-spec.ts';

function svc(namespace: string, name: string, clusterIP: string, ports: { name?: string; port: number; protocol?: string }[]): EnvService {
  return { metadata: { name, namespace }, spec: { clusterIP, ports } };
}

test('the documented redis-primary example', () => {
  const vars = serviceEnvVars([svc('default', 'redis-primary', '10.0.0.11', [{ port: 6379, protocol: 'TCP' }])]);
  assert.deepEqual(vars.map((v) => `${v.name}=${v.value}`), [
    'REDIS_PRIMARY_SERVICE_HOST=10.0.0.11',
    'REDIS_PRIMARY_SERVICE_PORT=6379',
    'REDIS_PRIMARY_PORT=tcp://10.0.0.11:6379',
    'REDIS_PRIMARY_PORT_6379_TCP=tcp://10.0.0.11:6379',
    'REDIS_PRIMARY_PORT_6379_TCP_PROTO=tcp',
    'REDIS_PRIMARY_PORT_6379_TCP_PORT=6379',
    'REDIS_PRIMARY_PORT_6379_TCP_ADDR=10.0.0.11',
  ]);
});

test('named ports, the first port as _PORT, UDP, SCTP, IPv6 in brackets, no ClusterIP skipped', () => {
  const vars = serviceEnvVars([
    svc('ns', 'abc-123', '5.6.7.8', [{ name: 'u-d-p', port: 8081, protocol: 'UDP' }, { name: 't-c-p', port: 8081, protocol: 'TCP' }]),
    svc('ns', 'q-u-u-x', '9.8.7.6', [{ port: 8082 }, { name: '8083', port: 8083, protocol: 'TCP' }]),
    svc('ns', 'svrc-clusterip-none', 'None', [{ port: 8082 }]),
    svc('ns', 'svrc-clusterip-empty', '', [{ port: 8082 }]),
    svc('ns', 'super-ipv6', '2001:DB8::', [{ name: 'u-d-p', port: 8084, protocol: 'UDP' }]),
    svc('ns', 'sctp-1', '1.2.3.4', [{ name: 's-c-t-p', port: 7777, protocol: 'SCTP' }]),
  ]);
  assert.deepEqual(vars.map((v) => `${v.name}=${v.value}`), [
    'ABC_123_SERVICE_HOST=5.6.7.8',
    'ABC_123_SERVICE_PORT=8081',
    'ABC_123_SERVICE_PORT_U_D_P=8081',
    'ABC_123_SERVICE_PORT_T_C_P=8081',
    'ABC_123_PORT=udp://5.6.7.8:8081',
    'ABC_123_PORT_8081_UDP=udp://5.6.7.8:8081',
    'ABC_123_PORT_8081_UDP_PROTO=udp',
    'ABC_123_PORT_8081_UDP_PORT=8081',
    'ABC_123_PORT_8081_UDP_ADDR=5.6.7.8',
    'ABC_123_PORT_8081_TCP=tcp://5.6.7.8:8081',
    'ABC_123_PORT_8081_TCP_PROTO=tcp',
    'ABC_123_PORT_8081_TCP_PORT=8081',
    'ABC_123_PORT_8081_TCP_ADDR=5.6.7.8',
    'Q_U_U_X_SERVICE_HOST=9.8.7.6',
    'Q_U_U_X_SERVICE_PORT=8082',
    'Q_U_U_X_SERVICE_PORT_8083=8083',
    'Q_U_U_X_PORT=tcp://9.8.7.6:8082',
    'Q_U_U_X_PORT_8082_TCP=tcp://9.8.7.6:8082',
    'Q_U_U_X_PORT_8082_TCP_PROTO=tcp',
    'Q_U_U_X_PORT_8082_TCP_PORT=8082',
    'Q_U_U_X_PORT_8082_TCP_ADDR=9.8.7.6',
    'Q_U_U_X_PORT_8083_TCP=tcp://9.8.7.6:8083',
    'Q_U_U_X_PORT_8083_TCP_PROTO=tcp',
    'Q_U_U_X_PORT_8083_TCP_PORT=8083',
    'Q_U_U_X_PORT_8083_TCP_ADDR=9.8.7.6',
    'SUPER_IPV6_SERVICE_HOST=2001:DB8::',
    'SUPER_IPV6_SERVICE_PORT=8084',
    'SUPER_IPV6_SERVICE_PORT_U_D_P=8084',
    'SUPER_IPV6_PORT=udp://[2001:DB8::]:8084',
    'SUPER_IPV6_PORT_8084_UDP=udp://[2001:DB8::]:8084',
    'SUPER_IPV6_PORT_8084_UDP_PROTO=udp',
    'SUPER_IPV6_PORT_8084_UDP_PORT=8084',
    'SUPER_IPV6_PORT_8084_UDP_ADDR=2001:DB8::',
    'SCTP_1_SERVICE_HOST=1.2.3.4',
    'SCTP_1_SERVICE_PORT=7777',
    'SCTP_1_SERVICE_PORT_S_C_T_P=7777',
    'SCTP_1_PORT=sctp://1.2.3.4:7777',
    'SCTP_1_PORT_7777_SCTP=sctp://1.2.3.4:7777',
    'SCTP_1_PORT_7777_SCTP_PROTO=sctp',
    'SCTP_1_PORT_7777_SCTP_PORT=7777',
    'SCTP_1_PORT_7777_SCTP_ADDR=1.2.3.4',
  ]);
  assert.equal(envVariableName('my-svc-2'), 'MY_SVC_2');
});

const cache: EnvService[] = [
  svc('default', 'kubernetes', '10.96.0.1', [{ name: 'https', port: 443, protocol: 'TCP' }]),
  svc('default', 'other', '10.96.0.7', [{ port: 80 }]),
  svc('shop', 'cart', '10.96.3.4', [{ name: 'http', port: 8080 }]),
  svc('shop', 'headless', 'None', [{ port: 80 }]),
];

test('a pod gets default/kubernetes and its own namespace\'s Services; enableServiceLinks: false leaves only KUBERNETES_', () => {
  const names = (env: Record<string, string>): string[] => [...new Set(Object.keys(env).map((k) => k.split('_')[0]))].sort();
  assert.deepEqual(names(podServiceEnv(cache, 'shop', undefined)), ['CART', 'KUBERNETES']);
  assert.deepEqual(names(podServiceEnv(cache, 'shop', true)), ['CART', 'KUBERNETES']);
  assert.deepEqual(names(podServiceEnv(cache, 'default', true)), ['KUBERNETES', 'OTHER']);
  const off = podServiceEnv(cache, 'shop', false);
  assert.deepEqual(names(off), ['KUBERNETES']);
  assert.equal(off.KUBERNETES_SERVICE_HOST, '10.96.0.1');
  assert.equal(off.KUBERNETES_SERVICE_PORT, '443');
  assert.equal(off.KUBERNETES_SERVICE_PORT_HTTPS, '443');
  assert.equal(off.KUBERNETES_PORT_443_TCP, 'tcp://10.96.0.1:443');
  // A Service named kubernetes in the pod's own namespace takes default's place.
  const own = podServiceEnv([...cache, svc('shop', 'kubernetes', '10.96.9.9', [{ port: 8443 }])], 'shop', true);
  assert.equal(own.KUBERNETES_SERVICE_HOST, '10.96.9.9');
});

test('the container\'s own env wins, and may refer to Service variables with $(VAR)', () => {
  const pod: KubeletPod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'shop', uid: 'u1' }, spec: { containers: [] } };
  const container = { name: 'c', command: ['true'], env: [{ name: 'CART_SERVICE_PORT', value: 'mine' }, { name: 'CART_URL', value: 'http://$(CART_SERVICE_HOST):$(CART_SERVICE_PORT_HTTP)' }] };
  const { env } = resolveEnv(pod, container, { nodeName: 'n1' }, 'p', podServiceEnv(cache, 'shop', undefined));
  assert.equal(env.CART_SERVICE_PORT, 'mine');
  assert.equal(env.CART_URL, 'http://10.96.3.4:8080');
  assert.equal(env.CART_SERVICE_HOST, '10.96.3.4');
  assert.equal(env.KUBERNETES_SERVICE_HOST, '10.96.0.1');
  assert.equal(env.HOSTNAME, 'p');
});
