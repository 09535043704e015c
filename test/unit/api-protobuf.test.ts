// The protobuf codec, object shapes and type table (issue 10 §1, §5, §7's
// "adding a kind adds it to the protobuf and OpenAPI data").
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RESOURCES, apiVersionOf } from '../../src/core/resources.ts';
import type { JsonObject } from '../../src/core/types.ts';
import { decodeKubeProtobuf, encodeKubeProtobuf } from '../../src/api/protobuf/codec.ts';
import { goDuration, parseGoDuration } from '../../src/api/protobuf/duration.ts';
import { unknownFields, upstreamShape } from '../../src/api/protobuf/object-shape.ts';
import { TYPE_DATA, messageForKind } from '../../src/api/protobuf/type-data.ts';
import { openApiV2Document, openApiV3Document } from '../../src/api/openapi.ts';
import { schemaName } from '../../src/api/openapi-schemas.ts';
import { acceptsOnlyProtobuf } from '../../src/api/http-io.ts';
import { queryFlag } from '../../src/api/query-params.ts';

const meta = (name: string, extra: JsonObject = {}): JsonObject => ({
  name,
  namespace: 'default',
  uid: '6f9a1c1e-0000-4000-8000-000000000001',
  resourceVersion: '42',
  generation: 3,
  creationTimestamp: '2024-05-06T07:08:09Z',
  labels: { app: 'web', 'example.com/tier': 'front' },
  annotations: { note: 'a "quoted" value' },
  ...extra,
});

