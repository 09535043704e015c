// @kubernetes/client-node 1.4 against the meshlet API server: CRUD, patch, list, watch.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';

let api: TestApiServer;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;

before(async () => {
  api = await startTestApiServer({ historySize: 20 });
  kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'meshlet', server: api.url, skipTLSVerify: true }],
    users: [{ name: 'admin', token: api.token }],
    contexts: [{ name: 'meshlet', cluster: 'meshlet', user: 'admin' }],
    currentContext: 'meshlet',
  });
  core = kc.makeApiClient(k8s.CoreV1Api);
  apps = kc.makeApiClient(k8s.AppsV1Api);
});
after(async () => {
  await api?.stop();
});

const deployment = (name: string, replicas = 1): k8s.V1Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, labels: { app: name } },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27', ports: [{ containerPort: 80 }] }] } },
  },
});

describe('client-node', () => {
  test('namespaces, pods: create, read, list, delete', async () => {
    const ns = await core.createNamespace({ body: { metadata: { name: 'cn' } } });
    assert.equal(ns.metadata?.name, 'cn');
    assert.equal(ns.status?.phase, 'Active');
    const pod = await core.createNamespacedPod({
      namespace: 'cn',
      body: { metadata: { name: 'p1', labels: { role: 'x' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    });
    assert.ok(pod.metadata?.uid);
    assert.equal(pod.spec?.restartPolicy, 'Always', 'defaults applied');
    const read = await core.readNamespacedPod({ name: 'p1', namespace: 'cn' });
    assert.equal(read.metadata?.resourceVersion, pod.metadata?.resourceVersion);
    const list = await core.listNamespacedPod({ namespace: 'cn', labelSelector: 'role=x' });
    assert.deepEqual(list.items.map((p) => p.metadata?.name), ['p1']);
    assert.ok(list.metadata?.resourceVersion);
    const all = await core.listPodForAllNamespaces();
    assert.ok(all.items.some((p) => p.metadata?.name === 'p1'));
    await core.deleteNamespacedPod({ name: 'p1', namespace: 'cn' });
    await assert.rejects(core.readNamespacedPod({ name: 'p1', namespace: 'cn' }), (err: unknown) => {
      assert.ok(err instanceof k8s.ApiException);
      assert.equal(err.code, 404);
      return true;
    });
  });

  test('deployments: create, strategic and merge patch, scale, conflict error', async () => {
    const created = await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('web', 2) });
    assert.equal(created.spec?.replicas, 2);
    const patched = await apps.patchNamespacedDeployment(
      { name: 'web', namespace: 'default', body: { spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:1.28' }] } } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    const c = patched.spec?.template.spec?.containers[0];
    assert.equal(c?.image, 'nginx:1.28');
    assert.equal(c?.ports?.[0].containerPort, 80, 'strategic merge kept the ports');
    assert.equal(patched.metadata?.generation, 2);
    const merged = await apps.patchNamespacedDeployment(
      { name: 'web', namespace: 'default', body: { metadata: { annotations: { note: 'hi' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    assert.equal(merged.metadata?.annotations?.note, 'hi');
    const scale = await apps.patchNamespacedDeploymentScale(
      { name: 'web', namespace: 'default', body: { spec: { replicas: 4 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    assert.equal(scale.spec?.replicas, 4);
    assert.equal((await apps.readNamespacedDeployment({ name: 'web', namespace: 'default' })).spec?.replicas, 4);
    await assert.rejects(
      apps.replaceNamespacedDeployment({ name: 'web', namespace: 'default', body: created }),
      (err: unknown) => err instanceof k8s.ApiException && err.code === 409,
    );
    await assert.rejects(
      apps.createNamespacedDeployment({ namespace: 'default', body: deployment('web') }),
      (err: unknown) => err instanceof k8s.ApiException && err.code === 409,
    );
  });

  test('watch from a resourceVersion sees ADDED, MODIFIED, DELETED in order', async () => {
    const start = (await core.listNamespacedConfigMap({ namespace: 'default' })).metadata?.resourceVersion;
    const seen: [string, string | undefined][] = [];
    let onDone!: (err: unknown) => void;
    const done = new Promise<unknown>((resolve) => (onDone = resolve));
    let wanted!: () => void;
    const gotAll = new Promise<void>((resolve) => (wanted = resolve));
    const controller = await new k8s.Watch(kc).watch(
      '/api/v1/namespaces/default/configmaps',
      { resourceVersion: start, allowWatchBookmarks: true },
      (phase, obj: k8s.V1ConfigMap) => {
        if (phase === 'BOOKMARK') return;
        seen.push([phase, obj.metadata?.name]);
        if (seen.length === 3) wanted();
      },
      (err) => onDone(err),
    );
    try {
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'w' }, data: { a: '1' } } });
      await core.replaceNamespacedConfigMap({ name: 'w', namespace: 'default', body: { metadata: { name: 'w' }, data: { a: '2' } } });
      await core.deleteNamespacedConfigMap({ name: 'w', namespace: 'default' });
      await gotAll;
      assert.deepEqual(seen, [['ADDED', 'w'], ['MODIFIED', 'w'], ['DELETED', 'w']]);
    } finally {
      controller.abort();
      await done;
    }
  });

  test('a too-old resourceVersion ends the watch with an ERROR 410 event', async () => {
    const old = (await core.listNamespacedConfigMap({ namespace: 'default' })).metadata?.resourceVersion;
    for (let i = 0; i < 40; i++) await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `churn-${i}` } } });
    const events: [string, any][] = [];
    const ended = new Promise<unknown>((resolve) => {
      void new k8s.Watch(kc).watch('/api/v1/namespaces/default/configmaps', { resourceVersion: old }, (phase, obj) => events.push([phase, obj]), resolve);
    });
    await ended;
    assert.equal(events.length, 1);
    assert.equal(events[0][0], 'ERROR');
    assert.equal(events[0][1].code, 410);
    assert.equal(events[0][1].reason, 'Expired');
  });
});
