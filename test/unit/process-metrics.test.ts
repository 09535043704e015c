import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { EVENT_LOOP_MONITORING_PRECISION_MS, registerProcessMetrics } from '../../src/core/process-metrics.ts';

test('process metrics: the default set, with the event-loop monitor sampling at the coarser precision', async () => {
  const registry = new Registry();
  registerProcessMetrics(registry);
  await sleep(EVENT_LOOP_MONITORING_PRECISION_MS * 4);
  const text = await registry.metrics();
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
    assert.match(text, new RegExp(`^${name} `, 'm'), `${name} is exposed`);
  }
  // Each sample is the time between two monitor wake-ups, so none is shorter than (about) the
  // precision; at prom-client's default of 10 ms the minimum would be ~0.01 s.
  const min = Number(/^nodejs_eventloop_lag_min_seconds (\S+)/m.exec(text)?.[1]);
  assert.ok(min >= (EVENT_LOOP_MONITORING_PRECISION_MS / 1000) * 0.5, `min lag ${min} s reflects the ${EVENT_LOOP_MONITORING_PRECISION_MS} ms precision`);
  registry.clear();
});
