import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults, isDns1123Label, isDns1123Subdomain, unknownTopLevelFields, validateObject } from '../../src/api/validation.ts';
import { resourceByGroupResource, type ResourceInfo } from '../../src/core/resources.ts';
import type { KubeObject, StatusCause } from '../../src/core/types.ts';
import { deploymentFixture } from '../helpers/object-fixtures.ts';

const info = (gr: string): ResourceInfo => resourceByGroupResource(gr)!;
const pods = info('pods');
const services = info('services');
const deployments = info('deployments.apps');
const netpols = info('networkpolicies.networking.k8s.io');

function pod(spec: Record<string, unknown> = {}, name = 'web-1'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 80 }] }], ...spec },
  };
}

function deployment(extra: Record<string, unknown> = {}): KubeObject {
  return deploymentFixture('web', { replicas: 2, container: 'web', image: 'nginx' }, extra);
}

function service(spec: Record<string, unknown>, name = 'web'): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec };
}

function netpol(spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'np', namespace: 'default' }, spec };
}

/** "reason@field" for compact assertions. */
function summary(causes: StatusCause[]): string[] {
  return causes.map((c) => `${c.reason}@${c.field}`);
}

describe('name predicates', () => {
  it('accepts and rejects DNS-1123 labels and subdomains', () => {
    assert.equal(isDns1123Label('web-1'), true);
    assert.equal(isDns1123Label('1abc'), true);
    assert.equal(isDns1123Label('a'.repeat(63)), true);
    assert.equal(isDns1123Label('a'.repeat(64)), false);
    assert.equal(isDns1123Label('Web'), false);
    assert.equal(isDns1123Label('-web'), false);
    assert.equal(isDns1123Label('web-'), false);
    assert.equal(isDns1123Label('a.b'), false);
    assert.equal(isDns1123Label(''), false);
    assert.equal(isDns1123Subdomain('a.b.c'), true);
    assert.equal(isDns1123Subdomain('node-1.example.com'), true);
    assert.equal(isDns1123Subdomain('a..b'), false);
    assert.equal(isDns1123Subdomain(`${'a'.repeat(63)}.`.repeat(4) + 'a'), false, 'over 253 characters');
    assert.equal(isDns1123Subdomain('UPPER.case'), false);
  });
});

describe('validateObject: metadata', () => {
  it('accepts a well-formed pod', () => {
    assert.deepEqual(validateObject(pods, pod()), []);
  });

  it('rejects bad names per kind', () => {
    assert.deepEqual(summary(validateObject(pods, pod({}, 'Web_1'))), ['FieldValueInvalid@metadata.name']);
    assert.deepEqual(validateObject(pods, pod({}, 'web.example')), [], 'pods take subdomains');
    const ns = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    assert.deepEqual(validateObject(info('namespaces'), ns('team-a')), []);
    assert.deepEqual(summary(validateObject(info('namespaces'), ns('team.a'))), ['FieldValueInvalid@metadata.name']);
    const svc = service({ ports: [{ port: 80 }] }, 'web.x');
    assert.deepEqual(summary(validateObject(services, svc)), ['FieldValueInvalid@metadata.name']);
    const missing = pod();
    delete missing.metadata.name;
    assert.deepEqual(summary(validateObject(pods, missing)), ['FieldValueRequired@metadata.name']);
    missing.metadata.generateName = 'web-';
    assert.deepEqual(validateObject(pods, missing), []);
    const causes = validateObject(pods, pod({}, 'Bad'));
    assert.match(causes[0].message!, /^Invalid value: "Bad": a lowercase RFC 1123 subdomain/);
  });

  it('checks namespaces of namespaced and cluster-scoped kinds', () => {
    const p = pod();
    p.metadata.namespace = 'Bad_NS';
    assert.deepEqual(summary(validateObject(pods, p)), ['FieldValueInvalid@metadata.namespace']);
    const node: KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', namespace: 'default' } };
    assert.deepEqual(summary(validateObject(info('nodes'), node)), ['FieldValueForbidden@metadata.namespace']);
  });

  it('checks label keys and values and annotation keys', () => {
    const p = pod();
    p.metadata.labels = { app: 'web', 'example.com/tier': 'front_end.1', empty: '' };
    p.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': '{}' };
    assert.deepEqual(validateObject(pods, p), []);
    for (const [key, value] of [
      ['bad key', 'x'],
      ['-a', 'x'],
      ['a/b/c', 'x'],
      ['Example.com/x', 'x'],
      [`${'k'.repeat(64)}`, 'x'],
      ['ok', 'has space'],
      ['ok', 'v'.repeat(64)],
      ['ok', '-leading'],
    ]) {
      p.metadata.labels = { [key]: value };
      assert.deepEqual(summary(validateObject(pods, p)), ['FieldValueInvalid@metadata.labels'], `${key}=${value}`);
    }
    p.metadata.labels = {};
    p.metadata.annotations = { 'bad key': 'x' };
    assert.deepEqual(summary(validateObject(pods, p)), ['FieldValueInvalid@metadata.annotations']);
  });
});

