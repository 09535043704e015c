// What durability costs a write: store creates (the one atomic write script) against a
// private redis-server kept in memory, with an AOF fsynced every second (the default)
// and with an AOF fsynced before each reply (--store-fsync always), in the same run.
//
//   node --import tsx bench/store-fsync.bench.ts [--writes 3000] [--concurrency 16] [--runs 3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { KubeObject } from '../src/core/types.ts';
import { startRedis, type RedisPersistence } from '../src/store/redis-process.ts';
import { RedisStore } from '../src/store/redis-store.ts';
import { machineInfo, median, parseFlags, percentile, printResult } from './stats.ts';

const flags = parseFlags(process.argv.slice(2), { writes: 3000, concurrency: 16, runs: 3 });

const configMap = (i: number, run: number): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: `bench-${run}-${i}`, namespace: 'default', uid: `u-${run}-${i}` },
  data: { payload: 'x'.repeat(512) },
});

async function creates(store: RedisStore, run: number, concurrency: number): Promise<{ perSecond: number; p50: number; p99: number }> {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < flags.writes; i = next++) {
        const s = performance.now();
        await store.create('configmaps', configMap(i, run));
        lat.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { perSecond: flags.writes / seconds, p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

const results: Record<string, unknown> = {};
for (const persistence of ['memory', 'everysec', 'always'] as RedisPersistence[]) {
  for (const concurrency of [1, flags.concurrency]) {
    const runs: { perSecond: number; p50: number; p99: number }[] = [];
    for (let run = 0; run < flags.runs; run++) {
      // On disk (ext4 here): a tmpfs TMPDIR would make fsync free and the figures meaningless.
      const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), 'mlt-store-durable-bench-'));
      const redis = await startRedis({ dir, persistence });
      const store = await RedisStore.connect(redis.url);
      try {
        runs.push(await creates(store, run, concurrency));
      } finally {
        await store.close();
        await redis.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
    results[`${persistence}_c${concurrency}`] = {
      createsPerSecond: median(runs.map((r) => r.perSecond)),
      p50Ms: median(runs.map((r) => r.p50)),
      p99Ms: median(runs.map((r) => r.p99)),
    };
  }
}
printResult({ bench: 'store-fsync', writes: flags.writes, runs: flags.runs, machine: machineInfo(), ...results });
