// Create throughput with protobuf request bodies (as kubectl 1.32's typed
// clients send them) against JSON bodies, in the same run, against a real
// redis-server and the real API server; plus the server-side decode cost of
// each body alone.
//
//   node --import tsx bench/api-protobuf.bench.ts [--pods 10000] [--concurrency 16] [--runs 3]
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { decodeBody } from '../src/api/http-io.ts';
import { encodeKubeProtobuf } from '../src/api/protobuf/codec.ts';
import { upstreamShape } from '../src/api/protobuf/object-shape.ts';
import type { JsonObject } from '../src/core/types.ts';
import { forEachConcurrently, machineInfo, median, parseFlags, percentile, printResult } from './stats.ts';
import { startBenchApiServer } from './api-server.ts';

const flags = parseFlags(process.argv.slice(2), { pods: 10000, concurrency: 16, runs: 3 });
type Format = 'json' | 'protobuf';
const CHUNK = 500;
const CONTENT_TYPE: Record<Format, string> = { json: 'application/json', protobuf: 'application/vnd.kubernetes.protobuf' };

function pod(name: string): JsonObject {
  // What `kubectl create`'s typed client would put on the wire: the Go shape.
  return upstreamShape({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: 'bench' } },
    spec: { containers: [{ name: 'main', image: 'busybox', command: ['sleep', '3600'], ports: [{ containerPort: 8080 }], resources: { limits: { cpu: '100m', memory: '64Mi' } } }] },
  });
}

function encode(format: Format, obj: JsonObject): Buffer {
  return format === 'json' ? Buffer.from(JSON.stringify(obj)) : encodeKubeProtobuf(obj);
}

function post(agent: Agent, port: number, token: string, format: Format, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/v1/namespaces/default/pods',
        headers: { authorization: `Bearer ${token}`, 'content-type': CONTENT_TYPE[format], accept: 'application/vnd.kubernetes.protobuf,application/json', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.once('end', () => (res.statusCode === 201 ? resolve(res.statusCode) : reject(new Error(`create answered ${res.statusCode}`))));
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

async function createAll(agent: Agent, port: number, token: string, format: Format, bodies: Buffer[]): Promise<{ seconds: number; lat: number[] }> {
  const lat: number[] = [];
  const t0 = performance.now();
  await forEachConcurrently(bodies.length, flags.concurrency, async (i) => {
    const ts = performance.now();
    await post(agent, port, token, format, bodies[i]);
    lat.push(performance.now() - ts);
  });
  return { seconds: (performance.now() - t0) / 1000, lat };
}

/** Server-side decode of the same pod body, n times: microseconds per body. */
function decodeCost(format: Format, n: number): number {
  const body = encode(format, pod('decode'));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) decodeBody(body, CONTENT_TYPE[format]);
  return ((performance.now() - t0) * 1000) / n;
}

async function main(): Promise<void> {
  const api = await startBenchApiServer('mlt-protobuf-bench-');
  const { store, port, token } = api;
  const agent = new Agent({ keepAlive: true, maxSockets: flags.concurrency });
  const results: Record<Format, { perSec: number[]; p50: number[]; p99: number[] }> = { json: { perSec: [], p50: [], p99: [] }, protobuf: { perSec: [], p50: [], p99: [] } };
  try {
    for (let run = 0; run < flags.runs; run++) {
      // The two formats take turns in chunks of CHUNK creates, so the machine's changing load (it is shared)
      // and the store's growth fall on both alike; each format's throughput is its creates over its own time.
      const elapsed: Record<Format, number> = { json: 0, protobuf: 0 };
      const lat: Record<Format, number[]> = { json: [], protobuf: [] };
      for (let chunk = 0; chunk * CHUNK < flags.pods; chunk++) {
        const order: Format[] = (chunk + run) % 2 === 0 ? ['json', 'protobuf'] : ['protobuf', 'json'];
        for (const format of order) {
          const n = Math.min(CHUNK, flags.pods - chunk * CHUNK);
          const bodies = Array.from({ length: n }, (_, i) => encode(format, pod(`bench-${format}-${run}-${chunk * CHUNK + i}`)));
          const r = await createAll(agent, port, token, format, bodies);
          elapsed[format] += r.seconds;
          lat[format].push(...r.lat);
        }
      }
      for (const format of ['json', 'protobuf'] as const) {
        results[format].perSec.push(flags.pods / elapsed[format]);
        results[format].p50.push(percentile(lat[format], 50));
        results[format].p99.push(percentile(lat[format], 99));
      }
      process.stderr.write(`  run ${run + 1}/${flags.runs}: json ${Math.round(flags.pods / elapsed.json)} creates/s, protobuf ${Math.round(flags.pods / elapsed.protobuf)} creates/s\n`);
      // Empty the store for the next run.
      const { items } = await store.list('pods', 'default');
      await Promise.all(items.map((o) => store.delete('pods', 'default', o.metadata.name ?? '')));
    }
  } finally {
    agent.destroy();
    await api.stop();
  }
  const summary = (f: Format) => ({ createsPerSec: median(results[f].perSec), createLatencyMs: { p50: median(results[f].p50), p99: median(results[f].p99) } });
  const result = {
    bench: 'api-protobuf',
    machine: machineInfo(),
    pods: flags.pods,
    concurrency: flags.concurrency,
    runs: flags.runs,
    json: summary('json'),
    protobuf: summary('protobuf'),
    protobufOverJson: median(results.protobuf.perSec) / median(results.json.perSec),
    decodeMicrosPerBody: { json: decodeCost('json', 20000), protobuf: decodeCost('protobuf', 20000) },
    bodyBytes: { json: encode('json', pod('size')).length, protobuf: encode('protobuf', pod('size')).length },
  };
  printResult(result);
  if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, JSON.stringify(result) + '\n', { flag: 'a' });
}

await main();
