// The HorizontalPodAutoscaler end to end without a kubelet: a real API server
// and Redis, the controller manager (deployment, replica set and HPA
// controllers, HPA sync period 300 ms) and the real kubectl v1.32.
// `kubectl autoscale` creates the HPA (through autoscaling/v1), `kubectl get
// hpa` prints upstream's columns, and the controller scales the Deployment's
// scale up and back down and writes status, conditions and events.
//
// No kubelet runs here, so the test plays the node: it marks the pods Running
// and Ready, and it feeds the controller pod CPU figures through its metrics
// interface (PodMetricsSource) — with no kubelet there is no usage for
// metrics.k8s.io to serve; test/integration/autoscale-lab.test.ts runs the real
// chain (kubelet usage → metrics.k8s.io → HPA) in a lab.
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
import type { ApiClient } from '../../src/client/types.ts';
import { startControllers } from '../../src/controllers/index.ts';
import type { PodMetricsSource } from '../../src/controllers/hpa-metrics.ts';
import { DEPLOYMENTS, HORIZONTALPODAUTOSCALERS } from '../../src/core/well-known.ts';
import type { KubeObject } from '../../src/core/types.ts';

const APP = 'mlt-w4hpa-web';
let api: TestApiServer;
let client: ApiClient;
let manager: { stop(): Promise<void> } | undefined;
let work = '';
/** Each pod's CPU use in millicores (its request is 100m). */
let load = 0;

/** The real kubectl (test/helpers/kubectl.ts). */
const ok = (args: string[]): Promise<string> => kubectlFor(api.kubeconfigPath, work).ok(...args);

const selected = (p: KubeObject): boolean => p.metadata.labels?.app === APP && !p.metadata.deletionTimestamp;

/** The test's metrics: every selected pod uses `load` millicores, sampled a second ago over 10 s. */
const metrics: PodMetricsSource = {
  async podMetrics(namespace) {
    const { items } = await client.list('pods', { namespace, labelSelector: `app=${APP}` });
    return items.filter(selected).map((p) => ({ name: p.metadata.name ?? '', timestampMs: Date.now() - 1000, windowMs: 10_000, cpuMilli: load, memoryBytes: 1 << 20 }));
  },
};

/** Plays the kubelet: every pending pod of the app becomes Running and Ready, started an hour ago. */
async function markPodsRunning(): Promise<number> {
  const { items } = await client.list('pods', { namespace: 'default', labelSelector: `app=${APP}` });
  const started = new Date(Date.now() - 3600_000).toISOString();
  for (const pod of items.filter(selected)) {
    if ((pod.status as { phase?: string } | undefined)?.phase === 'Running') continue;
    await client.update('pods', { ...pod, status: { phase: 'Running', startTime: started, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: started }] } }, 'status').catch(() => undefined);
  }
  return items.filter(selected).length;
}

async function deploymentReplicas(): Promise<number> {
  const d = await client.get(DEPLOYMENTS, 'default', APP);
  return (d?.spec as { replicas?: number } | undefined)?.replicas ?? -1;
}

type HpaStatus = { currentReplicas?: number; desiredReplicas?: number; lastScaleTime?: string; currentMetrics?: unknown[]; conditions?: { type: string; status: string; reason: string }[] };

async function hpaStatus(): Promise<HpaStatus> {
  return ((await client.get(HORIZONTALPODAUTOSCALERS, 'default', APP))?.status ?? {}) as HpaStatus;
}

