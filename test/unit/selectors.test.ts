import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatLabelSelector,
  labelSelectorRequirements,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
} from '../../src/core/selectors.ts';
import { KubeError } from '../../src/core/errors.ts';
import { selectableFieldValue, supportedFieldSelectors } from '../../src/api/kinds/index.ts';
import { resourceByGroupResource } from '../../src/core/resources.ts';
import type { KubeObject } from '../../src/core/types.ts';

function badRequest(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KubeError, `expected KubeError, got ${String(err)}`);
    assert.equal(err.reason, 'BadRequest');
    assert.equal(err.code, 400);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

describe('parseLabelSelector', () => {
  it('parses every operator of the string syntax', () => {
    assert.deepEqual(parseLabelSelector('a=b, c==d,e!=f'), [
      { key: 'a', operator: 'In', values: ['b'] },
      { key: 'c', operator: 'In', values: ['d'] },
      { key: 'e', operator: 'NotIn', values: ['f'] },
    ]);
    assert.deepEqual(parseLabelSelector('env in (prod, staging),tier notin (db),app,!legacy,gen>3,size<10'), [
      { key: 'env', operator: 'In', values: ['prod', 'staging'] },
      { key: 'tier', operator: 'NotIn', values: ['db'] },
      { key: 'app', operator: 'Exists', values: [] },
      { key: 'legacy', operator: 'DoesNotExist', values: [] },
      { key: 'gen', operator: 'Gt', values: ['3'] },
      { key: 'size', operator: 'Lt', values: ['10'] },
    ]);
  });

  it('accepts prefixed keys, empty values and an empty selector', () => {
    assert.deepEqual(parseLabelSelector('app.kubernetes.io/name=web,empty='), [
      { key: 'app.kubernetes.io/name', operator: 'In', values: ['web'] },
      { key: 'empty', operator: 'In', values: [''] },
    ]);
    assert.deepEqual(parseLabelSelector(''), []);
    assert.deepEqual(parseLabelSelector('   '), []);
  });

  it('rejects malformed selectors with BadRequest', () => {
    badRequest(() => parseLabelSelector('a in x'), /expected: '\('/);
    badRequest(() => parseLabelSelector('a in (x'), /expected/);
    badRequest(() => parseLabelSelector('a=b,'), /identifier/);
    badRequest(() => parseLabelSelector('=b'), /identifier/);
    badRequest(() => parseLabelSelector('a>x'), /integer/);
    badRequest(() => parseLabelSelector('bad key!=x'), /expected/);
    badRequest(() => parseLabelSelector('-a=b'), /invalid label key "-a"/);
    badRequest(() => parseLabelSelector('a=b c'), /expected: ','/);
    badRequest(() => parseLabelSelector(`a=${'x'.repeat(64)}`), /invalid label value/);
    badRequest(() => parseLabelSelector('!a=b'), /expected/);
  });
});

describe('matchesLabels', () => {
  const labels = { app: 'web', env: 'prod', gen: '5' };
  const m = (sel: string, l: Record<string, string> | undefined = labels): boolean =>
    matchesLabels(parseLabelSelector(sel), l);

  it('matches each operator', () => {
    assert.equal(m(''), true);
    assert.equal(m('', undefined), true);
    assert.equal(m('app=web'), true);
    assert.equal(m('app=db'), false);
    assert.equal(m('app!=db'), true);
    assert.equal(m('missing!=x'), true, 'NotIn matches when the key is absent');
    assert.equal(m('env in (dev,prod)'), true);
    assert.equal(m('env notin (dev,prod)'), false);
    assert.equal(m('app'), true);
    assert.equal(m('nope'), false);
    assert.equal(m('!nope'), true);
    assert.equal(m('!app'), false);
    assert.equal(m('gen>4'), true);
    assert.equal(m('gen>5'), false);
    assert.equal(m('gen<6'), true);
    assert.equal(m('app>1'), false, 'Gt on a non-integer value does not match');
    assert.equal(m('app=web,env=dev'), false, 'requirements are ANDed');
  });
});

describe('labelSelectorRequirements', () => {
  it('turns matchLabels and matchExpressions into requirements', () => {
    const reqs = labelSelectorRequirements({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'env', operator: 'In', values: ['prod'] },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    });
    assert.deepEqual(reqs, [
      { key: 'app', operator: 'In', values: ['web'] },
      { key: 'env', operator: 'In', values: ['prod'] },
      { key: 'legacy', operator: 'DoesNotExist', values: [] },
    ]);
    assert.equal(matchesLabels(reqs, { app: 'web', env: 'prod' }), true);
    assert.equal(matchesLabels(reqs, { app: 'web', env: 'prod', legacy: '' }), false);
    assert.deepEqual(labelSelectorRequirements(null), []);
    assert.deepEqual(labelSelectorRequirements({}), []);
  });

  it('rejects bad operators and value lists', () => {
    badRequest(
      () => labelSelectorRequirements({ matchExpressions: [{ key: 'a', operator: 'Gt' as 'In', values: ['1'] }] }),
      /not a valid label selector operator/,
    );
    badRequest(() => labelSelectorRequirements({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }), /non-empty/);
    badRequest(() => labelSelectorRequirements({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }), /empty/);
    badRequest(() => labelSelectorRequirements({ matchLabels: { 'a b': 'x' } }), /invalid label key/);
  });
});

