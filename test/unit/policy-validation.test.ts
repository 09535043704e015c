// NetworkPolicy validation: the API's 422 field causes, and every policy of the case files is valid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateNetworkPolicy } from '../../src/policy/validation.ts';
import { parseCaseFile, substitutePodIps, topology } from '../../src/policy/cases.ts';
import type { KubeObject } from '../../src/core/types.ts';

const np = (spec: unknown, annotations?: Record<string, string>): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'p', namespace: 'x', ...(annotations ? { annotations } : {}) },
  spec: spec as Record<string, unknown>,
});
const causes = (spec: unknown, annotations?: Record<string, string>) => validateNetworkPolicy(np(spec, annotations)).map((c) => `${c.reason} ${c.field}`);
const ingressPorts = (ports: unknown[]) => ({ podSelector: {}, ingress: [{ ports }] });
const ingressFrom = (from: unknown[]) => ({ podSelector: {}, ingress: [{ from }] });

test('a full valid policy has no causes', () => {
  assert.deepEqual(
    causes({
      podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['a'] }] },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { pod: 'b' } } }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }], ports: [{ port: 80, endPort: 90 }, { port: 'serve-80-tcp' }, { protocol: 'SCTP' }] }],
      egress: [{}],
    }, { 'meshlet.io/policy-mode': 'audit' }),
    [],
  );
});

test('endPort below port, with a named port, without a port, above 65535', () => {
  assert.deepEqual(causes(ingressPorts([{ port: 90, endPort: 80 }])), ['FieldValueInvalid spec.ingress[0].ports[0].endPort']);
  assert.deepEqual(causes(ingressPorts([{ port: 'http', endPort: 80 }])), ['FieldValueForbidden spec.ingress[0].ports[0].endPort']);
  assert.deepEqual(causes(ingressPorts([{ endPort: 80 }])), ['FieldValueRequired spec.ingress[0].ports[0].port']);
  assert.deepEqual(causes(ingressPorts([{ port: 80, endPort: 70000 }])), ['FieldValueInvalid spec.ingress[0].ports[0].endPort']);
});

test('bad protocol, bad port number, bad port name', () => {
  assert.deepEqual(causes(ingressPorts([{ protocol: 'ICMP' }])), ['FieldValueNotSupported spec.ingress[0].ports[0].protocol']);
  assert.deepEqual(causes(ingressPorts([{ protocol: 'tcp', port: 80 }])), ['FieldValueNotSupported spec.ingress[0].ports[0].protocol']);
  assert.deepEqual(causes(ingressPorts([{ port: 0 }])), ['FieldValueInvalid spec.ingress[0].ports[0].port']);
  assert.deepEqual(causes(ingressPorts([{ port: 'Not_A--Name' }])), ['FieldValueInvalid spec.ingress[0].ports[0].port']);
});

test('bad CIDR, except outside or equal to its CIDR, missing cidr', () => {
  assert.deepEqual(causes(ingressFrom([{ ipBlock: { cidr: '10.0.0.0/33' } }])), ['FieldValueInvalid spec.ingress[0].from[0].ipBlock.cidr']);
  assert.deepEqual(causes(ingressFrom([{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.1.0.0/24'] } }])), ['FieldValueInvalid spec.ingress[0].from[0].ipBlock.except[0]']);
  assert.deepEqual(causes(ingressFrom([{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.0.0/16'] } }])), ['FieldValueInvalid spec.ingress[0].from[0].ipBlock.except[0]']);
  assert.deepEqual(causes(ingressFrom([{ ipBlock: { cidr: '10.0.0.0/16', except: ['nonsense'] } }])), ['FieldValueInvalid spec.ingress[0].from[0].ipBlock.except[0]']);
  assert.deepEqual(causes(ingressFrom([{ ipBlock: {} }])), ['FieldValueRequired spec.ingress[0].from[0].ipBlock.cidr']);
});

test('peers: empty, ipBlock with a selector, bad selector', () => {
  assert.deepEqual(causes(ingressFrom([{}])), ['FieldValueRequired spec.ingress[0].from[0]']);
  assert.deepEqual(causes(ingressFrom([{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }])), ['FieldValueForbidden spec.ingress[0].from[0]']);
  assert.deepEqual(causes(ingressFrom([{ podSelector: { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] } }])), ['FieldValueInvalid spec.ingress[0].from[0].podSelector']);
  assert.deepEqual(causes({ podSelector: {}, egress: [{ to: [{ namespaceSelector: { matchLabels: { 'bad key!': 'v' } } }] }] }), ['FieldValueInvalid spec.egress[0].to[0].namespaceSelector']);
});

test('spec: podSelector required, policyTypes values and duplicates, the mode annotation', () => {
  assert.deepEqual(causes({}), ['FieldValueRequired spec.podSelector']);
  assert.deepEqual(causes({ podSelector: {}, policyTypes: ['Ingress', 'Ingress'] }), ['FieldValueDuplicate spec.policyTypes[1]']);
  assert.deepEqual(causes({ podSelector: {}, policyTypes: ['ingress'] }), ['FieldValueNotSupported spec.policyTypes[0]']);
  assert.deepEqual(causes({ podSelector: {} }, { 'meshlet.io/policy-mode': 'dry-run' }), ['FieldValueNotSupported metadata.annotations[meshlet.io/policy-mode]']);
  const [c] = validateNetworkPolicy(np({ podSelector: {}, ingress: [{ ports: [{ port: 90, endPort: 80 }] }] }));
  assert.equal(c.message, 'Invalid value: 80: must be greater than or equal to `port`');
});

test('every policy in the case files is valid', () => {
  const dir = join(import.meta.dirname, 'policy-cases');
  let n = 0;
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    for (const c of parseCaseFile(readFileSync(join(dir, f), 'utf8'))) {
      for (const s of c.steps) {
        for (const p of substitutePodIps(s.policies, topology())) {
          assert.deepEqual(validateNetworkPolicy(p), [], `${f} ${c.name} ${p.metadata?.name}`);
          n++;
        }
      }
    }
  }
  assert.ok(n >= 30, `${n} policies checked`);
});