/** One manifest per served kind (and a few meta kinds), exercising every special encoding. */
const CORPUS: JsonObject[] = [
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta('p', {
      deletionTimestamp: '2024-05-06T08:00:00Z',
      deletionGracePeriodSeconds: 0,
      finalizers: ['example.com/keep'],
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u-1', controller: true, blockOwnerDeletion: true }],
      managedFields: [{ manager: 'kubectl', operation: 'Apply', apiVersion: 'v1', time: '2024-05-06T07:08:09Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } } } }],
    }),
    spec: {
      containers: [
        {
          name: 'web',
          image: 'nginx',
          command: ['sh', '-c'],
          args: ['sleep 1000'],
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          env: [
            { name: 'A', value: 'b' },
            { name: 'FROM_CM', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k', optional: false } } },
            { name: 'POD_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
          ],
          resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '100m' } },
          livenessProbe: { httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP' }, periodSeconds: 5, failureThreshold: 2 },
          readinessProbe: { tcpSocket: { port: 8080 }, initialDelaySeconds: 1 },
          startupProbe: { exec: { command: ['true'] } },
          volumeMounts: [{ name: 'cfg', mountPath: '/cfg', readOnly: true }],
          securityContext: { runAsUser: 0, privileged: false },
        },
      ],
      volumes: [
        { name: 'cfg', configMap: { name: 'cm', items: [{ key: 'k', path: 'k.txt' }], defaultMode: 420 } },
        { name: 'scratch', emptyDir: { sizeLimit: '1Gi' } },
        { name: 'both', projected: { sources: [{ configMap: { name: 'cm' } }, { downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } }] } },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      nodeName: 'n1',
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 10 }],
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }] } } },
      hostNetwork: true,
      imagePullSecrets: [{ name: 'regcred' }],
    },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-05-06T07:09:00Z' }],
      podIP: '10.244.1.5',
      podIPs: [{ ip: '10.244.1.5' }],
      startTime: '2024-05-06T07:08:10Z',
      containerStatuses: [{ name: 'web', ready: true, restartCount: 2, image: 'nginx', imageID: '', started: true, state: { running: { startedAt: '2024-05-06T07:08:11Z' } }, lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: null, finishedAt: '2024-05-06T07:08:10Z' } } }],
    },
  },
  { apiVersion: 'v1', kind: 'Namespace', metadata: meta('ns', { namespace: '' }), spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } },
  {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: meta('n1', { namespace: '' }),
    spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'], unschedulable: true, taints: [{ key: 'k', value: 'v', effect: 'NoExecute', timeAdded: '2024-05-06T07:08:09Z' }] },
    status: {
      capacity: { cpu: '2', memory: '4Gi', pods: '110' },
      allocatable: { cpu: '1900m', memory: '3.5Gi' },
      conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2024-05-06T07:08:09Z', lastTransitionTime: '2024-05-06T07:08:09Z', reason: 'KubeletReady', message: 'ok' }],
      addresses: [{ type: 'InternalIP', address: '172.31.0.11' }],
      nodeInfo: { machineID: 'm', systemUUID: 's', bootID: 'b', kernelVersion: '6', osImage: 'Debian', containerRuntimeVersion: 'meshlet', kubeletVersion: 'v1.32.0', kubeProxyVersion: '', operatingSystem: 'linux', architecture: 'amd64' },
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('svc'),
    spec: {
      type: 'NodePort',
      selector: { app: 'web' },
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 'http', nodePort: 30080 }, { name: 'dns', protocol: 'UDP', port: 53, targetPort: 5353 }],
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
      externalTrafficPolicy: 'Local',
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
    },
    status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } },
  },
  {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: meta('svc'),
    subsets: [{ addresses: [{ ip: '10.244.1.5', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'p', uid: 'u' } }], notReadyAddresses: [{ ip: '10.244.1.6' }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }],
  },
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('cm'), data: { a: 'b', multi: 'line 1\nline 2\n' }, binaryData: { bin: Buffer.from([0, 1, 2, 255]).toString('base64') }, immutable: false },
  {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: meta('p.17'),
    involvedObject: { kind: 'Pod', namespace: 'default', name: 'p', uid: 'u', apiVersion: 'v1', resourceVersion: '42', fieldPath: 'spec.containers{web}' },
    reason: 'Started',
    message: 'Started container web',
    source: { component: 'kubelet', host: 'n1' },
    firstTimestamp: '2024-05-06T07:08:09Z',
    lastTimestamp: '2024-05-06T07:08:19Z',
    count: 2,
    type: 'Normal',
    eventTime: '2024-05-06T07:08:09.123456Z',
    series: { count: 3, lastObservedTime: '2024-05-06T07:08:19.000001Z' },
    reportingComponent: 'kubelet',
    reportingInstance: 'n1',
  },
  {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: meta('svc-abc'),
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.244.1.5'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'n1', targetRef: { kind: 'Pod', name: 'p' }, hints: { forZones: [{ name: 'a' }] } }],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP', appProtocol: 'http' }],
  },
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta('np'),
    spec: {
      podSelector: { matchLabels: { app: 'web' } },
      ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] } }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }], ports: [{ protocol: 'TCP', port: 'http' }, { port: 8000, endPort: 8080 }] }],
      egress: [{ to: [{ namespaceSelector: {} }] }],
      policyTypes: ['Ingress', 'Egress'],
    },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta('web'),
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      paused: true,
    },
    status: { observedGeneration: 3, replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, conditions: [{ type: 'Available', status: 'True', lastUpdateTime: '2024-05-06T07:08:09Z', lastTransitionTime: '2024-05-06T07:08:09Z', reason: 'MinimumReplicasAvailable', message: 'ok' }] },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: meta('web-5d8', { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'u-2', controller: true }] }),
    spec: { replicas: 2, minReadySeconds: 5, selector: { matchLabels: { app: 'web', 'pod-template-hash': '5d8' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } } },
    status: { replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 2, observedGeneration: 1 },
  },
  {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: meta('n1'),
    spec: { holderIdentity: 'n1', leaseDurationSeconds: 40, acquireTime: '2024-05-06T07:08:09.000000Z', renewTime: '2024-05-06T07:08:19.654321Z', leaseTransitions: 0 },
  },
  {
    apiVersion: 'v1',
    kind: 'ConfigMapList',
    metadata: { resourceVersion: '7', continue: 'tok', remainingItemCount: 3 },
    items: [{ metadata: { name: 'a', namespace: 'default' }, data: { x: 'y' } }],
  },
  { apiVersion: 'v1', kind: 'Status', metadata: {}, status: 'Failure', message: 'nope', reason: 'Invalid', details: { name: 'x', kind: 'pods', causes: [{ reason: 'FieldValueRequired', message: 'm', field: 'spec.containers' }] }, code: 422 },
  { apiVersion: 'v1', kind: 'WatchEvent', type: 'ADDED', object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' }, data: { x: 'y' } } },
  { apiVersion: 'v1', kind: 'Binding', metadata: meta('p'), target: { kind: 'Node', name: 'n1' } },
  { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: meta('web'), spec: { replicas: 5 }, status: { replicas: 2, selector: 'app=web' } },
  { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, propagationPolicy: 'Foreground', preconditions: { uid: 'u' }, dryRun: ['All'] },
];

