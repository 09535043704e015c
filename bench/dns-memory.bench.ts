// Memory of `meshlet dns` (one process) against CoreDNS's formula,
// (pods + services)/1000 + 54 MB: VmRSS idle, after the snapshot of N Services
// with E endpoints each (a pod per endpoint), and after every Service name was
// asked once (its answer built into the bounded answer cache). On 127.0.0.1,
// no root; light enough to run under the integration lock in well under a minute.
//
//   flock /tmp/meshlet-integration.lock node --import tsx bench/dns-memory.bench.ts [--services 10000] [--endpoints 5] [--runs 3] [--workers 1]
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clusterData } from './dns-cluster-data.ts';
import { FeedClient, startDnsProcess } from '../test/helpers/dns.ts';
import { treeRssMiB } from './rss.ts';
import { machineInfo, median, parseFlags, printResult } from './stats.ts';

const flags = parseFlags(process.argv.slice(2), { services: 10000, endpoints: 5, runs: 3, workers: 1 });
const Z = 'cluster.local';

/** Sends A queries for the names, `window` outstanding at a time; resolves with how many got records. */
function askAll(port: number, names: readonly string[], window = 50): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    let next = 0;
    let done = 0;
    let answered = 0;
    const timers = new Map<number, NodeJS.Timeout>();
    const send = (): void => {
      if (next >= names.length) return;
      const i = next++;
      const id = i & 0xffff;
      const labels = names[i].split('.').filter(Boolean);
      const q = Buffer.concat([Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0, 0, 1, 0, 1])]);
      timers.set(id, setTimeout(() => finish(id, false), 2000));
      s.send(q, port, '127.0.0.1');
    };
    const finish = (id: number, ok: boolean): void => {
      const t = timers.get(id);
      if (!t) return;
      clearTimeout(t);
      timers.delete(id);
      if (ok) answered++;
      if (++done === names.length) {
        s.close();
        resolve(answered);
      } else send();
    };
    s.on('message', (m) => finish(m.readUInt16BE(0), m.readUInt16BE(6) > 0));
    s.bind(0, '127.0.0.1', () => {
      for (let i = 0; i < window; i++) send();
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mlt-dns-mem-'));
  const line = JSON.stringify(clusterData(flags.services, flags.endpoints));
  const names = Array.from({ length: flags.services }, (_, i) => `svc-${i}.default.svc.${Z}`);
  const runs: { idleMiB: number; loadedMiB: number; askedMiB: number; loadMs: number; answered: number }[] = [];
  try {
    for (let run = 0; run < flags.runs; run++) {
      const d = await startDnsProcess(join(dir, `r${run}`), ['--listen', '127.0.0.1:0', '--upstream', '127.0.0.1:9', '--workers', String(flags.workers)]);
      try {
        await sleep(1000);
        const idleMiB = treeRssMiB(d.child.pid!);
        const feed = await FeedClient.connect(d.pid.feedSocket);
        const t0 = performance.now();
        await feed.send(line);
        while ((await askAll(d.port, [names[names.length - 1]])) === 0) await sleep(100);
        const loadMs = performance.now() - t0;
        await sleep(2000);
        const loadedMiB = treeRssMiB(d.child.pid!);
        const answered = await askAll(d.port, names);
        await sleep(2000);
        const askedMiB = treeRssMiB(d.child.pid!);
        feed.close();
        runs.push({ idleMiB, loadedMiB, askedMiB, loadMs, answered });
        process.stderr.write(`run ${run}: idle ${idleMiB.toFixed(1)} MiB, loaded ${loadedMiB.toFixed(1)} MiB (${Math.round(loadMs)} ms), asked ${askedMiB.toFixed(1)} MiB (${answered}/${names.length} answered)\n`);
      } finally {
        await d.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const pods = flags.services * flags.endpoints;
  const m = (f: (r: (typeof runs)[number]) => number): number => median(runs.map(f));
  printResult({
    bench: 'dns-memory',
    machine: machineInfo(),
    flags,
    medians: { idleMiB: m((r) => r.idleMiB), loadedMiB: m((r) => r.loadedMiB), askedMiB: m((r) => r.askedMiB), loadMs: m((r) => r.loadMs) },
    runs,
    corednsFormulaMB: (pods + flags.services) / 1000 + 54,
    snapshotBytes: line.length,
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
