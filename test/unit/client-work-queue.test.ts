import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue, backoffDelay } from '../../src/client/work-queue.ts';
import { diffRelist } from '../../src/client/informer.ts';
import type { KubeObject } from '../../src/core/types.ts';

test('backoffDelay doubles and caps', () => {
  assert.deepEqual([0, 1, 2, 3, 10].map((n) => backoffDelay(n, 10, 100)), [0, 10, 20, 40, 100]);
});

test('a key waits once, runs on one worker at a time, reruns if added while running, retries on failure', async () => {
  const q = new WorkQueue({ baseDelayMs: 1 });
  const runs: string[] = [];
  let running = 0;
  let maxParallelSameKey = 0;
  let failOnce = true;
  q.start(async (key) => {
    running++;
    maxParallelSameKey = Math.max(maxParallelSameKey, running);
    runs.push(key);
    if (key === 'a' && runs.filter((k) => k === 'a').length === 1) q.add('a'); // added while running: one rerun
    await new Promise((r) => setTimeout(r, 5));
    running--;
    if (key === 'b' && failOnce) {
      failOnce = false;
      throw new Error('boom');
    }
  }, 3);
  q.add('a');
  q.add('a');
  q.add('b');
  await new Promise((r) => setTimeout(r, 10));
  await q.idle();
  await q.shutDown();
  assert.deepEqual(runs.filter((k) => k === 'a').length, 2);
  assert.deepEqual(runs.filter((k) => k === 'b').length, 2);
});

test('diffRelist: adds, updates (by resourceVersion) and deletes', () => {
  const o = (name: string, rv: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'd', resourceVersion: rv } });
  const cache = new Map([['d/a', o('a', '1')], ['d/b', o('b', '2')], ['d/c', o('c', '3')]]);
  const changes = diffRelist(cache, [o('a', '1'), o('b', '5'), o('e', '6')]);
  assert.deepEqual(changes.map((c) => `${c.type} ${c.obj.metadata.name}`), ['update b', 'add e', 'delete c']);
});

test('addAfter keeps the earliest due time of a waiting key, as client-go does', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const q = new WorkQueue();
  const runs: { key: string; at: number }[] = [];
  let ran: () => void = () => {};
  const nextRun = () => new Promise<void>((resolve) => (ran = resolve));
  q.start(async (key) => {
    runs.push({ key, at: Date.now() });
    ran();
  });
  q.addAfter('moved-up', 10_000);
  q.addAfter('moved-up', 100); // the sooner due time wins
  q.addAfter('kept', 200);
  q.addAfter('kept', 5_000); // ignored: the key is already due sooner
  let run = nextRun();
  t.mock.timers.tick(100);
  await run;
  run = nextRun();
  t.mock.timers.tick(100);
  await run;
  assert.deepEqual(runs, [{ key: 'moved-up', at: 100 }, { key: 'kept', at: 200 }]);
  // Neither dropped due time fires later: the queue is idle with no timer left.
  await q.idle();
  t.mock.timers.tick(10_000);
  await q.idle();
  assert.equal(runs.length, 2);
  await q.shutDown();
});