describe('validateObject: pods', () => {
  it('requires containers, names, images; names must be unique labels', () => {
    assert.deepEqual(summary(validateObject(pods, pod({ containers: [] }))), ['FieldValueRequired@spec.containers']);
    assert.deepEqual(summary(validateObject(pods, pod({ containers: [{ image: 'x' }] }))), ['FieldValueRequired@spec.containers[0].name']);
    assert.deepEqual(summary(validateObject(pods, pod({ containers: [{ name: 'web' }] }))), ['FieldValueRequired@spec.containers[0].image']);
    assert.deepEqual(
      summary(validateObject(pods, pod({ containers: [{ name: 'a', image: 'x' }, { name: 'a', image: 'y' }] }))),
      ['FieldValueDuplicate@spec.containers[1].name'],
    );
    assert.deepEqual(summary(validateObject(pods, pod({ containers: [{ name: 'A_b', image: 'x' }] }))), ['FieldValueInvalid@spec.containers[0].name']);
  });

  it('checks ports, protocols and enums', () => {
    const c = (ports: unknown[]): KubeObject => pod({ containers: [{ name: 'web', image: 'x', ports }] });
    assert.deepEqual(summary(validateObject(pods, c([{ containerPort: 0 }]))), ['FieldValueInvalid@spec.containers[0].ports[0].containerPort']);
    assert.deepEqual(summary(validateObject(pods, c([{ containerPort: 70000 }]))), ['FieldValueInvalid@spec.containers[0].ports[0].containerPort']);
    assert.deepEqual(summary(validateObject(pods, c([{}]))), ['FieldValueRequired@spec.containers[0].ports[0].containerPort']);
    assert.deepEqual(summary(validateObject(pods, c([{ containerPort: 80, protocol: 'ICMP' }]))), [
      'FieldValueNotSupported@spec.containers[0].ports[0].protocol',
    ]);
    assert.deepEqual(summary(validateObject(pods, c([{ containerPort: 80, name: 'http' }, { containerPort: 81, name: 'http' }]))), [
      'FieldValueDuplicate@spec.containers[0].ports[1].name',
    ]);
    assert.deepEqual(summary(validateObject(pods, pod({ restartPolicy: 'Sometimes' }))), ['FieldValueNotSupported@spec.restartPolicy']);
    const causes = validateObject(pods, c([{ containerPort: 80, protocol: 'ICMP' }]));
    assert.equal(causes[0].message, 'Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"');
  });

  it('allows only image, tolerations, activeDeadlineSeconds and nodeName to change on update', () => {
    const old = applyDefaults(pods, pod());
    const newImage = structuredClone(old);
    (newImage.spec as { containers: { image: string }[] }).containers[0].image = 'nginx:2';
    (newImage.spec as Record<string, unknown>).nodeName = 'node-a';
    (newImage.spec as Record<string, unknown>).tolerations = [{ key: 'k', operator: 'Exists' }];
    assert.deepEqual(validateObject(pods, newImage, old), []);
    const newPorts = structuredClone(old);
    (newPorts.spec as { containers: { ports: unknown[] }[] }).containers[0].ports = [{ containerPort: 81, protocol: 'TCP' }];
    assert.deepEqual(summary(validateObject(pods, newPorts, old)), ['FieldValueForbidden@spec']);
  });
});

