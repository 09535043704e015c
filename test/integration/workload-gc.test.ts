// The garbage collector's three cascades for the workload kinds (DaemonSet,
// StatefulSet, Job, CronJob → Jobs → pods), driven by the real kubectl
// (`kubectl delete --cascade=background|foreground|orphan`) against a real API
// server, Redis and the controller manager. No kubelet: the pods stay Pending
// (DaemonSet pods are bound to a Node object with grace 0, the others are not
// bound), so that deleting one is immediate unless a finalizer holds it.
// Foreground is shown with a dependent held by a finalizer of the test's: the
// owner must wait, marked foregroundDeletion, until that one goes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';
import { kubectlFor } from '../helpers/kubectl.ts';
import { waitFor } from '../helpers/wait.ts';
import { createClient } from '../../src/client/http-client.ts';
import { startControllers } from '../../src/controllers/index.ts';
import { jobFromTemplate } from '../../src/controllers/cronjob.ts';
import type { ApiClient } from '../../src/client/types.ts';
import type { KubeObject } from '../../src/core/types.ts';

const NS = 'default';
const NODE = 'mlt-w4gc-node';
const HOLD = 'mlt-w4gc.test/hold';
/** The kinds a workload's dependents (and theirs) can be. */
const DEPENDENT_KINDS = ['pods', 'jobs.batch', 'controllerrevisions.apps'];

let api: TestApiServer;
let client: ApiClient;
let manager: { stop(): Promise<void> } | undefined;
let work = '';

/** The real kubectl (test/helpers/kubectl.ts), in namespace NS. */
const ok = (args: string[]): Promise<string> => kubectlFor(api.kubeconfigPath, work).ok('-n', NS, ...args);

const podSpec = { terminationGracePeriodSeconds: 0, containers: [{ name: 'main', image: 'busybox', command: ['sleep', '3600'] }] };
const template = (app: string, extra: Record<string, unknown> = {}) => ({ metadata: { labels: { app } }, spec: { ...podSpec, ...extra } });

interface Kind {
  /** kubectl's resource name and the client's group/resource. */
  kubectl: string;
  resource: string;
  manifest: (name: string) => Record<string, unknown>;
  /** Objects made after the owner (kubectl create job --from=cronjob). */
  then?: (name: string) => Promise<void>;
  /** How many direct dependents, and their dependents, it has once settled. */
  children: number;
  grandchildren: number;
}

const KINDS: Record<string, Kind> = {
  DaemonSet: {
    kubectl: 'daemonset',
    resource: 'daemonsets.apps',
    manifest: (name) => ({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name }, spec: { selector: { matchLabels: { app: name } }, template: template(name) } }),
    children: 2, // the pod on the one node and the ControllerRevision
    grandchildren: 0,
  },
  StatefulSet: {
    kubectl: 'statefulset',
    resource: 'statefulsets.apps',
    manifest: (name) => ({
      apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name },
      spec: { serviceName: name, replicas: 2, podManagementPolicy: 'Parallel', selector: { matchLabels: { app: name } }, template: template(name, { nodeSelector: { 'mlt-w4gc': 'nowhere' } }) },
    }),
    children: 3, // two pods and the ControllerRevision
    grandchildren: 0,
  },
  Job: {
    kubectl: 'job',
    resource: 'jobs.batch',
    manifest: (name) => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name }, spec: { completions: 2, parallelism: 2, template: template(name, { restartPolicy: 'Never', nodeSelector: { 'mlt-w4gc': 'nowhere' } }) } }),
    children: 2,
    grandchildren: 0,
  },
  CronJob: {
    kubectl: 'cronjob',
    resource: 'cronjobs.batch',
    // Once a year: the Job is the one the controller would make (jobFromTemplate: controller reference with
    // blockOwnerDeletion). `kubectl create job --from=cronjob/…` names the CronJob without blockOwnerDeletion,
    // so such a Job would not hold a foreground deletion of the CronJob (as upstream).
    manifest: (name) => ({
      apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name },
      spec: { schedule: '0 0 1 1 *', jobTemplate: { spec: { completions: 2, parallelism: 2, template: template(name, { restartPolicy: 'Never', nodeSelector: { 'mlt-w4gc': 'nowhere' } }) } } },
    }),
    then: async (name) => {
      const cronJob = await waitFor(`${name} stored`, async () => (await client.get('cronjobs.batch', NS, name)) ?? undefined);
      await client.create('jobs.batch', jobFromTemplate(cronJob, Date.now()));
    },
    children: 1,
    grandchildren: 2,
  },
};

async function all(): Promise<KubeObject[]> {
  const lists = await Promise.all(DEPENDENT_KINDS.map((gr) => client.list(gr, { namespace: NS })));
  return lists.flatMap((l) => l.items);
}

const ownedBy = (objects: readonly KubeObject[], uid: string): KubeObject[] => objects.filter((o) => o.metadata.ownerReferences?.some((r) => r.uid === uid));
const grOf = (o: KubeObject): string => ({ Pod: 'pods', Job: 'jobs.batch', ControllerRevision: 'controllerrevisions.apps' })[o.kind ?? ''] ?? '';

