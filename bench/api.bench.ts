// API create throughput and watch-delivery latency for 10,000 pod objects,
// against a real redis-server and the real HTTP API server, with a raw Redis
// round trip measured in the same run as the baseline.
//
//   node --import tsx bench/api.bench.ts [--pods 10000] [--concurrency 16] [--runs 3]
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { createClient } from '../src/client/http-client.ts';
import type { KubeObject } from '../src/core/types.ts';
import { redisConnectionOptions } from '../src/store/redis-process.ts';
import { forEachConcurrently, machineInfo, median, parseFlags, percentile, printResult } from './stats.ts';
import { startBenchApiServer } from './api-server.ts';

const flags = parseFlags(process.argv.slice(2), { pods: 10000, concurrency: 16, runs: 3 });

function pod(i: number, run: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `bench-${run}-${i}`, namespace: 'default', labels: { app: 'bench', run: String(run) } },
    spec: { containers: [{ name: 'main', image: 'busybox', command: ['sleep', '3600'], ports: [{ containerPort: 8080 }] }] },
  };
}

async function redisBaseline(url: string, n: number): Promise<number[]> {
  const redis = new Redis(redisConnectionOptions(url));
  const lat: number[] = [];
  const payload = JSON.stringify(pod(0, 0));
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await redis.hset('bench:baseline', `k${i}`, payload);
    lat.push(performance.now() - t0);
  }
  await redis.del('bench:baseline');
  redis.disconnect();
  return lat;
}

async function main(): Promise<void> {
  const api = await startBenchApiServer('mlt-bench-api-');
  const client = createClient({ server: api.url, token: api.token });
  const runs: { createsPerSec: number; createP50: number; createP99: number; watchP50: number; watchP99: number; baselineP50: number; baselineP99: number }[] = [];
  try {
    for (let run = 0; run < flags.runs; run++) {
      const sent = new Map<string, number>();
      const watchLat: number[] = [];
      const start = await client.list('pods', { namespace: 'default', limit: 1 });
      let received = 0;
      let allSeen: () => void = () => undefined;
      const seenAll = new Promise<void>((resolve) => (allSeen = resolve));
      const watch = await client.watch('pods', { namespace: 'default', resourceVersion: start.resourceVersion }, (ev) => {
        if (ev.type !== 'ADDED') return;
        const t0 = sent.get(ev.object.metadata.name ?? '');
        if (t0 === undefined) return;
        watchLat.push(performance.now() - t0);
        if (++received === flags.pods) allSeen();
      });
      const createLat: number[] = [];
      const t0 = performance.now();
      await forEachConcurrently(flags.pods, flags.concurrency, async (i) => {
        const obj = pod(i, run);
        const ts = performance.now();
        sent.set(obj.metadata.name ?? '', ts);
        await client.create('pods', obj);
        createLat.push(performance.now() - ts);
        if (i > 0 && i % 2000 === 0) process.stderr.write(`  run ${run + 1}: ${i} pods created\n`);
      });
      const elapsed = (performance.now() - t0) / 1000;
      await seenAll;
      watch.close();
      const baseline = await redisBaseline(api.redisUrl, 2000);
      runs.push({
        createsPerSec: flags.pods / elapsed,
        createP50: percentile(createLat, 50),
        createP99: percentile(createLat, 99),
        watchP50: percentile(watchLat, 50),
        watchP99: percentile(watchLat, 99),
        baselineP50: percentile(baseline, 50),
        baselineP99: percentile(baseline, 99),
      });
      process.stderr.write(`  run ${run + 1}/${flags.runs}: ${JSON.stringify(runs[runs.length - 1])}\n`);
      // Clear the namespace for the next run, through the API.
      const all = await client.list('pods', { namespace: 'default' });
      let k = 0;
      await Promise.all(
        Array.from({ length: flags.concurrency }, async () => {
          for (;;) {
            const item = all.items[k++];
            if (!item) return;
            await client.delete('pods', 'default', item.metadata.name ?? '', { gracePeriodSeconds: 0 });
          }
        }),
      );
    }
  } finally {
    client.close();
    await api.stop();
  }
  const m = (k: keyof (typeof runs)[number]): number => median(runs.map((r) => r[k]));
  const result = {
    bench: 'api',
    machine: machineInfo(),
    pods: flags.pods,
    concurrency: flags.concurrency,
    runs: flags.runs,
    createsPerSec: m('createsPerSec'),
    createLatencyMs: { p50: m('createP50'), p99: m('createP99') },
    watchDeliveryMs: { p50: m('watchP50'), p99: m('watchP99') },
    redisBaselineMs: { p50: m('baselineP50'), p99: m('baselineP99') },
    createP50OverRedisP50: m('createP50') / m('baselineP50'),
  };
  printResult(result);
  if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, JSON.stringify(result) + '\n', { flag: 'a' });
}

await main();