describe('formatLabelSelector', () => {
  it('formats like LabelSelectorAsSelector().String(), sorted by key', () => {
    assert.equal(formatLabelSelector({ matchLabels: { tier: 'fe', app: 'web' } }), 'app=web,tier=fe');
    assert.equal(
      formatLabelSelector({
        matchLabels: { app: 'web' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['staging', 'prod'] },
          { key: 'zone', operator: 'NotIn', values: ['a'] },
          { key: 'beta', operator: 'Exists' },
          { key: 'old', operator: 'DoesNotExist' },
        ],
      }),
      'app=web,beta,env in (prod,staging),!old,zone notin (a)',
    );
    assert.equal(formatLabelSelector({}), '');
  });

  it('round-trips through parseLabelSelector', () => {
    const sel = { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'env', operator: 'In' as const, values: ['a', 'b'] }] };
    const text = formatLabelSelector(sel);
    const reqs = parseLabelSelector(text);
    assert.equal(matchesLabels(reqs, { app: 'web', env: 'b' }), true);
    assert.equal(matchesLabels(reqs, { app: 'web', env: 'c' }), false);
  });
});

describe('field selectors', () => {
  const pods = resourceByGroupResource('pods')!;
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-1', namespace: 'default' },
    spec: { nodeName: 'node-a', containers: [] },
    status: { phase: 'Running' },
  };

  it('lists the supported fields per resource', () => {
    assert.deepEqual(supportedFieldSelectors(resourceByGroupResource('configmaps')!), ['metadata.name', 'metadata.namespace']);
    const podFields = supportedFieldSelectors(pods);
    for (const f of ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'status.phase', 'status.podIP', 'spec.schedulerName']) {
      assert.ok(podFields.includes(f), f);
    }
    assert.ok(supportedFieldSelectors(resourceByGroupResource('nodes')!).includes('spec.unschedulable'));
    assert.ok(supportedFieldSelectors(resourceByGroupResource('events')!).includes('involvedObject.name'));
  });

  it('parses =, == and != with escapes', () => {
    assert.deepEqual(parseFieldSelector('metadata.name=web-1,spec.nodeName!=node-b,status.phase==Running', supportedFieldSelectors(pods)), [
      { field: 'metadata.name', operator: '=', value: 'web-1' },
      { field: 'spec.nodeName', operator: '!=', value: 'node-b' },
      { field: 'status.phase', operator: '=', value: 'Running' },
    ]);
    assert.deepEqual(parseFieldSelector('metadata.name=a\\,b\\=c', ['metadata.name']), [
      { field: 'metadata.name', operator: '=', value: 'a,b=c' },
    ]);
    assert.deepEqual(parseFieldSelector('spec.nodeName=', supportedFieldSelectors(pods)), [
      { field: 'spec.nodeName', operator: '=', value: '' },
    ]);
    assert.deepEqual(parseFieldSelector('', ['metadata.name']), []);
  });

  it('rejects unsupported fields and malformed terms', () => {
    badRequest(() => parseFieldSelector('spec.foo=bar', supportedFieldSelectors(pods)), /^field label not supported: spec\.foo$/);
    badRequest(() => parseFieldSelector('metadata.name', ['metadata.name']), /field=value/);
    badRequest(() => parseFieldSelector('=x', ['metadata.name']), /empty field/);
  });

  it('reads values and matches', () => {
    const nodes = resourceByGroupResource('nodes')!;
    const events = resourceByGroupResource('events')!;
    const fieldValue = (o: KubeObject, field: string): string =>
      selectableFieldValue(o.kind === 'Node' ? nodes : o.kind === 'Event' ? events : pods, o, field);
    assert.equal(fieldValue(pod, 'metadata.name'), 'web-1');
    assert.equal(fieldValue(pod, 'status.podIP'), '');
    assert.equal(fieldValue(pod, 'spec.containers'), '', 'not a supported field');
    assert.equal(fieldValue(pod, 'spec.hostNetwork'), 'false', 'an unset boolean reads false');
    const node: KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, spec: {} };
    assert.equal(fieldValue(node, 'spec.unschedulable'), 'false');
    assert.equal(fieldValue({ ...node, spec: { unschedulable: true } }, 'spec.unschedulable'), 'true');
    assert.equal(fieldValue(node, 'metadata.namespace'), '');
    const ev: KubeObject = { apiVersion: 'v1', kind: 'Event', metadata: { name: 'e' }, source: { component: 'kubelet' } };
    assert.equal(fieldValue(ev, 'source'), 'kubelet');

    const f = (text: string): boolean => matchesFields(parseFieldSelector(text, supportedFieldSelectors(pods)), pod, fieldValue);
    assert.equal(f('metadata.name=web-1'), true);
    assert.equal(f('metadata.name=web-2'), false);
    assert.equal(f('spec.nodeName!=node-b,status.phase=Running'), true);
    assert.equal(f('spec.nodeName='), false);
    assert.equal(f('status.podIP='), true, 'an absent field equals the empty string');
    assert.equal(matchesFields([], pod, fieldValue), true);
  });
});
