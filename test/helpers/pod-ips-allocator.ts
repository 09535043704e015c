// A pod IP allocator process for crash tests: opens the node-local table in
// DATA_DIR for SUBNET and allocates COUNT pod keys "<PREFIX>/<i>", PARALLEL at
// a time (as a kubelet's pod workers do), printing "<key> <ip>" as each
// allocation resolves (so a line printed means the IP was handed out), then
// "done". Run: node --import tsx <this> DATA_DIR SUBNET PREFIX COUNT PARALLEL
import { pino } from 'pino';
import { PodIps } from '../../src/agent/pod-ips.ts';

const [dataDir, subnet, prefix, countText, parallelText] = process.argv.slice(2);
const count = Number(countText);
const parallel = Number(parallelText);
if (!dataDir || !subnet || !prefix || !Number.isInteger(count) || count < 1 || !Number.isInteger(parallel) || parallel < 1) {
  process.stderr.write('usage: pod-ips-allocator DATA_DIR SUBNET PREFIX COUNT PARALLEL\n');
  process.exit(2);
}
const ips = await PodIps.open({ dataDir, nodeName: 'n', subnets: [subnet], logger: pino({ level: 'silent' }) });
let next = 0;
await Promise.all(
  Array.from({ length: parallel }, async () => {
    while (next < count) {
      const key = `${prefix}/${next++}`;
      const [ip] = await ips.allocate(key);
      process.stdout.write(`${key} ${ip}\n`);
    }
  }),
);
process.stdout.write('done\n');
