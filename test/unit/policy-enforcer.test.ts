// The policy part's shell without root: a fake API server behind the agent's
// real informer factory (slim copies), the real bounded-frequency runner and
// the in-memory fake kernel. A new pod is held until its status shows its IP;
// policies, pod labels and namespace labels are programmed live; updates that
// change nothing the semantics read run no sync.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { FakeApiClient } from '../helpers/fake-api-client.ts';
import { InformerFactory } from '../../src/client/informer-factory.ts';
import { SLIM_TRANSFORMS, stripMetadata } from '../../src/client/slim-objects.ts';
import { NETWORKPOLICIES } from '../../src/core/well-known.ts';
import type { KubeObject } from '../../src/core/types.ts';
import { FakeNft } from '../../src/nft/fake.ts';
import { TableOwners } from '../../src/nft/owners.ts';
import { PolicyEnforcer } from '../../src/policy/enforcer.ts';
import { POLICY_TABLE } from '../../src/policy/ruleset.ts';

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300 && !cond(); i++) await sleep(10);
  assert.ok(cond(), what);
}

const ns = (name: string, labels: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
const pod = (namespace: string, name: string, labels: Record<string, string>, node: string, ip?: string): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { namespace, name, labels, uid: `${namespace}-${name}` },
  spec: { nodeName: node, containers: [{ name: 'c', image: 'host' }] },
  status: ip ? { phase: 'Running', podIP: ip, podIPs: [{ ip }] } : { phase: 'Pending' },
});
const policy = (namespace: string, name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace, name }, spec });

test('the enforcer holds new pods, and programs policies, pod labels and namespace labels live', async () => {
  const api = new FakeApiClient();
  api.put('namespaces', ns('web', { team: 'web' }));
  api.put('namespaces', ns('ops', { team: 'ops' }));
  api.put('pods', pod('web', 'a', { app: 'a' }, 'n1', '10.244.1.2'));
  api.put('pods', pod('ops', 'probe', { app: 'probe' }, 'n2', '10.244.2.2'));
  const informers = new InformerFactory({ client: api, transforms: SLIM_TRANSFORMS, defaultTransform: stripMetadata });
  informers.start();
  const nft = new FakeNft();
  const enforcer = new PolicyEnforcer({ informers, nodeName: 'n1', localSubnets: ['10.244.1.0/24'], runner: nft, owners: new TableOwners(), registry: new Registry(), minSyncIntervalMs: 0 });
  const held = () => nft.elements(POLICY_TABLE, 'held')!.join(' ');
  const isolated = () => nft.elements(POLICY_TABLE, 'ingress-isolated')!;
  const admitted = () => nft.elements(POLICY_TABLE, 'ingress-any')!;
  try {
    await enforcer.start();
    await enforcer.programmedOnce();
    await enforcer.idle();
    // Every subnet address but the known pod's is held.
    assert.equal(held(), '10.244.1.0-10.244.1.1 10.244.1.3-10.244.1.255');
    assert.deepEqual(isolated(), []);
    // A new pod without an IP in its status: still held; once its status shows the IP, released.
    api.put('pods', pod('web', 'b', { app: 'b' }, 'n1'));
    await sleep(50);
    assert.match(held(), /10\.244\.1\.3-10\.244\.1\.255/);
    api.put('pods', pod('web', 'b', { app: 'b' }, 'n1', '10.244.1.3'));
    await until(() => held() === '10.244.1.0-10.244.1.1 10.244.1.4-10.244.1.255', 'web/b released');
    // A policy: web/a admits pods of team=ops namespaces.
    api.put(NETWORKPOLICIES, policy('web', 'a-from-ops', { podSelector: { matchLabels: { app: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }] }] }));
    await until(() => isolated().join() === '10.244.1.2', 'web/a isolated');
    await until(() => admitted().join() === '10.244.1.2 . 10.244.2.2', 'ops/probe admitted');
    // The namespace's label changes: ops/probe is no longer admitted.
    api.put('namespaces', ns('ops', { team: 'other' }));
    await until(() => admitted().length === 0, 'namespace label change programmed');
    // An annotation is nothing the semantics read: no sync.
    await enforcer.idle();
    const syncs = enforcer.syncs;
    const a = pod('web', 'a', { app: 'a' }, 'n1', '10.244.1.2');
    api.put('pods', { ...a, metadata: { ...a.metadata, annotations: { note: 'x' } } });
    await sleep(100);
    assert.equal(enforcer.syncs, syncs, 'no sync for an annotation');
    // web/a's label changes: no policy selects it any more.
    api.put('pods', pod('web', 'a', { app: 'x' }, 'n1', '10.244.1.2'));
    await until(() => isolated().length === 0, 'pod label change programmed');
    // Every sync after the first was an element-only transaction.
    for (const t of nft.applied.slice(1)) assert.doesNotMatch(t.text, /(add|delete|flush) (table|chain)/, t.text);
    // The policy goes: nothing isolated, the table stays.
    api.remove(NETWORKPOLICIES, 'web/a-from-ops');
    await enforcer.idle();
    assert.deepEqual(isolated(), []);
  } finally {
    await enforcer.stop();
    await informers.stop();
  }
});

test('a bad local subnet is refused before anything runs', () => {
  const informers = new InformerFactory({ client: new FakeApiClient() });
  assert.throws(() => new PolicyEnforcer({ informers, nodeName: 'n1', localSubnets: ['10.244.1.0/33'], runner: new FakeNft(), owners: new TableOwners() }), /10\.244\.1\.0\/33/);
});
