// Registry semantics through HTTP against a real Redis-backed store.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { apiRequest, startTestApiServer, watchEvents, type TestApiServer } from '../helpers/api-server.ts';
import { encodeContinue } from '../../src/api/list-pages.ts';

let api: TestApiServer;
const req = (method: string, path: string, opts: Parameters<typeof apiRequest>[3] = {}) => apiRequest(api, method, path, opts);
const cm = (name: string, extra: Record<string, unknown> = {}) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...extra }, data: { a: '1' } });
const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

before(async () => {
  api = await startTestApiServer({ watchBookmarkIntervalMs: 200, unixSocket: true });
});
after(async () => {
  await api?.stop();
});

describe('api semantics', () => {
  test('default namespaces exist with their label; default cannot be deleted', async () => {
    const list = await req('GET', '/api/v1/namespaces');
    assert.equal(list.status, 200);
    assert.equal(list.body.kind, 'NamespaceList');
    const names = list.body.items.map((n: any) => n.metadata.name).sort();
    assert.deepEqual(names, ['default', 'kube-node-lease', 'kube-public', 'kube-system']);
    for (const ns of list.body.items) {
      assert.equal(ns.metadata.labels['kubernetes.io/metadata.name'], ns.metadata.name);
      assert.equal(ns.status.phase, 'Active');
      assert.equal(ns.kind, 'Namespace');
    }
    const del = await req('DELETE', '/api/v1/namespaces/default');
    assert.equal(del.status, 403);
    assert.equal(del.body.reason, 'Forbidden');
  });

  test('create sets server metadata; get returns it; duplicate is 409 AlreadyExists', async () => {
    const created = await req('POST', '/api/v1/namespaces/default/configmaps', { body: cm('one') });
    assert.equal(created.status, 201);
    const m = created.body.metadata;
    assert.match(m.uid, /^[0-9a-f-]{36}$/);
    assert.match(m.resourceVersion, /^\d+$/);
    assert.ok(!Number.isNaN(Date.parse(m.creationTimestamp)));
    assert.equal(m.namespace, 'default');
    const got = await req('GET', '/api/v1/namespaces/default/configmaps/one');
    assert.deepEqual(got.body, created.body);
    const dup = await req('POST', '/api/v1/namespaces/default/configmaps', { body: cm('one') });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.reason, 'AlreadyExists');
    const missingNs = await req('POST', '/api/v1/namespaces/nope/configmaps', { body: cm('x') });
    assert.equal(missingNs.status, 404);
    assert.equal(missingNs.body.message, 'namespaces "nope" not found');
  });

  test('generateName gives distinct names with a 5-character suffix', async () => {
    const names = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const r = await req('POST', '/api/v1/namespaces/default/configmaps', { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'gen-' } } });
      assert.equal(r.status, 201);
      assert.match(r.body.metadata.name, /^gen-[a-z0-9]{5}$/);
      names.add(r.body.metadata.name);
    }
    assert.equal(names.size, 3);
  });

  test('update: stale resourceVersion 409, unconditional allowed, uid/creationTimestamp kept, generation bumps with spec', async () => {
    const dep = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'upd' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'upd' } }, template: { metadata: { labels: { app: 'upd' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
    };
    const created = await req('POST', '/apis/apps/v1/namespaces/default/deployments', { body: dep });
    assert.equal(created.status, 201);
    assert.equal(created.body.metadata.generation, 1);
    const v1 = created.body;
    const put1 = await req('PUT', '/apis/apps/v1/namespaces/default/deployments/upd', {
      body: { ...v1, metadata: { ...v1.metadata, uid: 'forged', creationTimestamp: '2000-01-01T00:00:00Z' }, spec: { ...v1.spec, replicas: 3 } },
    });
    assert.equal(put1.status, 200);
    assert.equal(put1.body.metadata.uid, v1.metadata.uid);
    assert.equal(put1.body.metadata.creationTimestamp, v1.metadata.creationTimestamp);
    assert.equal(put1.body.metadata.generation, 2);
    const labelsOnly = await req('PUT', '/apis/apps/v1/namespaces/default/deployments/upd', {
      body: { ...put1.body, metadata: { ...put1.body.metadata, labels: { x: 'y' } } },
    });
    assert.equal(labelsOnly.body.metadata.generation, 2);
    const stale = await req('PUT', '/apis/apps/v1/namespaces/default/deployments/upd', { body: { ...v1, spec: { ...v1.spec, replicas: 4 } } });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.reason, 'Conflict');
    const { resourceVersion: _rv, ...noRv } = v1.metadata;
    const unconditional = await req('PUT', '/apis/apps/v1/namespaces/default/deployments/upd', { body: { ...v1, metadata: noRv, spec: { ...v1.spec, replicas: 4 } } });
    assert.equal(unconditional.status, 200);
    assert.equal(unconditional.body.spec.replicas, 4);
  });

  test('status subresource isolation', async () => {
    const dep = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'st', labels: { a: '1' } },
      spec: { replicas: 2, selector: { matchLabels: { app: 'st' } }, template: { metadata: { labels: { app: 'st' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
      status: { replicas: 7 },
    };
    const created = await req('POST', '/apis/apps/v1/namespaces/default/deployments', { body: dep });
    assert.equal(created.status, 201);
    assert.equal(created.body.status?.replicas, undefined, 'status in a create body is ignored');
    const mainPut = await req('PUT', '/apis/apps/v1/namespaces/default/deployments/st', { body: { ...created.body, status: { replicas: 9 } } });
    assert.equal(mainPut.status, 200);
    assert.equal(mainPut.body.status?.replicas, undefined, 'status through the main resource is ignored');
    const statusPut = await req('PUT', '/apis/apps/v1/namespaces/default/deployments/st/status', {
      body: { ...mainPut.body, metadata: { ...mainPut.body.metadata, labels: { a: '2' } }, spec: { ...mainPut.body.spec, replicas: 5 }, status: { replicas: 2, readyReplicas: 1 } },
    });
    assert.equal(statusPut.status, 200);
    assert.deepEqual(statusPut.body.status, { replicas: 2, readyReplicas: 1 });
    assert.equal(statusPut.body.spec.replicas, 2, 'spec not changed through /status');
    assert.deepEqual(statusPut.body.metadata.labels, { a: '1' }, 'labels not changed through /status');
    const statusPatch = await req('PATCH', '/apis/apps/v1/namespaces/default/deployments/st/status', {
      body: { status: { availableReplicas: 1 }, spec: { replicas: 8 } },
      contentType: 'application/merge-patch+json',
    });
    assert.equal(statusPatch.status, 200);
    assert.equal(statusPatch.body.status.availableReplicas, 1);
    assert.equal(statusPatch.body.spec.replicas, 2);
  });

  test('scale subresource', async () => {
    const dep = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'sc' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'sc' } }, template: { metadata: { labels: { app: 'sc' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
    };
    assert.equal((await req('POST', '/apis/apps/v1/namespaces/default/deployments', { body: dep })).status, 201);
    const scale = await req('GET', '/apis/apps/v1/namespaces/default/deployments/sc/scale');
    assert.equal(scale.status, 200);
    assert.equal(scale.body.kind, 'Scale');
    assert.equal(scale.body.apiVersion, 'autoscaling/v1');
    assert.equal(scale.body.spec.replicas, 1);
    assert.equal(scale.body.status.selector, 'app=sc');
    const patched = await req('PATCH', '/apis/apps/v1/namespaces/default/deployments/sc/scale', {
      body: { spec: { replicas: 5 } },
      contentType: 'application/merge-patch+json',
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.spec.replicas, 5);
    const got = await req('GET', '/apis/apps/v1/namespaces/default/deployments/sc');
    assert.equal(got.body.spec.replicas, 5);
    assert.equal(got.body.metadata.generation, 2);
    const put = await req('PUT', '/apis/apps/v1/namespaces/default/deployments/sc/scale', { body: { ...scale.body, spec: { replicas: 3 } } });
    assert.equal(put.status, 409, 'stale resourceVersion in the Scale');
    const neg = await req('PUT', '/apis/apps/v1/namespaces/default/deployments/sc/scale', {
      body: { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'sc' }, spec: { replicas: -1 } },
    });
    assert.equal(neg.status, 422);
  });

  test('binding sets nodeName once; pods/log is a 404 Status', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bindme' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
    assert.equal((await req('POST', '/api/v1/namespaces/default/pods', { body: pod })).status, 201);
    const binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'bindme' }, target: { apiVersion: 'v1', kind: 'Node', name: 'node-1' } };
    const bound = await req('POST', '/api/v1/namespaces/default/pods/bindme/binding', { body: binding });
    assert.equal(bound.status, 201);
    assert.equal(bound.body.kind, 'Status');
    assert.equal(bound.body.status, 'Success');
    const got = await req('GET', '/api/v1/namespaces/default/pods/bindme');
    assert.equal(got.body.spec.nodeName, 'node-1');
    assert.ok(got.body.status.conditions.some((c: any) => c.type === 'PodScheduled' && c.status === 'True'));
    const again = await req('POST', '/api/v1/namespaces/default/pods/bindme/binding', { body: { ...binding, target: { kind: 'Node', name: 'node-2' } } });
    assert.equal(again.status, 409);
    const log = await req('GET', '/api/v1/namespaces/default/pods/bindme/log');
    assert.equal(log.status, 404);
    assert.equal(log.body.kind, 'Status');
  });

  test('finalizers hold deletion, removing them deletes with a DELETED event', async () => {
    const created = await req('POST', '/api/v1/namespaces/default/configmaps', { body: cm('fin', { finalizers: ['example.com/hold'] }) });
    const rv = created.body.metadata.resourceVersion;
    const watch = watchEvents(api, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}&fieldSelector=metadata.name%3Dfin`);
    try {
      const del = await req('DELETE', '/api/v1/namespaces/default/configmaps/fin', { body: { propagationPolicy: 'Background' } });
      assert.equal(del.status, 200);
      assert.ok(del.body.metadata.deletionTimestamp);
      const still = await req('GET', '/api/v1/namespaces/default/configmaps/fin');
      assert.equal(still.status, 200);
      assert.ok(still.body.metadata.deletionTimestamp);
      const released = await req('PATCH', '/api/v1/namespaces/default/configmaps/fin', {
        body: { metadata: { finalizers: null } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(released.status, 200);
      assert.equal((await req('GET', '/api/v1/namespaces/default/configmaps/fin')).status, 404);
      const events = await watch.until((e) => e.some((x) => x.type === 'DELETED'));
      assert.deepEqual(events.map((e) => e.type), ['MODIFIED', 'DELETED']);
      assert.equal(events[1].object.metadata.name, 'fin');
    } finally {
      watch.close();
    }
  });

  test('pods bound to a node are deleted gracefully; the agent finishes with grace 0', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'graceful' }, spec: { nodeName: 'node-1', terminationGracePeriodSeconds: 15, containers: [{ name: 'c', image: 'busybox' }] } };
    assert.equal((await req('POST', '/api/v1/namespaces/default/pods', { body: pod })).status, 201);
    const del = await req('DELETE', '/api/v1/namespaces/default/pods/graceful');
    assert.equal(del.status, 200);
    assert.equal(del.body.metadata.deletionGracePeriodSeconds, 15);
    assert.ok(del.body.metadata.deletionTimestamp);
    assert.equal((await req('GET', '/api/v1/namespaces/default/pods/graceful')).status, 200);
    const fin = await req('DELETE', '/api/v1/namespaces/default/pods/graceful', { body: { gracePeriodSeconds: 0 } });
    assert.equal(fin.status, 200);
    assert.equal((await req('GET', '/api/v1/namespaces/default/pods/graceful')).status, 404);
    const unbound = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unbound' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
    await req('POST', '/api/v1/namespaces/default/pods', { body: unbound });
    assert.equal((await req('DELETE', '/api/v1/namespaces/default/pods/unbound')).status, 200);
    assert.equal((await req('GET', '/api/v1/namespaces/default/pods/unbound')).status, 404);
  });

  test('namespace deletion: Terminating, no new content, finalize removes it', async () => {
    assert.equal((await req('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } } })).status, 201);
    const ns = await req('GET', '/api/v1/namespaces/doomed');
    assert.deepEqual(ns.body.spec.finalizers, ['kubernetes']);
    const del = await req('DELETE', '/api/v1/namespaces/doomed');
    assert.equal(del.status, 200);
    assert.equal(del.body.status.phase, 'Terminating');
    const blocked = await req('POST', '/api/v1/namespaces/doomed/configmaps', { body: cm('late') });
    assert.equal(blocked.status, 403);
    assert.equal(blocked.body.reason, 'Forbidden');
    const finalize = await req('PUT', '/api/v1/namespaces/doomed/finalize', { body: { ...del.body, spec: { finalizers: [] } } });
    assert.equal(finalize.status, 200);
    assert.equal((await req('GET', '/api/v1/namespaces/doomed')).status, 404);
  });

  test('list limit/continue is one consistent snapshot; a garbled token is 400, an expired one 410', async () => {
    await req('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'paging' } } });
    for (let i = 0; i < 5; i++) await req('POST', '/api/v1/namespaces/paging/configmaps', { body: cm(`p${i}`) });
    const first = await req('GET', '/api/v1/namespaces/paging/configmaps?limit=2');
    assert.equal(first.body.items.length, 2);
    assert.equal(first.body.metadata.remainingItemCount, 3);
    assert.ok(first.body.metadata.continue);
    // Created between pages: not part of the snapshot.
    await req('POST', '/api/v1/namespaces/paging/configmaps', { body: cm('p-late') });
    await req('DELETE', '/api/v1/namespaces/paging/configmaps/p4');
    const seen = [...first.body.items];
    let cont = first.body.metadata.continue;
    while (cont) {
      const page = await req('GET', `/api/v1/namespaces/paging/configmaps?limit=2&continue=${encodeURIComponent(cont)}`);
      assert.equal(page.status, 200);
      assert.equal(page.body.metadata.resourceVersion, first.body.metadata.resourceVersion);
      seen.push(...page.body.items);
      cont = page.body.metadata.continue;
    }
    assert.deepEqual(seen.map((o) => o.metadata.name).sort(), ['p0', 'p1', 'p2', 'p3', 'p4']);
    for (const o of seen) assert.equal(o.kind, 'ConfigMap');
    // A token that does not decode is 400 (as kube-apiserver); one for a version the store lacks is 410.
    const garbled = await req('GET', '/api/v1/namespaces/paging/configmaps?limit=2&continue=bogus');
    assert.equal(garbled.status, 400);
    const lost = encodeContinue({ resourceVersion: '999999999', start: 'paging/p1' });
    const expired = await req('GET', `/api/v1/namespaces/paging/configmaps?limit=2&continue=${lost}`);
    assert.equal(expired.status, 410);
    assert.equal(expired.body.reason, 'Expired');
  });

  test('label and field selectors; deletecollection', async () => {
    await req('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'coll' } } });
    for (const [name, tier] of [['a', 'web'], ['b', 'web'], ['c', 'db']]) {
      await req('POST', '/api/v1/namespaces/coll/configmaps', { body: cm(name, { labels: { tier } }) });
    }
    const web = await req('GET', '/api/v1/namespaces/coll/configmaps?labelSelector=tier%3Dweb');
    assert.deepEqual(web.body.items.map((o: any) => o.metadata.name).sort(), ['a', 'b']);
    const byName = await req('GET', '/api/v1/namespaces/coll/configmaps?fieldSelector=metadata.name%3Dc');
    assert.deepEqual(byName.body.items.map((o: any) => o.metadata.name), ['c']);
    const allNs = await req('GET', '/api/v1/configmaps?labelSelector=tier');
    assert.ok(allNs.body.items.length >= 3);
    const badSel = await req('GET', '/api/v1/namespaces/coll/configmaps?fieldSelector=spec.nope%3D1');
    assert.equal(badSel.status, 400);
    const dc = await req('DELETE', '/api/v1/namespaces/coll/configmaps?labelSelector=tier%3Dweb');
    assert.equal(dc.status, 200);
    assert.deepEqual(dc.body.items.map((o: any) => o.metadata.name).sort(), ['a', 'b']);
    const left = await req('GET', '/api/v1/namespaces/coll/configmaps');
    assert.deepEqual(left.body.items.map((o: any) => o.metadata.name), ['c']);
  });

  test('watch from a resourceVersion delivers every change, in order', async () => {
    await req('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'wat' } } });
    const start = (await req('GET', '/api/v1/namespaces/wat/configmaps')).body.metadata.resourceVersion;
    const expected: [string, string][] = [];
    for (let i = 0; i < 10; i++) {
      await req('POST', '/api/v1/namespaces/wat/configmaps', { body: cm(`w${i}`) });
      expected.push(['ADDED', `w${i}`]);
      if (i % 3 === 0) {
        await req('PATCH', `/api/v1/namespaces/wat/configmaps/w${i}`, { body: { data: { b: '2' } }, contentType: 'application/merge-patch+json' });
        expected.push(['MODIFIED', `w${i}`]);
      }
      if (i % 4 === 0) {
        await req('DELETE', `/api/v1/namespaces/wat/configmaps/w${i}`);
        expected.push(['DELETED', `w${i}`]);
      }
    }
    // The changes all happened before the watch started: replayed from history.
    const watch = watchEvents(api, `/api/v1/namespaces/wat/configmaps?watch=1&resourceVersion=${start}`);
    try {
      const events = await watch.until((e) => e.length >= expected.length);
      assert.deepEqual(events.map((e) => [e.type, e.object.metadata.name]), expected);
      const rvs = events.map((e) => Number(e.object.metadata.resourceVersion));
      assert.deepEqual(rvs, [...rvs].sort((a, b) => a - b));
      assert.equal(new Set(rvs).size, rvs.length);
      // And live changes keep coming.
      await req('POST', '/api/v1/namespaces/wat/configmaps', { body: cm('live') });
      const more = await watch.until((e) => e.length > expected.length);
      assert.deepEqual([more[expected.length].type, more[expected.length].object.metadata.name], ['ADDED', 'live']);
    } finally {
      watch.close();
    }
  });

  test('watch without resourceVersion starts with the current objects; timeoutSeconds ends it; selectors filter', async () => {
    await req('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'wat2' } } });
    await req('POST', '/api/v1/namespaces/wat2/configmaps', { body: cm('x1', { labels: { sel: 'yes' } }) });
    await req('POST', '/api/v1/namespaces/wat2/configmaps', { body: cm('x2', { labels: { sel: 'no' } }) });
    const watch = watchEvents(api, '/api/v1/namespaces/wat2/configmaps?watch=true&labelSelector=sel%3Dyes&timeoutSeconds=30');
    try {
      await watch.until((e) => e.length >= 1);
      assert.deepEqual(watch.events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'x1']]);
      // x1 stops matching → DELETED; x2 starts matching → ADDED.
      await req('PATCH', '/api/v1/namespaces/wat2/configmaps/x1', { body: { metadata: { labels: { sel: 'no' } } }, contentType: 'application/merge-patch+json' });
      await req('PATCH', '/api/v1/namespaces/wat2/configmaps/x2', { body: { metadata: { labels: { sel: 'yes' } } }, contentType: 'application/merge-patch+json' });
      const events = await watch.until((e) => e.length >= 3);
      assert.deepEqual(events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'x1'], ['DELETED', 'x1'], ['ADDED', 'x2']]);
    } finally {
      watch.close();
    }
    const short = watchEvents(api, '/api/v1/namespaces/wat2/configmaps?watch=true&timeoutSeconds=1');
    await short.ended;
    assert.ok(short.events.length >= 2);
  });

  test('allowWatchBookmarks brings BOOKMARK events with a resourceVersion', async () => {
    const rv = (await req('GET', '/api/v1/namespaces/default/configmaps')).body.metadata.resourceVersion;
    const watch = watchEvents(api, `/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=${rv}`);
    try {
      const events = await watch.until((e) => e.some((x) => x.type === 'BOOKMARK'));
      const bm = events.find((e) => e.type === 'BOOKMARK')!;
      assert.equal(bm.object.kind, 'ConfigMap');
      assert.equal(bm.object.apiVersion, 'v1');
      assert.match(bm.object.metadata.resourceVersion, /^\d+$/);
      assert.ok(Number(bm.object.metadata.resourceVersion) >= Number(rv));
    } finally {
      watch.close();
    }
  });

  test('Table responses for get, list and watch', async () => {
    const list = await req('GET', '/api/v1/namespaces?limit=500', { accept: TABLE_ACCEPT });
    assert.equal(list.body.kind, 'Table');
    assert.equal(list.body.apiVersion, 'meta.k8s.io/v1');
    assert.equal(list.body.columnDefinitions[0].name, 'Name');
    assert.ok(list.body.rows.length >= 4);
    assert.ok(list.body.metadata.resourceVersion);
    const one = await req('GET', '/api/v1/namespaces/default?includeObject=Object', { accept: TABLE_ACCEPT });
    assert.equal(one.body.kind, 'Table');
    assert.equal(one.body.rows.length, 1);
    assert.equal(one.body.rows[0].object.kind, 'Namespace');
    const rv = list.body.metadata.resourceVersion;
    const watch = watchEvents(api, `/api/v1/namespaces?watch=true&resourceVersion=${rv}`, TABLE_ACCEPT);
    try {
      await req('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tbl' } } });
      const events = await watch.until((e) => e.length >= 1);
      assert.equal(events[0].type, 'ADDED');
      assert.equal(events[0].object.kind, 'Table');
      assert.equal(events[0].object.rows[0].cells[0], 'tbl');
    } finally {
      watch.close();
    }
  });

  test('patch types and server-side apply', async () => {
    const absent = await req('PATCH', '/api/v1/namespaces/default/configmaps/nothere', { body: { data: { a: 'b' } }, contentType: 'application/merge-patch+json' });
    assert.equal(absent.status, 404);
    const noManager = await req('PATCH', '/api/v1/namespaces/default/configmaps/ssa', { body: cm('ssa'), contentType: 'application/apply-patch+yaml' });
    assert.equal(noManager.status, 400);
    assert.match(noManager.body.message, /require fieldManager/);
    const applied = await req('PATCH', '/api/v1/namespaces/default/configmaps/ssa?fieldManager=test', {
      rawBody: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  k: v\n',
      contentType: 'application/apply-patch+yaml',
    });
    assert.equal(applied.status, 201);
    assert.deepEqual(applied.body.data, { k: 'v' });
    const reapplied = await req('PATCH', '/api/v1/namespaces/default/configmaps/ssa?fieldManager=test', {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ssa' }, data: { k: 'v2' } },
      contentType: 'application/apply-patch+yaml',
    });
    assert.equal(reapplied.status, 200);
    assert.equal(reapplied.body.data.k, 'v2');
    const json = await req('PATCH', '/api/v1/namespaces/default/configmaps/ssa', {
      body: [{ op: 'add', path: '/data/j', value: 'p' }],
      contentType: 'application/json-patch+json',
    });
    assert.equal(json.status, 200);
    assert.equal(json.body.data.j, 'p');
    const smp = await req('PATCH', '/api/v1/namespaces/default/configmaps/ssa', { body: { data: { s: 'm' } }, contentType: 'application/strategic-merge-patch+json' });
    assert.equal(smp.status, 200);
    assert.deepEqual(smp.body.data, { k: 'v2', j: 'p', s: 'm' });
    const wrongType = await req('PATCH', '/api/v1/namespaces/default/configmaps/ssa', { body: { data: {} }, contentType: 'text/plain' });
    assert.equal(wrongType.status, 415);
  });

  test('one port speaks http and https; the unix socket speaks http', async () => {
    const fetchVia = (get: typeof httpGet, url: string, opts: Record<string, unknown>) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        get(url, { ...opts, headers: { authorization: `Bearer ${api.token}` } }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        }).on('error', reject);
      });
    const secure = await fetchVia(httpsGet as typeof httpGet, `${api.httpsUrl}/api/v1/namespaces/default`, { ca: api.caCert });
    assert.equal(secure.status, 200);
    assert.equal(secure.body.metadata.name, 'default');
    const unix = await fetchVia(httpGet, 'http://localhost/api/v1/namespaces/default', { socketPath: api.socketPath });
    assert.equal(unix.status, 200);
    assert.equal(unix.body.metadata.uid, secure.body.metadata.uid);
  });

  test('health, version and metrics', async () => {
    for (const p of ['/healthz', '/readyz', '/livez']) {
      const r = await req('GET', p, { token: null });
      assert.equal(r.status, 200);
      assert.equal(r.body, 'ok');
    }
    const version = await req('GET', '/version', { token: null });
    assert.equal(version.status, 200);
    assert.equal(version.body.major, '1');
    const noToken = await req('GET', '/metrics', { token: null });
    assert.equal(noToken.status, 401);
    const metrics = await req('GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /apiserver_request_total\{verb="create",resource="configmaps",code="201"\} \d+/);
    assert.match(metrics.body, /apiserver_request_duration_seconds_bucket\{le="[^"]+",verb="get",resource="configmaps"\}/);
    assert.match(metrics.body, /apiserver_watch_streams \d+/);
    assert.match(metrics.body, /process_cpu_user_seconds_total/);
  });
});