describe('protobuf codec', () => {
  it('decodes the body kubectl create configmap sends (captured) into the JSON kubectl would send', () => {
    const hex = '6b387300 0a0f0a027631 1209436f6e6669674d6170 121b 0a11 0a0178 1200 1a00 2200 2a00 3200 3800 4200 1206 0a0161 120162 1a00 2200';
    assert.deepEqual(decodeKubeProtobuf(Buffer.from(hex.replace(/ /g, ''), 'hex')), {
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { name: 'x', creationTimestamp: null },
      data: { a: 'b' },
    });
  });

  for (const obj of CORPUS) {
    it(`round-trips ${obj.apiVersion} ${obj.kind}: JSON → protobuf → JSON is the identity`, () => {
      const shaped = upstreamShape(obj);
      const bytes = encodeKubeProtobuf(shaped);
      assert.deepEqual(decodeKubeProtobuf(bytes), shaped);
      assert.deepEqual(unknownFields(obj), [], 'the corpus uses only real fields');
    });
  }

  it('keeps the special encodings exact', () => {
    const cm = decodeKubeProtobuf(encodeKubeProtobuf(CORPUS.find((o) => o.kind === 'ConfigMap')!));
    assert.deepEqual(Buffer.from(String((cm.binaryData as JsonObject).bin), 'base64'), Buffer.from([0, 1, 2, 255]));
    const pod = decodeKubeProtobuf(encodeKubeProtobuf(CORPUS[0]));
    const c = (pod.spec as { containers: JsonObject[] }).containers[0];
    assert.equal((c.livenessProbe as { httpGet: { port: unknown } }).httpGet.port, 'http', 'IntOrString string; Probe.handler flattened');
    assert.equal((c.readinessProbe as { tcpSocket: { port: unknown } }).tcpSocket.port, 8080, 'IntOrString int');
    assert.deepEqual((c.resources as JsonObject).limits, { cpu: '500m', memory: '128Mi' }, 'Quantity');
    const vol = (pod.spec as { volumes: JsonObject[] }).volumes[0];
    assert.deepEqual(vol.configMap, { name: 'cm', items: [{ key: 'k', path: 'k.txt' }], defaultMode: 420 }, 'VolumeSource and localObjectReference flattened');
    assert.equal((pod.metadata as JsonObject).deletionGracePeriodSeconds, 0, 'a pointer field set to zero stays');
    const mf = ((pod.metadata as JsonObject).managedFields as JsonObject[])[0];
    assert.deepEqual(mf.fieldsV1, { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } } }, 'FieldsV1 raw JSON');
    const lease = decodeKubeProtobuf(encodeKubeProtobuf(CORPUS.find((o) => o.kind === 'Lease')!));
    assert.equal((lease.spec as JsonObject).renewTime, '2024-05-06T07:08:19.654321Z', 'MicroTime');
    const ev = decodeKubeProtobuf(encodeKubeProtobuf(CORPUS.find((o) => o.kind === 'WatchEvent')!));
    assert.deepEqual(ev.object, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' }, data: { x: 'y' } }, 'RawExtension');
  });

  it('rejects bodies that do not decode with a 400', () => {
    for (const bad of [Buffer.from('{"kind":"Pod"}'), Buffer.from('k8s\u0000\u0012\u00ff', 'binary'), encodeKubeProtobuf({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }).subarray(0, 12)]) {
      assert.throws(() => decodeKubeProtobuf(bad), (e: unknown) => (e as { code?: number }).code === 400);
    }
    const unknownKind = Buffer.concat([Buffer.from('k8s\u0000', 'binary'), Buffer.from('0a0c0a027631120646726f6f626c', 'hex')]);
    assert.throws(() => decodeKubeProtobuf(unknownKind), /no protobuf type is known for apiVersion "v1", kind "Froobl"/);
  });

  it('answers protobuf only to clients that accept nothing else', () => {
    assert.equal(acceptsOnlyProtobuf('application/vnd.kubernetes.protobuf'), true);
    assert.equal(acceptsOnlyProtobuf('application/vnd.kubernetes.protobuf,application/json'), false);
    assert.equal(acceptsOnlyProtobuf('application/vnd.kubernetes.protobuf, */*'), false);
    assert.equal(acceptsOnlyProtobuf(undefined), false);
  });

  it('formats Go durations', () => {
    for (const [ns, text] of [[0, '0s'], [1.5e9, '1.5s'], [3.6e12, '1h0m0s'], [9e10, '1m30s'], [3e8, '300ms'], [-2e9, '-2s']] as const) {
      assert.equal(goDuration(ns), text);
      assert.equal(parseGoDuration(text), ns);
    }
  });
});

