import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CgroupUnavailableError, cgroupPaths, checkCgroupParent, containerLimits, defaultCgroupParent, detectHierarchy, limitWrites,
  milliCpuToQuota, milliCpuToShares, missingControllers, parseOomKills, podCgroupName, podLimits, sharesToWeight,
  uidOfPodCgroup, wasOomKilled, ResourceSpecError, isNodeCgroupDir,
} from '../../src/kubelet/cgroup-plan.ts';
import { cgroupJoinArgv } from '../../src/kubelet/container-plan.ts';
import { terminatedOf } from '../../src/kubelet/status.ts';
import type { KubeletPod } from '../../src/kubelet/pod-spec.ts';

// What these machines have: v1 controllers under a tmpfs, and a controller-less cgroup2 at /sys/fs/cgroup/unified.
const V1_MOUNTINFO = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const V1_PROC = `8:pids:/
4:memory:/process_api/51a1
2:cpuacct:/
1:cpu:/
0::/
`;
// A unified host (systemd default since 2021): one cgroup2 mount.
const V2_MOUNTINFO = `30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;
const V2_PROC = '0::/system.slice/meshlet-agent.service\n';

test('v1 is detected from mountinfo, and the agent\'s own cgroup per controller from /proc/self/cgroup', () => {
  const h = detectHierarchy(V1_MOUNTINFO, V1_PROC);
  assert.equal(h.version, 'v1');
  assert.deepEqual(h.base, { memory: '/sys/fs/cgroup/memory/process_api/51a1', cpu: '/sys/fs/cgroup/cpu', cpuacct: '/sys/fs/cgroup/cpuacct' });
  const p = cgroupPaths(h, 'meshlet-n1');
  assert.equal(p.container('memory', 'u-1', 'web'), '/sys/fs/cgroup/memory/process_api/51a1/meshlet-n1/pod-u-1/web');
  assert.equal(p.pod('cpu', 'u-1'), '/sys/fs/cgroup/cpu/meshlet-n1/pod-u-1');
});

test('co-mounted v1 controllers (cpu,cpuacct) share a directory', () => {
  const mi = `32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n`;
  const h = detectHierarchy(mi, '3:cpu,cpuacct:/a\n4:memory:/a\n');
  assert.equal(h.base.cpu, '/sys/fs/cgroup/cpu,cpuacct/a');
  assert.equal(h.base.cpuacct, h.base.cpu);
});

test('v2 is detected when no v1 controller is mounted; a mount of a sub-tree maps the path', () => {
  const h = detectHierarchy(V2_MOUNTINFO, V2_PROC);
  assert.equal(h.version, 'v2');
  assert.equal(h.base.memory, '/sys/fs/cgroup/system.slice/meshlet-agent.service');
  assert.equal(h.base.cpu, h.base.memory);
  const ns = detectHierarchy('1 0 0:1 /kubepods/x /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n', '0::/kubepods/x/agent\n');
  assert.equal(ns.base.memory, '/sys/fs/cgroup/agent');
});

test('no usable hierarchy, or a v1 one lacking a controller, is a clear error', () => {
  assert.throws(() => detectHierarchy('31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n', '0::/\n'), CgroupUnavailableError);
  assert.throws(() => detectHierarchy('35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n', '4:memory:/\n'), /cpu, cpuacct/);
});

test('names reaching the filesystem are validated', () => {
  assert.equal(defaultCgroupParent('node-1.lab'), 'meshlet-node-1.lab');
  assert.throws(() => checkCgroupParent('../etc'), /invalid cgroup name/);
  assert.throws(() => checkCgroupParent('a/b'), /invalid cgroup name/);
  assert.throws(() => podCgroupName('../x'), /invalid pod uid/);
  const p = cgroupPaths(detectHierarchy(V2_MOUNTINFO, V2_PROC), 'meshlet-n1');
  assert.throws(() => p.container('memory', 'u', 'Bad/Name'), /invalid container name/);
  assert.equal(uidOfPodCgroup('pod-1234-ab'), '1234-ab');
  assert.equal(isNodeCgroupDir('/sys/fs/cgroup/memory/a/meshlet-lab-node-1', 'meshlet-lab-node-1'), true);
  assert.equal(isNodeCgroupDir('/sys/fs/cgroup/memory/../../etc/meshlet-lab-node-1', 'meshlet-lab-node-1'), false);
  assert.equal(isNodeCgroupDir('/tmp/meshlet-lab-node-1', 'meshlet-lab-node-1'), false);
  assert.equal(isNodeCgroupDir('/sys/fs/cgroup/memory', 'meshlet-lab-node-1'), false);
  assert.equal(uidOfPodCgroup('web'), undefined);
});

test('shares, weight and quota follow the upstream kubelet formulas', () => {
  assert.equal(milliCpuToShares(0), 2);
  assert.equal(milliCpuToShares(1), 2);
  assert.equal(milliCpuToShares(100), 102);
  assert.equal(milliCpuToShares(1000), 1024);
  assert.equal(milliCpuToShares(1_000_000), 262144);
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(1024), 39);
  assert.equal(sharesToWeight(262144), 10000);
  assert.equal(milliCpuToQuota(200), 20000);
  assert.equal(milliCpuToQuota(5), 1000, 'at least 1 ms');
});

const pod = (containers: NonNullable<KubeletPod['spec']>['containers']): KubeletPod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'd', uid: 'u' }, spec: { containers } });

test('container limits from the spec: request (or the limit) → shares, limits → quota and memory', () => {
  assert.deepEqual(containerLimits({ name: 'a', resources: { limits: { cpu: '200m', memory: '64Mi' }, requests: { cpu: '100m' } } }), {
    cpuShares: 102, cpuPeriodUs: 100000, cpuQuotaUs: 20000, memoryLimitBytes: 64 << 20,
  });
  assert.deepEqual(containerLimits({ name: 'b', resources: { limits: { cpu: 1 } } }), { cpuShares: 1024, cpuPeriodUs: 100000, cpuQuotaUs: 100000 });
  assert.deepEqual(containerLimits({ name: 'c' }), { cpuShares: 2, cpuPeriodUs: 100000 });
  assert.throws(() => containerLimits({ name: 'd', resources: { limits: { memory: 'lots' } } }), ResourceSpecError);
});

test('the pod cgroup gets the sums, and a limit only when every container has one', () => {
  const both = pod([
    { name: 'a', resources: { limits: { cpu: '200m', memory: '64Mi' } } },
    { name: 'b', resources: { limits: { cpu: '100m', memory: '32Mi' } } },
  ]);
  assert.deepEqual(podLimits(both), { cpuShares: 307, cpuPeriodUs: 100000, cpuQuotaUs: 30000, memoryLimitBytes: 96 << 20 });
  const partial = pod([{ name: 'a', resources: { limits: { memory: '64Mi' }, requests: { cpu: '250m' } } }, { name: 'b' }]);
  assert.deepEqual(podLimits(partial), { cpuShares: 256, cpuPeriodUs: 100000 });
});

test('v1 writes: memory limit then memsw (optional), shares, period, quota; unlimited is -1', () => {
  const w = limitWrites('v1', { cpuShares: 102, cpuPeriodUs: 100000, cpuQuotaUs: 20000, memoryLimitBytes: 1024 });
  assert.deepEqual(w.map((x) => `${x.controller}/${x.file}=${x.value}${x.optional ? '?' : ''}`), [
    'memory/memory.limit_in_bytes=1024', 'memory/memory.memsw.limit_in_bytes=1024?', 'cpu/cpu.shares=102', 'cpu/cpu.cfs_period_us=100000', 'cpu/cpu.cfs_quota_us=20000',
  ]);
  const free = limitWrites('v1', { cpuShares: 2, cpuPeriodUs: 100000 });
  assert.equal(free.find((x) => x.file === 'cpu.cfs_quota_us')?.value, '-1');
  assert.equal(free.find((x) => x.file === 'memory.limit_in_bytes')?.value, '-1');
});

test('v2 writes: memory.max and no swap, cpu.max, cpu.weight', () => {
  const w = limitWrites('v2', { cpuShares: 102, cpuPeriodUs: 100000, cpuQuotaUs: 20000, memoryLimitBytes: 1024 });
  assert.deepEqual(w.map((x) => `${x.file}=${x.value}`), ['memory.max=1024', 'memory.swap.max=0', 'cpu.max=20000 100000', 'cpu.weight=4']);
  const free = limitWrites('v2', { cpuShares: 2, cpuPeriodUs: 100000 });
  assert.deepEqual(free.map((x) => `${x.file}=${x.value}`), ['memory.max=max', 'cpu.max=max 100000', 'cpu.weight=1']);
  assert.deepEqual(missingControllers('cpuset cpu io'), ['memory']);
});

test('OOM kills come from the cgroup counter (v1 memory.oom_control, v2 memory.events)', () => {
  assert.equal(parseOomKills('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n'), 3);
  assert.equal(parseOomKills('low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n'), 1);
  assert.equal(parseOomKills('oom_kill_disable 0\nunder_oom 0\n'), undefined, 'an old kernel without the counter');
  assert.equal(wasOomKilled(0, 1, 137), true);
  assert.equal(wasOomKilled(1, 1, 137), false, 'a SIGKILL without an OOM kill is not OOMKilled');
  assert.equal(wasOomKilled(0, 1, 0), false);
  assert.equal(wasOomKilled(undefined, 1, 137), false, 'a run started without cgroups');
  assert.equal(wasOomKilled(3, 0, 137), false, 'a re-created cgroup');
});

test('an OOM-killed run is reported with reason OOMKilled', () => {
  const t = terminatedOf({ restart: 0, startedAt: 0, finishedAt: 1000, running: false, exitCode: 137, oomKilled: true, namespaces: [] });
  assert.equal(t.reason, 'OOMKilled');
  assert.equal(t.exitCode, 137);
  const viaUnshare = terminatedOf({ restart: 0, startedAt: 0, finishedAt: 1000, running: false, exitCode: 1, oomKilled: true, namespaces: [] });
  assert.deepEqual([viaUnshare.reason, viaUnshare.exitCode], ['OOMKilled', 137], "unshare's exit 1 for a SIGKILLed child");
  assert.equal(terminatedOf({ restart: 0, startedAt: 0, finishedAt: 1000, running: false, exitCode: 137, namespaces: [] }).reason, 'Error');
});

test('the join step precedes the command and names every cgroup.procs file', () => {
  const argv = cgroupJoinArgv(['/a/cgroup.procs', '/b/cgroup.procs'], ['ip', 'netns', 'exec', 'x', 'true']);
  assert.deepEqual(argv.slice(3), ['meshlet-cgroup', '2', '/a/cgroup.procs', '/b/cgroup.procs', 'ip', 'netns', 'exec', 'x', 'true']);
  assert.deepEqual(cgroupJoinArgv([], ['true']), ['true']);
});
