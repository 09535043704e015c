// The bounded-frequency sync runner with a manual clock: coalescing, burst,
// minimum interval, one sync at a time, back-off on failure, the periodic
// resync, a sync asking to run again, and the per-part metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { BoundedFrequencyRunner, type SyncResult } from '../../src/nft/sync-runner.ts';
import { ManualClock, settle } from '../../src/nft/clock.ts';

function harness(opts: { minIntervalMs?: number; burst?: number; maxIntervalMs?: number; sync?: () => Promise<SyncResult> } = {}) {
  const clock = new ManualClock();
  const registry = new Registry();
  const starts: number[] = [];
  const runner = new BoundedFrequencyRunner({
    part: 'test',
    minIntervalMs: opts.minIntervalMs ?? 1000,
    burst: opts.burst ?? 2,
    ...(opts.maxIntervalMs ? { maxIntervalMs: opts.maxIntervalMs } : {}),
    retryInitialMs: 1000,
    retryMaxMs: 4000,
    clock,
    registry,
    sync: async () => {
      starts.push(clock.now() - 1_000_000);
      return opts.sync?.();
    },
  });
  return { clock, registry, starts, runner };
}

test('triggers coalesce; a burst runs back to back, then one sync per minimum interval', async () => {
  const { clock, starts, runner } = harness();
  runner.start();
  await clock.advance(0);
  assert.deepEqual(starts, [0]);
  for (let i = 0; i < 10; i++) runner.trigger();
  await clock.advance(0);
  assert.deepEqual(starts, [0, 0], 'second token of the burst: at once; ten triggers made one sync');
  runner.trigger();
  runner.trigger();
  await clock.advance(999);
  assert.deepEqual(starts, [0, 0], 'no token left before the interval');
  await clock.advance(1);
  assert.deepEqual(starts, [0, 0, 1000]);
  await clock.advance(5000);
  assert.deepEqual(starts, [0, 0, 1000], 'nothing more without a trigger');
  runner.stop();
});

test('one sync at a time: a trigger during a sync makes one more sync after it', async () => {
  let release!: () => void;
  let running = 0;
  let maxRunning = 0;
  const { clock, starts, runner } = harness({
    minIntervalMs: 0,
    sync: async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise<void>((r) => (release = r));
      running--;
    },
  });
  runner.start();
  await clock.advance(0);
  runner.trigger();
  runner.trigger();
  await clock.advance(0);
  assert.equal(starts.length, 1);
  release();
  await clock.advance(0);
  assert.equal(starts.length, 2);
  release();
  await clock.advance(0);
  assert.equal(starts.length, 2);
  assert.equal(maxRunning, 1);
  runner.stop();
});

test('a failed sync is retried with doubling back-off, and a success resets it; failures are counted per part', async () => {
  let failuresLeft = 3;
  const { clock, starts, runner, registry } = harness({
    minIntervalMs: 10,
    burst: 1,
    sync: async () => {
      if (failuresLeft-- > 0) throw new Error('nft said no');
    },
  });
  runner.start();
  await clock.advance(0);
  await clock.advance(10_000);
  assert.deepEqual(starts, [0, 1000, 3000, 7000], 'retries after 1 s, 2 s, 4 s (the maximum)');
  runner.trigger();
  await clock.advance(0);
  runner.trigger();
  await clock.advance(10);
  assert.deepEqual(starts.slice(4), [10_000, 10_010], 'after a success no back-off: the minimum interval applies again');
  const failures = await registry.getSingleMetric('meshlet_dataplane_sync_failures_total')!.get();
  assert.deepEqual(failures.values.map((v) => [v.labels.part, v.value]), [['test', 3]]);
  const hist = await registry.getSingleMetric('meshlet_dataplane_sync_duration_seconds')!.get();
  const count = (hist.values as { metricName?: string; labels: Record<string, string | number>; value: number }[]).filter((v) => v.metricName === 'meshlet_dataplane_sync_duration_seconds_count');
  assert.deepEqual(count.map((v) => [v.labels.part, v.labels.result, v.value]).sort(), [['test', 'error', 3], ['test', 'success', 3]]);
  runner.stop();
});

test('a periodic resync runs without triggers; a sync can ask to run again later', async () => {
  let ask: number | undefined = 1500;
  const { clock, starts, runner } = harness({ maxIntervalMs: 60_000, sync: async () => (ask !== undefined ? { againInMs: ask } : undefined) });
  runner.start();
  await clock.advance(0);
  ask = undefined;
  await clock.advance(1500);
  assert.deepEqual(starts, [0, 1500], 'asked-for rerun');
  await clock.advance(60_000);
  assert.deepEqual(starts, [0, 1500, 61_500], 'periodic resync');
  runner.stop();
  await clock.advance(120_000);
  await settle();
  assert.equal(starts.length, 3, 'stopped');
});