describe('object shapes and strict fields', () => {
  it('gives a new Deployment the shape upstream serves', () => {
    const input: JsonObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { template: { spec: { containers: [{ name: 'c', image: 'i' }] } } } };
    const shaped = upstreamShape(input);
    assert.deepEqual(shaped.status, {});
    const spec = shaped.spec as unknown as { strategy: unknown; template: { metadata: unknown; spec: { containers: JsonObject[] } } };
    assert.deepEqual(spec.strategy, {});
    assert.deepEqual(spec.template.metadata, { creationTimestamp: null });
    assert.deepEqual(spec.template.spec.containers[0].resources, {});
  });

  it('finds misspelt fields at any depth, also inside inlined messages', () => {
    const obj = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', lables: {} },
      spec: { containers: [{ name: 'c', imagePullPolcy: 'Always', livenessProbe: { httpGet: { port: 1 }, perodSeconds: 1 } }], volumes: [{ name: 'v', emptyDir: {}, configMapp: {} }] },
    };
    assert.deepEqual(unknownFields(obj), ['metadata.lables', 'spec.containers[0].imagePullPolcy', 'spec.containers[0].livenessProbe.perodSeconds', 'spec.volumes[0].configMapp']);
  });
});

describe('type table', () => {
  it('records its upstream source revision', () => {
    const repos = TYPE_DATA.source.repositories.map((r) => r.repository);
    assert.ok(repos.includes('https://github.com/kubernetes/api'));
    for (const r of TYPE_DATA.source.repositories) assert.match(r.commit, /^[0-9a-f]{40}$/);
  });

  it('has protobuf and OpenAPI data for every served kind and its list (regenerate with scripts/gen-k8s-types.ts when this fails)', () => {
    const v2 = openApiV2Document().definitions as Record<string, JsonObject>;
    for (const info of RESOURCES) {
      const v3 = (openApiV3Document(info.group, info.version) as { components: { schemas: Record<string, JsonObject> } }).components.schemas;
      for (const kind of [info.kind, info.listKind]) {
        const name = messageForKind(apiVersionOf(info), kind);
        assert.ok(name, `${apiVersionOf(info)} ${kind} has a protobuf message`);
        assert.ok(schemaName(name) in v3, `${kind} has an OpenAPI v3 schema`);
        assert.ok(schemaName(name) in v2, `${kind} has an OpenAPI v2 definition`);
        const gvks = v3[schemaName(name)]['x-kubernetes-group-version-kind'] as JsonObject[];
        assert.ok(gvks.some((g) => g.group === info.group && g.version === info.version && g.kind === kind));
      }
    }
  });
});

describe('query parameters', () => {
  it('reads booleans as apimachinery does', () => {
    for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True', '']) assert.equal(queryFlag(new URLSearchParams({ watch: t }), 'watch'), true, t);
    for (const f of ['0', 'false', 'FALSE', 'False']) assert.equal(queryFlag(new URLSearchParams({ watch: f }), 'watch'), false, f);
    assert.equal(queryFlag(new URLSearchParams(), 'watch'), false);
  });
});
