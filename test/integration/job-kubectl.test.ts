// Jobs and CronJobs end to end (root): a real API server and Redis, the
// controller manager, a real kubelet running the pods' commands in their
// network namespaces, and the real kubectl. The CronJob is made first so that
// its one-minute schedule comes round while the Job cases run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startKubeletNode, NODE_NAME, type KubeletNode } from '../helpers/kubelet-node.ts';
import { waitFor } from '../helpers/wait.ts';
import { kubectlFor, type Kubectl } from '../helpers/kubectl.ts';
import { startControllers } from '../../src/controllers/index.ts';
import type { KubeObject } from '../../src/core/types.ts';

let node: KubeletNode;
let manager: { stop(): Promise<void> } | undefined;
let work = '';
let kc: Kubectl;


const podTemplate = (script: string, extra: Record<string, unknown> = {}) => ({
  spec: {
    nodeName: NODE_NAME,
    restartPolicy: 'Never',
    terminationGracePeriodSeconds: 1,
    containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', script] }],
    ...extra,
  },
});

function jobManifest(name: string, spec: Record<string, unknown>): object {
  return { apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace: 'default' }, spec };
}

const getJob = (name: string) => node.client.get('jobs.batch', 'default', name);
const condition = (o: KubeObject | undefined, type: string) =>
  ((o?.status as { conditions?: { type: string; status: string; reason?: string }[] } | undefined)?.conditions ?? []).find((c) => c.type === type && c.status === 'True');

describe('Jobs and CronJobs with a kubelet and kubectl', { concurrency: false }, () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'mlt-w3jobs-'));
    node = await startKubeletNode({ name: 'w3jobs', subnet: '10.252.7.0/24' });
    kc = kubectlFor(node.api.kubeconfigPath, work);
    manager = await startControllers(node.client, { logger: pino({ level: 'silent' }), identity: 'w3jobs-test', retryPeriodMs: 200 });
    await kc.apply({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'mlt-w3jobs-tick', namespace: 'default' },
      spec: { schedule: '*/1 * * * *', timeZone: 'Europe/Berlin', jobTemplate: { spec: { template: podTemplate('exit 0') } } },
    });
  });

  after(async () => {
    await manager?.stop();
    await node?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('a Job with completions 5 and parallelism 2 completes', async () => {
    await kc.apply(jobManifest('mlt-w3jobs-five', { completions: 5, parallelism: 2, template: podTemplate('exit 0') }));
    const done = await waitFor('Complete', async () => {
      const j = await getJob('mlt-w3jobs-five');
      return condition(j, 'Complete') ? j : undefined;
    }, 120_000);
    const status = done.status as { succeeded: number; failed?: number; startTime: string; completionTime: string };
    assert.equal(status.succeeded, 5);
    assert.equal(status.failed ?? 0, 0, 'no failure');
    assert.ok(status.startTime && status.completionTime);
    const pods = (await node.client.list('pods', { namespace: 'default', labelSelector: 'batch.kubernetes.io/job-name=mlt-w3jobs-five' })).items;
    assert.equal(pods.length, 5);
    for (const p of pods) assert.equal(p.metadata.ownerReferences?.[0].uid, done.metadata.uid);
    const r = await kc.run(['get', 'job', 'mlt-w3jobs-five']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAME\s+STATUS\s+COMPLETIONS\s+DURATION\s+AGE/m);
    assert.match(r.stdout, /mlt-w3jobs-five\s+Complete\s+5\/5\s/);
  });

  test('an Indexed Job gives each pod its JOB_COMPLETION_INDEX', async () => {
    await kc.apply(jobManifest('mlt-w3jobs-idx', { completions: 3, parallelism: 3, completionMode: 'Indexed', template: podTemplate('test "$JOB_COMPLETION_INDEX" -ge 0 && test "$JOB_COMPLETION_INDEX" -lt 3') }));
    const done = await waitFor('Complete', async () => {
      const j = await getJob('mlt-w3jobs-idx');
      return condition(j, 'Complete') ? j : undefined;
    }, 60_000);
    assert.equal((done.status as { completedIndexes: string }).completedIndexes, '0-2');
  });

  test('a failing Job stops at its backoffLimit', async () => {
    await kc.apply(jobManifest('mlt-w3jobs-fail', { backoffLimit: 1, template: podTemplate('exit 3') }));
    const failed = await waitFor('Failed', async () => {
      const j = await getJob('mlt-w3jobs-fail');
      return condition(j, 'Failed') ? j : undefined;
    }, 90_000);
    assert.equal(condition(failed, 'Failed')?.reason, 'BackoffLimitExceeded');
    assert.equal((failed.status as { failed: number }).failed, 2);
    const pods = (await node.client.list('pods', { namespace: 'default', labelSelector: 'batch.kubernetes.io/job-name=mlt-w3jobs-fail' })).items;
    assert.equal(pods.length, 2, 'no pod after the limit');
    const r = await kc.run(['get', 'job', 'mlt-w3jobs-fail']);
    assert.match(r.stdout, /mlt-w3jobs-fail\s+Failed\s+0\/1\s/);
  });

  test('the every-minute CronJob creates a Job named for its scheduled minute, which completes', async () => {
    const cj = await node.client.get('cronjobs.batch', 'default', 'mlt-w3jobs-tick');
    const job = await waitFor('a Job of the CronJob', async () => {
      const jobs = (await node.client.list('jobs.batch', { namespace: 'default' })).items;
      return jobs.find((j) => j.metadata.ownerReferences?.[0]?.uid === cj?.metadata.uid && condition(j, 'Complete'));
    }, 150_000);
    const minutes = Number(/^mlt-w3jobs-tick-(\d+)$/.exec(job.metadata.name ?? '')?.[1]);
    const scheduled = job.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'] ?? '';
    assert.equal(minutes * 60_000, Date.parse(scheduled));
    const after = await waitFor('lastSuccessfulTime', async () => {
      const c = await node.client.get('cronjobs.batch', 'default', 'mlt-w3jobs-tick');
      return (c?.status as { lastSuccessfulTime?: string } | undefined)?.lastSuccessfulTime ? c : undefined;
    });
    assert.equal((after.status as { lastScheduleTime: string }).lastScheduleTime, scheduled);
    const r = await kc.run(['get', 'jobs,cronjobs']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAME\s+SCHEDULE\s+TIMEZONE\s+SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+AGE/m);
    assert.match(r.stdout, /cronjob\.batch\/mlt-w3jobs-tick\s+\*\/1 \* \* \* \*\s+Europe\/Berlin\s+False\s+\d+\s+\d+s\s/);
    assert.match(r.stdout, new RegExp(`job\\.batch/${job.metadata.name}\\s+Complete\\s+1/1`));
  });

  test('deleting a Job collects its pods', async () => {
    const r = await kc.run(['delete', 'job', 'mlt-w3jobs-five']);
    assert.equal(r.code, 0, r.stderr);
    await waitFor('pods gone', async () => {
      const pods = (await node.client.list('pods', { namespace: 'default', labelSelector: 'batch.kubernetes.io/job-name=mlt-w3jobs-five' })).items;
      return pods.length === 0;
    });
  });
});