describe('validateObject: deployments', () => {
  it('accepts a good deployment', () => {
    assert.deepEqual(validateObject(deployments, applyDefaults(deployments, deployment())), []);
  });

  it('requires the selector to match the template labels', () => {
    const d = deployment({ selector: { matchLabels: { app: 'other' } } });
    const causes = validateObject(deployments, d);
    assert.deepEqual(summary(causes), ['FieldValueInvalid@spec.template.metadata.labels']);
    assert.match(causes[0].message!, /`selector` does not match template `labels`/);
    assert.deepEqual(summary(validateObject(deployments, deployment({ selector: undefined }))), ['FieldValueRequired@spec.selector']);
    assert.deepEqual(summary(validateObject(deployments, deployment({ selector: {} }))), ['FieldValueInvalid@spec.selector']);
    assert.deepEqual(
      summary(validateObject(deployments, deployment({ selector: { matchExpressions: [{ key: 'app', operator: 'Maybe' }] } }))),
      ['FieldValueInvalid@spec.selector'],
    );
  });

  it('rejects negative replicas, non-Always restart policy and selector changes', () => {
    assert.deepEqual(summary(validateObject(deployments, deployment({ replicas: -1 }))), ['FieldValueInvalid@spec.replicas']);
    const d = deployment();
    ((d.spec as { template: { spec: Record<string, unknown> } }).template.spec).restartPolicy = 'Never';
    assert.deepEqual(summary(validateObject(deployments, d)), ['FieldValueNotSupported@spec.template.spec.restartPolicy']);
    const old = deployment();
    const changed = deployment({
      selector: { matchLabels: { app: 'web', tier: 'x' } },
      template: { metadata: { labels: { app: 'web', tier: 'x' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } },
    });
    assert.deepEqual(summary(validateObject(deployments, changed, old)), ['FieldValueInvalid@spec.selector']);
    assert.deepEqual(validateObject(deployments, deployment({ replicas: 5 }), old), []);
  });
});

describe('validateObject: services', () => {
  it('checks ports, target ports, node ports and protocols', () => {
    assert.deepEqual(validateObject(services, service({ ports: [{ port: 80, targetPort: 'http' }] })), []);
    assert.deepEqual(summary(validateObject(services, service({ ports: [{ port: 0 }] }))), ['FieldValueInvalid@spec.ports[0].port']);
    assert.deepEqual(summary(validateObject(services, service({ ports: [{ port: 80, targetPort: 70000 }] }))), [
      'FieldValueInvalid@spec.ports[0].targetPort',
    ]);
    assert.deepEqual(summary(validateObject(services, service({ ports: [{ port: 80, targetPort: 'Not_A_Name' }] }))), [
      'FieldValueInvalid@spec.ports[0].targetPort',
    ]);
    // The node port range is the allocator's (test/unit/api-node-ports.test.ts); validation checks the shape.
    assert.deepEqual(summary(validateObject(services, service({ type: 'NodePort', ports: [{ port: 80, nodePort: 70000 }] }))), [
      'FieldValueInvalid@spec.ports[0].nodePort',
    ]);
    assert.deepEqual(summary(validateObject(services, service({ type: 'ClusterIP', ports: [{ port: 80, nodePort: 30080 }] }))), [
      'FieldValueForbidden@spec.ports[0].nodePort',
    ]);
    assert.deepEqual(summary(validateObject(services, service({ type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }], healthCheckNodePort: 30081 }))), [
      'FieldValueInvalid@spec.healthCheckNodePort',
    ], 'a healthCheckNodePort needs externalTrafficPolicy Local');
    assert.deepEqual(validateObject(services, service({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }], healthCheckNodePort: 30081 })), []);
    assert.deepEqual(validateObject(services, service({ type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] })), []);
    assert.deepEqual(summary(validateObject(services, service({ ports: [{ port: 80, protocol: 'HTTP' }] }))), [
      'FieldValueNotSupported@spec.ports[0].protocol',
    ]);
    assert.deepEqual(summary(validateObject(services, service({ ports: [{ port: 80 }, { port: 81 }] }))), [
      'FieldValueRequired@spec.ports[0].name',
      'FieldValueRequired@spec.ports[1].name',
    ]);
    assert.deepEqual(summary(validateObject(services, service({ ports: [] }))), ['FieldValueRequired@spec.ports']);
    assert.deepEqual(validateObject(services, service({ clusterIP: 'None', ports: [] })), [], 'headless services may omit ports');
  });

  it('checks clusterIP syntax and immutability', () => {
    assert.deepEqual(validateObject(services, service({ clusterIP: '10.96.0.10', ports: [{ port: 53 }] })), []);
    assert.deepEqual(validateObject(services, service({ clusterIP: 'fd00::a', clusterIPs: ['fd00::a'], ports: [{ port: 53 }] })), []);
    assert.deepEqual(summary(validateObject(services, service({ clusterIP: '10.96.0', ports: [{ port: 53 }] }))), ['FieldValueInvalid@spec.clusterIP']);
    const old = service({ clusterIP: '10.96.0.10', ports: [{ port: 53 }] });
    assert.deepEqual(summary(validateObject(services, service({ clusterIP: '10.96.0.11', ports: [{ port: 53 }] }), old)), [
      'FieldValueInvalid@spec.clusterIP',
    ]);
    assert.deepEqual(validateObject(services, service({ clusterIP: '10.96.0.10', ports: [{ port: 54 }] }), old), []);
  });
});

