// Runs every benchmark in turn, each in its own process, and collects the JSON
// result lines in bench/results.jsonl (which docs/BENCHMARKS.md quotes).
//   npm run bench              all benchmarks that can run here
//   npm run bench -- api       only those whose file name contains "api"
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? '';
const out = join(here, 'results.jsonl');
rmSync(out, { force: true });
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts') && f.includes(filter))
  .sort();
let failed = 0;
for (const file of files) {
  process.stderr.write(`== ${file}\n`);
  const res = spawnSync(process.execPath, ['--import', 'tsx', join(here, file)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_OUT: out },
  });
  if (res.status !== 0) {
    failed++;
    process.stderr.write(`!! ${file} exited with ${res.status ?? res.signal}\n`);
  }
}
process.stderr.write(`results: ${out}\n`);
process.exit(failed === 0 ? 0 : 1);
