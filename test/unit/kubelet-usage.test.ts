import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Registry } from 'prom-client';
import { addReadings, parseReading, sampleBetween, statValue, workingSet, type UsageReading } from '../../src/kubelet/usage-plan.ts';
import { UsageSampler } from '../../src/kubelet/usage.ts';
import { cgroupPaths, detectHierarchy, type Controller } from '../../src/kubelet/cgroup-plan.ts';

test('v1 readings: cpuacct.usage in ns, usage_in_bytes minus total_inactive_file', () => {
  const r = parseReading('v1', 1000, { cpu: '2500000000\n', memory: '10485760\n', stat: 'cache 4096\ninactive_file 1\ntotal_inactive_file 2097152\n' });
  assert.deepEqual(r, { at: 1000, cpuNs: 2_500_000_000, memoryBytes: 10485760, inactiveFileBytes: 2097152 });
  assert.equal(workingSet(r!), 8388608);
});

test('v2 readings: cpu.stat usage_usec, memory.current minus inactive_file', () => {
  const r = parseReading('v2', 0, { cpu: 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n', memory: '4096\n', stat: 'anon 0\ninactive_file 8192\n' });
  assert.deepEqual(r, { at: 0, cpuNs: 1_500_000, memoryBytes: 4096, inactiveFileBytes: 8192 });
  assert.equal(workingSet(r!), 0, 'never below zero');
  assert.equal(parseReading('v2', 0, { cpu: 'user_usec 1\n', memory: '1', stat: '' }), undefined);
  assert.equal(statValue('nr_throttled 7\nthrottled_usec 9\n', 'nr_throttled'), 7);
});

test('CPU rate is the counter delta over the window, in nanocores', () => {
  const a: UsageReading = { at: 10_000, cpuNs: 1e9, memoryBytes: 100, inactiveFileBytes: 0 };
  const b: UsageReading = { at: 12_000, cpuNs: 1.4e9, memoryBytes: 300, inactiveFileBytes: 100 };
  assert.deepEqual(sampleBetween(a, b), { timestamp: new Date(12_000).toISOString(), windowSeconds: 2, cpuNanoCores: 200_000_000, memoryWorkingSetBytes: 200 });
  assert.equal(sampleBetween(undefined, b), undefined, 'one reading has no rate');
  assert.equal(sampleBetween(b, a), undefined, 'no window');
  assert.equal(sampleBetween(b, { ...b, at: 13_000, cpuNs: 0 }), undefined, 'a re-created cgroup');
  assert.deepEqual(addReadings(a, { cpuNs: 5, memoryBytes: 1, inactiveFileBytes: 0 }), { at: 10_000, cpuNs: 1e9 + 5, memoryBytes: 101, inactiveFileBytes: 0 });
});

test('the sampler reports pods seen twice, with their containers, the node, and the resource metrics', async () => {
  const paths = cgroupPaths(detectHierarchy('1 0 0:1 / /cg rw - cgroup2 cgroup2 rw\n', '0::/agent\n'), 'meshlet-n1');
  // Fake readings by directory (the kernel stands in for nothing else here): cumulative CPU grows 0.1 s per round.
  let round = 0;
  const cpuOf: Record<string, number> = { [paths.pod('cpu', 'u1')]: 0.3e9, [paths.container('cpu', 'u1', 'web')]: 0.1e9, [paths.container('cpu', 'u1', 'side')]: 0.2e9, [paths.node('cpu')]: 1e9 };
  const cgroups = {
    paths,
    containerNames: (uid: string) => (uid === 'u1' ? ['web', 'side'] : []),
    readUsage: (dir: (c: Controller) => string): UsageReading | undefined => {
      const base = cpuOf[dir('cpu')];
      return base === undefined ? undefined : { at: 1_000 + round * 1000, cpuNs: base * (round + 1), memoryBytes: 5000, inactiveFileBytes: 1000 };
    },
  };
  const registry = new Registry();
  const s = new UsageSampler({
    cgroups, nodeName: 'n1', registry, logger: pino({ level: 'silent' }),
    pods: () => [{ uid: 'u1', namespace: 'default', name: 'web-1' }, { uid: 'gone', namespace: 'default', name: 'x' }],
    self: () => ({ cpuNs: 0, memoryBytes: 2000 }),
  });
  s.sample();
  assert.deepEqual(s.summary().pods, [], 'one round: no window yet');
  round = 1;
  s.sample();
  const sum = s.summary();
  assert.equal(sum.pods.length, 1);
  const p = sum.pods[0];
  assert.equal(p.name, 'web-1');
  assert.equal(p.cpuNanoCores, 300_000_000);
  assert.equal(p.memoryWorkingSetBytes, 4000);
  assert.deepEqual(p.containers.map((c) => [c.name, c.cpuNanoCores]), [['side', 200_000_000], ['web', 100_000_000]]);
  assert.equal(sum.node.nodeName, 'n1');
  assert.equal(sum.node.cpuNanoCores, 1_000_000_000);
  assert.equal(sum.node.memoryWorkingSetBytes, 6000, "the pods' working set plus the agent's resident memory");
  const text = await registry.metrics();
  assert.match(text, /container_cpu_usage_seconds_total\{namespace="default",pod="web-1",container="web"\} 0\.2\b/);
  assert.match(text, /container_memory_working_set_bytes\{namespace="default",pod="web-1",container="side"\} 4000/);
  assert.match(text, /pod_cpu_usage_seconds_total\{namespace="default",pod="web-1"\} 0\.6\b/);
  assert.match(text, /pod_memory_working_set_bytes\{namespace="default",pod="web-1"\} 4000/);
  assert.match(text, /node_cpu_usage_seconds_total 2\b/);
  assert.match(text, /node_memory_working_set_bytes 6000/);
});
