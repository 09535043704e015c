// The DNS request-latency histogram: plain counters on the hot path, exposed in
// Prometheus's histogram form (cumulative buckets, +Inf, sum, count) and summed
// across cluster workers by prom-client's aggregator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorRegistry } from 'prom-client';
import { DnsMetrics } from '../../src/dns/metrics.ts';

const lines = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('meshlet_dns_request_duration_seconds'));

test('request histogram: cumulative buckets, +Inf, sum and count in the text format', async () => {
  const m = new DnsMetrics();
  for (const s of [0.00004, 0.0003, 0.0003, 0.02, 7]) m.requestSeconds.observe(s);
  const text = await m.registry.metrics();
  assert.match(text, /^# TYPE meshlet_dns_request_duration_seconds histogram$/m);
  const l = lines(text);
  assert.ok(l.includes('meshlet_dns_request_duration_seconds_bucket{le="0.00005"} 1'));
  assert.ok(l.includes('meshlet_dns_request_duration_seconds_bucket{le="0.0005"} 3'));
  assert.ok(l.includes('meshlet_dns_request_duration_seconds_bucket{le="0.05"} 4'));
  assert.ok(l.includes('meshlet_dns_request_duration_seconds_bucket{le="2.5"} 4'), 'the 7 s request is above the last bucket');
  assert.ok(l.includes('meshlet_dns_request_duration_seconds_bucket{le="+Inf"} 5'));
  assert.ok(l.includes('meshlet_dns_request_duration_seconds_count 5'));
  const sum = Number(l.find((x) => x.startsWith('meshlet_dns_request_duration_seconds_sum'))?.split(' ')[1]);
  assert.ok(Math.abs(sum - 7.02064) < 1e-9, `sum ${sum}`);
});

test('request histogram: the cluster aggregator sums two workers', async () => {
  const a = new DnsMetrics();
  const b = new DnsMetrics();
  a.requestSeconds.observe(0.0001);
  b.requestSeconds.observe(0.0001);
  b.requestSeconds.observe(0.3);
  const agg = AggregatorRegistry.aggregate([await a.registry.getMetricsAsJSON(), await b.registry.getMetricsAsJSON()]);
  const l = lines(await agg.metrics());
  assert.ok(l.includes('meshlet_dns_request_duration_seconds_bucket{le="0.0001"} 2'), l.join('\n'));
  assert.ok(l.includes('meshlet_dns_request_duration_seconds_bucket{le="0.5"} 3'));
  assert.ok(l.includes('meshlet_dns_request_duration_seconds_count 3'));
});