/** The owner, once its dependents and theirs are all there. */
async function settled(kind: Kind, name: string): Promise<{ owner: KubeObject; children: KubeObject[]; grandchildren: KubeObject[] }> {
  const path = join(work, `${name}.json`);
  writeFileSync(path, JSON.stringify(kind.manifest(name)));
  await ok(['apply', '-f', path]);
  await kind.then?.(name);
  const owner = await waitFor(`${name} stored`, async () => (await client.get(kind.resource, NS, name)) ?? undefined);
  return waitFor(`${name}'s dependents`, async () => {
    const objects = await all();
    const children = ownedBy(objects, owner.metadata.uid!);
    const grandchildren = children.flatMap((c) => ownedBy(objects, c.metadata.uid!));
    return children.length === kind.children && grandchildren.length === kind.grandchildren ? { owner, children, grandchildren } : undefined;
  });
}

const uids = (objects: readonly KubeObject[]): string[] => objects.map((o) => o.metadata.uid!).sort();
const stillThere = async (objects: readonly KubeObject[]): Promise<KubeObject[]> => {
  const wanted = new Set(uids(objects));
  return (await all()).filter((o) => wanted.has(o.metadata.uid!));
};

describe('garbage collection of the workload kinds with kubectl delete --cascade', { concurrency: false }, () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'mlt-w4gc-'));
    api = await startTestApiServer();
    client = createClient({ server: api.url, token: api.token });
    await client.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE } }, spec: {} });
    manager = await startControllers(client, { logger: pino({ level: 'silent' }), identity: 'mlt-w4gc', retryPeriodMs: 200 });
  });

  after(async () => {
    await manager?.stop();
    client?.close();
    await api?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  for (const [kindName, kind] of Object.entries(KINDS)) {
    const base = `mlt-w4gc-${kindName.toLowerCase()}`;

    test(`${kindName}: background deletes the owner at once, then its dependents${kind.grandchildren ? ' and theirs' : ''}`, async () => {
      const { owner, children, grandchildren } = await settled(kind, `${base}-bg`);
      await ok(['delete', kind.kubectl, owner.metadata.name!, '--cascade=background']);
      assert.equal(await client.get(kind.resource, NS, owner.metadata.name!), undefined, 'the owner is gone');
      await waitFor('every dependent collected', async () => ((await stillThere([...children, ...grandchildren])).length === 0 ? true : undefined));
    });

    test(`${kindName}: foreground keeps the owner (foregroundDeletion) until the last blocking dependent is gone`, async () => {
      const { owner, children, grandchildren } = await settled(kind, `${base}-fg`);
      // Hold one pod (the deepest level) with a finalizer of ours.
      const held = [...grandchildren, ...children].find((o) => o.kind === 'Pod')!;
      await client.patch('pods', NS, held.metadata.name!, { metadata: { finalizers: [HOLD] } }, 'merge');
      await ok(['delete', kind.kubectl, owner.metadata.name!, '--cascade=foreground', '--wait=false']);
      // The held pod and what it blocks below the owner (a CronJob's Job) stay; everything else goes first.
      const chain = new Set([held.metadata.uid!, ...(held.metadata.ownerReferences ?? []).map((r) => r.uid)]);
      const others = [...children, ...grandchildren].filter((o) => !chain.has(o.metadata.uid!));
      await waitFor('all but the held chain collected', async () => ((await stillThere(others)).length === 0 ? true : undefined));
      const waiting = await client.get(kind.resource, NS, owner.metadata.name!);
      assert.ok(waiting?.metadata.deletionTimestamp, 'the owner is being deleted');
      assert.ok(waiting.metadata.finalizers?.includes('foregroundDeletion'), 'with the foregroundDeletion finalizer');
      const blocked = await stillThere([...children, ...grandchildren]);
      assert.deepEqual(uids(blocked), [...chain].filter((u) => u !== owner.metadata.uid).sort(), 'only the held chain is left');
      for (const o of blocked) {
        assert.ok(o.metadata.deletionTimestamp, `${o.kind} ${o.metadata.name} is being deleted too`);
        if (o.metadata.uid !== held.metadata.uid) assert.ok(o.metadata.finalizers?.includes('foregroundDeletion'), `${o.kind} ${o.metadata.name} waits in the foreground too`);
      }
      await client.patch('pods', NS, held.metadata.name!, { metadata: { finalizers: null } }, 'merge');
      await waitFor('the owner gone once nothing blocks it', async () => ((await client.get(kind.resource, NS, owner.metadata.name!)) === undefined ? true : undefined));
      assert.deepEqual(await stillThere([...children, ...grandchildren]), [], 'no dependent left');
    });

    test(`${kindName}: orphan deletes the owner and leaves its dependents, without the reference to it`, async () => {
      const { owner, children, grandchildren } = await settled(kind, `${base}-or`);
      await ok(['delete', kind.kubectl, owner.metadata.name!, '--cascade=orphan']);
      assert.equal(await client.get(kind.resource, NS, owner.metadata.name!), undefined, 'the owner is gone');
      const left = await stillThere(children);
      assert.deepEqual(uids(left), uids(children), 'every dependent stays');
      for (const o of left) assert.ok(!o.metadata.ownerReferences?.some((r) => r.uid === owner.metadata.uid), `${o.metadata.name} no longer names the owner`);
      // Their own dependents (a CronJob's Job's pods) keep theirs.
      assert.deepEqual(uids(await stillThere(grandchildren)), uids(grandchildren));
      for (const g of await stillThere(grandchildren)) assert.ok(g.metadata.ownerReferences?.some((r) => left.some((c) => c.metadata.uid === r.uid)));
      // Clean up the orphans (a Job orphaned from its CronJob takes its pods with it).
      for (const o of left) await client.delete(grOf(o), NS, o.metadata.name!, { propagationPolicy: 'Background' });
      await waitFor('orphans cleaned up', async () => ((await stillThere([...children, ...grandchildren])).length === 0 ? true : undefined));
    });
  }
});