describe('HorizontalPodAutoscaler with kubectl autoscale', { concurrency: false }, () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'mlt-w4hpa-'));
    api = await startTestApiServer();
    client = createClient({ server: api.url, token: api.token });
    manager = await startControllers(client, { logger: pino({ level: 'silent' }), identity: 'w4hpa-test', retryPeriodMs: 200, hpa: { syncPeriodMs: 300, metrics } });
    const manifest = join(work, 'deploy.json');
    writeFileSync(manifest, JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: APP, namespace: 'default' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: APP } },
        template: { metadata: { labels: { app: APP } }, spec: { containers: [{ name: 'main', image: 'busybox', command: ['sleep', '3600'], resources: { requests: { cpu: '100m' } } }] } },
      },
    }));
    await ok(['apply', '-f', manifest]);
    await waitFor('the first pod', async () => (await markPodsRunning()) === 1, 30_000);
  });

  after(async () => {
    await manager?.stop();
    client?.close();
    await api?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('kubectl autoscale creates the HPA; kubectl get hpa prints its columns', async () => {
    load = 50; // at target: nothing to do yet
    assert.match(await ok(['autoscale', 'deployment', APP, '--cpu-percent=50', '--min=1', '--max=5']), new RegExp(`horizontalpodautoscaler.autoscaling/${APP} autoscaled`));
    const stored = await client.get(HORIZONTALPODAUTOSCALERS, 'default', APP);
    assert.deepEqual((stored?.spec as { metrics?: unknown }).metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }]);
    await waitFor('a status with the current metric', async () => (await hpaStatus()).currentMetrics?.length === 1, 30_000);
    const table = await ok(['get', 'hpa', APP]);
    const [header, row] = table.trim().split('\n');
    assert.deepEqual(header.split(/\s+/), ['NAME', 'REFERENCE', 'TARGETS', 'MINPODS', 'MAXPODS', 'REPLICAS', 'AGE']);
    assert.match(row, new RegExp(`^${APP}\\s+Deployment/${APP}\\s+cpu: 50%/50%\\s+1\\s+5\\s+1\\s`));
    assert.equal(await deploymentReplicas(), 1, 'at target: no rescale');
  });

  test('high CPU scales the Deployment up to maxReplicas, with status, conditions and events', async () => {
    load = 100; // 100% of the request against 50%
    const replicas = await waitFor('scaled up to 5', async () => {
      await markPodsRunning();
      const n = await deploymentReplicas();
      return n === 5 ? n : undefined;
    }, 60_000);
    assert.equal(replicas, 5);
    const status = await waitFor('status at 5', async () => {
      await markPodsRunning();
      const s = await hpaStatus();
      return s.desiredReplicas === 5 && s.currentReplicas === 5 ? s : undefined;
    }, 30_000);
    assert.ok(status.lastScaleTime);
    const conditions = Object.fromEntries((status.conditions ?? []).map((c) => [c.type, c.status]));
    assert.deepEqual(conditions, { AbleToScale: 'True', ScalingActive: 'True', ScalingLimited: 'True' }, JSON.stringify(status.conditions));
    assert.equal(status.conditions?.find((c) => c.type === 'ScalingLimited')?.reason, 'TooManyReplicas');
    const { items } = await client.list('events', { namespace: 'default' });
    const rescales = items.filter((e) => e.reason === 'SuccessfulRescale' && (e.involvedObject as { name?: string }).name === APP);
    assert.ok(rescales.length >= 1);
    assert.match(String(rescales[0].message), /^New size: \d; reason: cpu resource utilization \(percentage of request\) above target$/);
    const described = await ok(['describe', 'hpa', APP]);
    assert.match(described, /resource cpu on pods\s+\(as a percentage of request\):\s+100% \(100m\) \/ 50%/);
    assert.match(described, /SuccessfulRescale/);
    assert.match(described, /ScalingLimited\s+True\s+TooManyReplicas/);
  });

  test('low CPU scales it back down once the scale-down window allows', async () => {
    // The default scale-down window is 300 s: give this HPA none, as the lab test does.
    await ok(['patch', 'hpa', APP, '--type=merge', '-p', JSON.stringify({ spec: { behavior: { scaleDown: { stabilizationWindowSeconds: 0 } } } })]);
    load = 5;
    await waitFor('scaled down to 1', async () => {
      await markPodsRunning();
      return (await deploymentReplicas()) === 1;
    }, 60_000);
    const s = await waitFor('status desired 1', async () => {
      const st = await hpaStatus();
      return st.desiredReplicas === 1 ? st : undefined;
    }, 30_000);
    assert.equal(s.conditions?.find((c) => c.type === 'AbleToScale')?.status, 'True');
    const { items } = await client.list('events', { namespace: 'default' });
    assert.ok(items.some((e) => e.reason === 'SuccessfulRescale' && /New size: 1; reason: All metrics below target/.test(String(e.message))));
  });
});