describe('validateObject: CIDRs', () => {
  it('checks node podCIDR(s)', () => {
    const node = (spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, spec });
    assert.deepEqual(validateObject(info('nodes'), node({ podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'] })), []);
    assert.deepEqual(summary(validateObject(info('nodes'), node({ podCIDR: '10.244.1.0/33' }))), ['FieldValueInvalid@spec.podCIDR']);
    assert.deepEqual(summary(validateObject(info('nodes'), node({ podCIDR: '10.244.1.0' }))), ['FieldValueInvalid@spec.podCIDR']);
    assert.deepEqual(summary(validateObject(info('nodes'), node({ podCIDRs: ['fd00::/129'] }))), ['FieldValueInvalid@spec.podCIDRs[0]']);
  });

  it('checks NetworkPolicy ipBlocks: cidr syntax and except inside cidr', () => {
    const np = (ipBlock: unknown): KubeObject => netpol({ podSelector: {}, ingress: [{ from: [{ ipBlock }] }] });
    assert.deepEqual(validateObject(netpols, np({ cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] })), []);
    assert.deepEqual(validateObject(netpols, np({ cidr: 'fd00::/48', except: ['fd00:0:0:1::/64'] })), []);
    assert.deepEqual(summary(validateObject(netpols, np({ cidr: '10.0.0.0/8', except: ['192.168.0.0/16'] }))), [
      'FieldValueInvalid@spec.ingress[0].from[0].ipBlock.except[0]',
    ]);
    assert.deepEqual(summary(validateObject(netpols, np({ cidr: '10.0.0.0/8', except: ['10.0.0.0/8'] }))), [
      'FieldValueInvalid@spec.ingress[0].from[0].ipBlock.except[0]',
    ]);
    assert.deepEqual(summary(validateObject(netpols, np({ cidr: '10.0.0.0/8', except: ['fd00::/64'] }))), [
      'FieldValueInvalid@spec.ingress[0].from[0].ipBlock.except[0]',
    ]);
    assert.deepEqual(summary(validateObject(netpols, np({ cidr: 'not-a-cidr' }))), ['FieldValueInvalid@spec.ingress[0].from[0].ipBlock.cidr']);
    assert.deepEqual(
      summary(validateObject(netpols, netpol({ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] }))),
      ['FieldValueForbidden@spec.egress[0].to[0]'],
    );
  });

  it('checks NetworkPolicy ports and policy types', () => {
    assert.deepEqual(
      summary(validateObject(netpols, netpol({ podSelector: {}, ingress: [{ ports: [{ port: 80, endPort: 70 }] }], policyTypes: ['Ingress', 'Sideways'] }))),
      ['FieldValueNotSupported@spec.policyTypes[1]', 'FieldValueInvalid@spec.ingress[0].ports[0].endPort'],
    );
    assert.deepEqual(validateObject(netpols, netpol({ podSelector: {}, ingress: [{ ports: [{ port: 'serve-80-tcp', protocol: 'TCP' }] }] })), []);
  });
});

describe('applyDefaults', () => {
  it('defaults pods and does not change its input', () => {
    const input = pod();
    const out = applyDefaults(pods, input);
    const spec = out.spec as Record<string, unknown>;
    assert.equal(spec.restartPolicy, 'Always');
    assert.equal(spec.terminationGracePeriodSeconds, 30);
    assert.equal(spec.dnsPolicy, 'ClusterFirst');
    assert.equal(spec.schedulerName, 'default-scheduler');
    const c = (spec.containers as Record<string, unknown>[])[0];
    assert.equal(c.imagePullPolicy, 'IfNotPresent');
    assert.deepEqual(c.ports, [{ containerPort: 80, protocol: 'TCP' }]);
    assert.deepEqual(out.status, { phase: 'Pending' });
    assert.equal(input.status, undefined);
    assert.equal((input.spec as Record<string, unknown>).restartPolicy, undefined);
  });

  it('keeps values that are set', () => {
    const out = applyDefaults(pods, pod({ restartPolicy: 'Never' }));
    assert.equal((out.spec as Record<string, unknown>).restartPolicy, 'Never');
  });

  it('defaults services', () => {
    const out = applyDefaults(services, service({ ports: [{ port: 80 }, { port: 53, protocol: 'UDP', targetPort: 5353 }] }));
    const spec = out.spec as Record<string, unknown>;
    assert.equal(spec.type, 'ClusterIP');
    assert.equal(spec.sessionAffinity, 'None');
    assert.deepEqual(spec.ports, [
      { port: 80, protocol: 'TCP', targetPort: 80 },
      { port: 53, protocol: 'UDP', targetPort: 5353 },
    ]);
  });

  it('defaults deployments, their templates, and replicasets', () => {
    const out = applyDefaults(deployments, deployment({ replicas: undefined }));
    const spec = out.spec as Record<string, unknown>;
    assert.equal(spec.replicas, 1);
    assert.deepEqual(spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
    assert.equal(spec.revisionHistoryLimit, 10);
    assert.equal(spec.progressDeadlineSeconds, 600);
    const tmpl = (spec.template as { spec: Record<string, unknown> }).spec;
    assert.equal(tmpl.restartPolicy, 'Always');
    assert.equal(out.status, undefined, 'no pod status on a deployment');
    const recreate = applyDefaults(deployments, deployment({ strategy: { type: 'Recreate' } }));
    assert.deepEqual((recreate.spec as Record<string, unknown>).strategy, { type: 'Recreate' });
    const rs = applyDefaults(info('replicasets.apps'), { ...deployment({ replicas: undefined }), kind: 'ReplicaSet' });
    assert.equal((rs.spec as Record<string, unknown>).replicas, 1);
  });

  it('defaults network policies and namespaces', () => {
    const np = applyDefaults(netpols, netpol({ podSelector: {}, ingress: [{ ports: [{ port: 80 }] }] }));
    assert.deepEqual((np.spec as Record<string, unknown>).policyTypes, ['Ingress']);
    assert.deepEqual((np.spec as { ingress: { ports: unknown[] }[] }).ingress[0].ports, [{ port: 80, protocol: 'TCP' }]);
    const both = applyDefaults(netpols, netpol({ podSelector: {}, egress: [] }));
    assert.deepEqual((both.spec as Record<string, unknown>).policyTypes, ['Ingress', 'Egress']);
    const ns = applyDefaults(info('namespaces'), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } });
    assert.deepEqual(ns.metadata.labels, { 'kubernetes.io/metadata.name': 'team-a' });
    assert.deepEqual(ns.spec, { finalizers: ['kubernetes'] });
    assert.deepEqual(ns.status, { phase: 'Active' });
  });
});

describe('unknownTopLevelFields', () => {
  it('lists fields the kind does not have', () => {
    assert.deepEqual(unknownTopLevelFields(pods, pod()), []);
    const bad = { ...pod(), spex: {}, metadata: { name: 'x', lables: {} } } as unknown as KubeObject;
    assert.deepEqual(unknownTopLevelFields(pods, bad), ['metadata.lables', 'spex']);
    const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: {}, spec: {} };
    assert.deepEqual(unknownTopLevelFields(info('configmaps'), cm), ['spec']);
  });
});
