// `kubectl top` and the HorizontalPodAutoscaler in a real 1-node lab (root),
// with the real kubectl: a Deployment of CPU burners (request 100m, limit 200m,
// so each burns about 200% of its request), `kubectl top pods` shows their CPU,
// an autoscaling/v2 HPA (target 50%, max 3, no scale-down window) scales it up;
// the load is stopped (kubectl exec touching the stop file the burners watch)
// and the HPA scales it back down to 1. The lab's server syncs HPAs every 3 s
// (src/lab/plan.ts). It needs the kubelet's usage sampler (w4-cgroups) and
// metrics.k8s.io in the API server (w4-metrics).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { labUp } from '../../src/lab/up.ts';
import { labDown } from '../../src/lab/down.ts';
import { labAdminClient } from '../../src/lab/api.ts';
import { Progress } from '../../src/lab/progress.ts';
import type { LabPlan } from '../../src/lab/plan.ts';
import type { ApiClient } from '../../src/client/types.ts';
import { DEPLOYMENTS, HORIZONTALPODAUTOSCALERS } from '../../src/core/well-known.ts';
import type { RunResult } from '../helpers/run.ts';
import { kubectlFor } from '../helpers/kubectl.ts';

const root = mkdtempSync(join(tmpdir(), 'mlt-w4hpa-lab-'));
const name = `hpal${randomBytes(2).toString('hex')}`;
const APP = 'burner';
/** The burners spin until this file exists (pods run on the node's filesystem). */
const STOP = join(root, 'stop');
let plan: LabPlan;
let client: ApiClient;

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

/** The real kubectl (test/helpers/kubectl.ts). */
const kubectl = (args: string[]): Promise<RunResult> => kubectlFor(plan.kubeconfig, root).run(args);
const ok = (args: string[]): Promise<string> => kubectlFor(plan.kubeconfig, root).ok(...args);

async function apply(obj: object): Promise<void> {
  const file = join(root, `obj-${randomBytes(3).toString('hex')}.json`);
  writeFileSync(file, JSON.stringify(obj));
  await ok(['apply', '-f', file]);
}

async function replicas(): Promise<number> {
  return ((await client.get(DEPLOYMENTS, 'default', APP))?.spec as { replicas?: number } | undefined)?.replicas ?? -1;
}

describe('kubectl top and an HPA over CPU burners in a lab', { concurrency: false }, () => {
  before(async () => {
    ({ plan } = await labUp({ name, nodes: 1, root }, new Progress()));
    client = labAdminClient(plan);
    await apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: APP, namespace: 'default' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: APP } },
        template: {
          metadata: { labels: { app: APP } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [{
              name: 'burn',
              image: 'host',
              command: ['sh', '-c', `while [ ! -e ${STOP} ]; do :; done; sleep 3600`],
              resources: { requests: { cpu: '100m' }, limits: { cpu: '200m' } },
            }],
          },
        },
      },
    });
    await waitFor('a running burner', async () => {
      const { items } = await client.list('pods', { namespace: 'default', labelSelector: `app=${APP}` });
      return items.some((p) => (p.status as { phase?: string } | undefined)?.phase === 'Running') ? true : undefined;
    }, 90_000);
  });

  after(async () => {
    writeFileSync(STOP, '');
    client?.close();
    await labDown({ name, root }, new Progress());
    rmSync(root, { recursive: true, force: true });
  });

  test('kubectl top pods shows the burner using CPU', async () => {
    const line = await waitFor('kubectl top pods with a CPU figure', async () => {
      const r = await kubectl(['top', 'pods', '-l', `app=${APP}`, '--no-headers']);
      const m = r.code === 0 ? /^(\S+)\s+(\d+)m\s+(\d+)Mi/m.exec(r.stdout) : null;
      return m && Number(m[2]) >= 50 ? m : undefined;
    }, 60_000);
    assert.ok(Number(line[2]) >= 50, `a burner limited to 200m uses well over 50m: ${line[0]}`);
  });

  test('the HPA scales the burners up, and back down once the load stops', async () => {
    await apply({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: APP, namespace: 'default' },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: APP },
        minReplicas: 1,
        maxReplicas: 3,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }],
        behavior: { scaleDown: { stabilizationWindowSeconds: 0 } },
      },
    });
    await waitFor('a scale-up', async () => ((await replicas()) >= 2 ? true : undefined), 120_000);
    const table = await ok(['get', 'hpa', APP, '--no-headers']);
    assert.match(table, new RegExp(`^${APP}\\s+Deployment/${APP}\\s+cpu: \\d+%/50%\\s+1\\s+3\\s+\\d`));

    const { items } = await client.list('pods', { namespace: 'default', labelSelector: `app=${APP}` });
    const running = items.find((p) => (p.status as { phase?: string } | undefined)?.phase === 'Running');
    assert.ok(running, 'a running burner to exec in');
    await ok(['exec', running.metadata.name ?? '', '--', 'touch', STOP]);
    await waitFor('a scale-down to 1', async () => ((await replicas()) === 1 ? true : undefined), 120_000);
    const hpa = await client.get(HORIZONTALPODAUTOSCALERS, 'default', APP);
    const status = (hpa?.status ?? {}) as { desiredReplicas?: number; conditions?: { type: string; status: string }[] };
    assert.equal(status.desiredReplicas, 1);
    assert.equal(status.conditions?.find((c) => c.type === 'ScalingActive')?.status, 'True');
    const described = await ok(['describe', 'hpa', APP]);
    assert.match(described, /New size: 1; reason: All metrics below target/);
  });
});
