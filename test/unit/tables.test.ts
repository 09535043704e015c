import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration, tableFor } from '../../src/api/tables.ts';
import { RESOURCES, resourceByGroupResource } from '../../src/core/resources.ts';
import type { KubeObject } from '../../src/core/types.ts';

const now = new Date('2026-03-01T12:00:00Z');
const ago = (seconds: number): string => new Date(now.getTime() - seconds * 1000).toISOString();
const info = (gr: string) => resourceByGroupResource(gr)!;

function names(gr: string, priority: number): string[] {
  return tableFor(info(gr), [], { now })
    .columnDefinitions.filter((c) => c.priority === priority)
    .map((c) => c.name);
}

describe('humanDuration', () => {
  it('formats like kubectl', () => {
    const s = 1000;
    const cases: [number, string][] = [
      [-5 * s, '<invalid>'],
      [-1 * s, '0s'],
      [0, '0s'],
      [5 * s, '5s'],
      [119 * s, '119s'],
      [120 * s, '2m'],
      [182 * s, '3m2s'],
      [9 * 60 * s + 59 * s, '9m59s'],
      [45 * 60 * s, '45m'],
      [179 * 60 * s, '179m'],
      [4 * 3600 * s, '4h'],
      [4 * 3600 * s + 30 * 60 * s, '4h30m'],
      [30 * 3600 * s, '30h'],
      [51 * 3600 * s, '2d3h'],
      [3 * 86400 * s, '3d'],
      [100 * 86400 * s, '100d'],
      [(800 * 86400) * s, '2y70d'],
      [(9 * 365 * 86400) * s, '9y'],
    ];
    for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}ms`);
  });
});

describe('tableFor', () => {
  it('starts every table with the Name column and has an Age column', () => {
    for (const r of RESOURCES) {
      const cols = tableFor(r, [], { now }).columnDefinitions;
      assert.deepEqual(
        { name: cols[0].name, type: cols[0].type, format: cols[0].format, priority: cols[0].priority },
        { name: 'Name', type: 'string', format: 'name', priority: 0 },
        r.resource,
      );
      assert.ok(cols.some((c) => c.name === 'Age' && c.priority === 0), r.resource);
      for (const c of cols) assert.ok(c.description.length > 0, `${r.resource} ${c.name} has a description`);
    }
  });

  it('has the kubectl columns and wide priorities', () => {
    assert.deepEqual(names('pods', 0), ['Name', 'Ready', 'Status', 'Restarts', 'Age']);
    assert.deepEqual(names('pods', 1), ['IP', 'Node', 'Nominated Node', 'Readiness Gates']);
    assert.deepEqual(names('services', 0), ['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age']);
    assert.deepEqual(names('services', 1), ['Selector']);
    assert.deepEqual(names('nodes', 0), ['Name', 'Status', 'Roles', 'Age', 'Version']);
    assert.deepEqual(names('nodes', 1), ['Internal-IP', 'External-IP', 'OS-Image', 'Kernel-Version', 'Container-Runtime']);
    assert.deepEqual(names('endpoints', 0), ['Name', 'Endpoints', 'Age']);
    assert.deepEqual(names('networkpolicies.networking.k8s.io', 0), ['Name', 'Pod-Selector', 'Age']);
    assert.deepEqual(names('deployments.apps', 0), ['Name', 'Ready', 'Up-to-date', 'Available', 'Age']);
    assert.deepEqual(names('deployments.apps', 1), ['Containers', 'Images', 'Selector']);
    assert.deepEqual(names('replicasets.apps', 0), ['Name', 'Desired', 'Current', 'Ready', 'Age']);
    assert.deepEqual(names('replicasets.apps', 1), ['Containers', 'Images', 'Selector']);
    assert.deepEqual(names('namespaces', 0), ['Name', 'Status', 'Age']);
    assert.deepEqual(names('leases.coordination.k8s.io', 0), ['Name', 'Holder', 'Age']);
    assert.deepEqual(names('configmaps', 0), ['Name', 'Data', 'Age']);
  });

  it('prints pod rows, including statuses kubectl derives', () => {
    const pod = (status: Record<string, unknown>, meta: Record<string, unknown> = {}): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-1', namespace: 'default', creationTimestamp: ago(182), ...meta },
      spec: { nodeName: 'node-a', containers: [{ name: 'web' }, { name: 'side' }] },
      status,
    });
    const running = pod({
      phase: 'Running',
      podIP: '10.244.1.5',
      containerStatuses: [
        { name: 'web', ready: true, restartCount: 0, state: { running: {} } },
        { name: 'side', ready: true, restartCount: 2, state: { running: {} }, lastState: { terminated: { finishedAt: ago(300) } } },
      ],
    });
    const t = tableFor(info('pods'), [running], { now, resourceVersion: '42' });
    assert.equal(t.kind, 'Table');
    assert.equal(t.apiVersion, 'meta.k8s.io/v1');
    assert.deepEqual(t.metadata, { resourceVersion: '42' });
    assert.deepEqual(t.rows[0].cells, ['web-1', '2/2', 'Running', '2 (5m ago)', '3m2s', '10.244.1.5', 'node-a', '<none>', '<none>']);

    const status = (p: KubeObject): unknown => tableFor(info('pods'), [p], { now }).rows[0].cells[2];
    assert.equal(status(pod({ phase: 'Pending' })), 'Pending');
    assert.equal(
      status(pod({ phase: 'Running', containerStatuses: [{ name: 'web', ready: false, state: { waiting: { reason: 'CrashLoopBackOff' } } }] })),
      'CrashLoopBackOff',
    );
    assert.equal(status(pod({ phase: 'Failed', containerStatuses: [{ name: 'web', state: { terminated: { exitCode: 3 } } }] })), 'ExitCode:3');
    assert.equal(status(pod({ phase: 'Running' }, { deletionTimestamp: ago(1) })), 'Terminating');
    assert.equal(status(pod({})), 'Unknown');
  });

  it('prints services, nodes, endpoints, deployments, network policies', () => {
    const svc: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', creationTimestamp: ago(4 * 3600) },
      spec: { type: 'NodePort', clusterIP: '10.96.0.10', selector: { tier: 'fe', app: 'web' }, ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }] },
    };
    assert.deepEqual(tableFor(info('services'), [svc], { now }).rows[0].cells, ['web', 'NodePort', '10.96.0.10', '<none>', '80:30080/TCP,53/UDP', '4h', 'app=web,tier=fe']);

    const node: KubeObject = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n1', creationTimestamp: ago(51 * 3600), labels: { 'node-role.kubernetes.io/control-plane': '' } },
      spec: { unschedulable: true },
      status: {
        conditions: [{ type: 'Ready', status: 'True' }],
        addresses: [{ type: 'InternalIP', address: '10.0.0.1' }],
        nodeInfo: { kubeletVersion: 'v1.32.0-meshlet', osImage: 'Debian', kernelVersion: '6.18', containerRuntimeVersion: 'meshlet://0.1' },
      },
    };
    assert.deepEqual(tableFor(info('nodes'), [node], { now }).rows[0].cells, [
      'n1', 'Ready,SchedulingDisabled', 'control-plane', '2d3h', 'v1.32.0-meshlet', '10.0.0.1', '<none>', 'Debian', '6.18', 'meshlet://0.1',
    ]);

    const ep: KubeObject = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'web', creationTimestamp: ago(5) },
      subsets: [{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3' }, { ip: '10.0.0.4' }], ports: [{ port: 80 }] }],
    };
    assert.deepEqual(tableFor(info('endpoints'), [ep], { now }).rows[0].cells, ['web', '10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more...', '5s']);
    const empty: KubeObject = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'e' } };
    assert.deepEqual(tableFor(info('endpoints'), [empty], { now }).rows[0].cells, ['e', '<none>', '<unknown>']);

    const dep: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', creationTimestamp: ago(60) },
      spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { spec: { containers: [{ name: 'web', image: 'nginx:1.25' }, { name: 's', image: 'busybox' }] } } },
      status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
    };
    assert.deepEqual(tableFor(info('deployments.apps'), [dep], { now }).rows[0].cells, ['web', '2/3', 3, 2, '60s', 'web,s', 'nginx:1.25,busybox', 'app=web']);

    const np: KubeObject = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny', creationTimestamp: ago(0) }, spec: { podSelector: {} } };
    assert.deepEqual(tableFor(info('networkpolicies.networking.k8s.io'), [np], { now }).rows[0].cells, ['deny', '<none>', '0s']);
  });

  it('includes the row object as asked', () => {
    const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default', resourceVersion: '3' }, data: { a: '1', b: '2' } };
    const meta = tableFor(info('configmaps'), [cm], { now });
    assert.deepEqual(meta.rows[0].object, { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: cm.metadata });
    assert.deepEqual(meta.rows[0].cells.slice(0, 2), ['c', 2]);
    assert.deepEqual(tableFor(info('configmaps'), [cm], { now, includeObject: 'Object' }).rows[0].object, cm);
    assert.equal('object' in tableFor(info('configmaps'), [cm], { now, includeObject: 'None' }).rows[0], false);
    const headless = tableFor(info('configmaps'), [cm], { now, omitHeaders: true, continue: 'tok' });
    assert.deepEqual(headless.columnDefinitions, []);
    assert.deepEqual(headless.metadata, { continue: 'tok' });
  });
});
