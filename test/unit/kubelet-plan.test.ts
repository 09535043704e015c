import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sandboxPlan, sandboxNames, resolvConf, hostsFile, batchByNetns } from '../../src/kubelet/sandbox-plan.ts';
import { podNetnsName, hostVethName, isValidIfName, isValidNetnsName, hashOfNetns, hashOfHostVeth, uidHash, checkContainerName } from '../../src/kubelet/names.ts';
import { nextRestartDelay, backoffFor, DEFAULT_BACKOFF } from '../../src/kubelet/backoff.ts';
import { expandVars, resolveEnv, containerConfigError, wrapperArgv, containerArgv } from '../../src/kubelet/container-plan.ts';
import { parseStat } from '../../src/kubelet/proc.ts';
import { tailStart, stampLines } from '../../src/kubelet/logs.ts';
import type { KubeletPod } from '../../src/kubelet/pod-spec.ts';

const pod: KubeletPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-0', namespace: 'shop', uid: '1b4e28ba-2fa1-11d2-883f-0016d3cca427' },
  spec: { nodeName: 'n1', containers: [{ name: 'app', image: 'nginx', command: ['sleep', '100'] }] },
};
const cfg = { netnsPrefix: 'ml-lab1-', bridge: 'mlbr0', mtu: 1450, dnsIp: '10.96.0.10', clusterDomain: 'cluster.local' };
const net = { ip: '10.244.1.5', prefixLength: 24, gateway: '10.244.1.1' };

test('sandbox names are short, stable and recognisable', () => {
  const ns = podNetnsName('ml-lab1-', pod.metadata.uid!);
  assert.equal(ns, `ml-lab1-p-${uidHash(pod.metadata.uid!)}`);
  assert.equal(podNetnsName('ml-lab1-', pod.metadata.uid!), ns);
  const veth = hostVethName(pod.metadata.uid!);
  assert.match(veth, /^mlv[0-9a-f]{8}$/);
  assert.ok(veth.length <= 15);
  assert.equal(hashOfNetns('ml-lab1-', ns), uidHash(pod.metadata.uid!));
  assert.equal(hashOfNetns('ml-', ns), undefined, 'another prefix does not claim it');
  assert.equal(hashOfHostVeth(veth), uidHash(pod.metadata.uid!));
  assert.equal(hashOfHostVeth('eth0'), undefined);
});

test('names are validated before they reach ip', () => {
  assert.ok(isValidIfName('mlbr0'));
  assert.ok(!isValidIfName('a-very-long-interface-name'));
  assert.ok(!isValidIfName('br 0'));
  assert.ok(!isValidIfName('..'));
  assert.ok(!isValidNetnsName('ml-$(reboot)'));
  assert.ok(!isValidNetnsName('../etc'));
  assert.throws(() => podNetnsName('ML_', 'x'), /prefix/);
  assert.throws(() => sandboxNames('../../x', 'ml-'), /uid/);
  assert.throws(() => checkContainerName('../x'), /container name/);
  assert.throws(() => sandboxPlan(pod, { ...cfg, bridge: 'br; rm -rf /' }, net), /interface name/);
  assert.throws(() => sandboxPlan(pod, cfg, { ...net, ip: '10.0.0.300' }), /pod IP/);
  assert.throws(() => sandboxPlan(pod, cfg, { ...net, prefixLength: 33 }), /prefix length/);
});

test('sandboxPlan: namespace, veth into the bridge, pod side addressed and routed', () => {
  const plan = sandboxPlan(pod, cfg, net);
  assert.equal(plan.netns, podNetnsName('ml-lab1-', pod.metadata.uid!));
  assert.equal(plan.hostname, 'web-0');
  const v = plan.hostVeth;
  assert.deepEqual(plan.commands, [
    { args: ['netns', 'add', plan.netns] },
    { netns: undefined, args: ['link', 'add', v, 'mtu', '1450', 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', '1450', 'netns', plan.netns] },
    { netns: undefined, args: ['link', 'set', v, 'master', 'mlbr0'] },
    { netns: undefined, args: ['link', 'set', 'dev', v, 'type', 'bridge_slave', 'hairpin', 'on'] },
    { netns: undefined, args: ['link', 'set', v, 'up'] },
    { netns: plan.netns, args: ['link', 'set', 'lo', 'up'] },
    { netns: plan.netns, args: ['addr', 'add', '10.244.1.5/24', 'dev', 'eth0'] },
    { netns: plan.netns, args: ['link', 'set', 'eth0', 'up'] },
    { netns: plan.netns, args: ['route', 'add', 'default', 'via', '10.244.1.1', 'dev', 'eth0'] },
  ]);
  const withNode = sandboxPlan(pod, { ...cfg, nodeNetns: 'mlt-x-node' }, net);
  assert.equal(withNode.commands[1].netns, 'mlt-x-node');
  const groups = batchByNetns(withNode.commands);
  assert.deepEqual(groups.map((g) => g.length), [1, 4, 4]);
});

test('resolv.conf and hosts', () => {
  assert.equal(
    resolvConf('shop', '10.96.0.10', 'cluster.local'),
    'search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n',
  );
  const hosts = hostsFile(pod, '10.244.1.5', 'cluster.local');
  assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
  assert.match(hosts, /^10\.244\.1\.5\tweb-0$/m);
  const sub = hostsFile({ ...pod, spec: { ...pod.spec, hostname: 'db', subdomain: 'dbs' } }, '10.244.1.5', 'cluster.local');
  assert.match(sub, /^10\.244\.1\.5\tdb\.dbs\.shop\.svc\.cluster\.local\tdb$/m);
  const long = sandboxPlan({ ...pod, metadata: { ...pod.metadata, name: 'x'.repeat(80) } }, cfg, net);
  assert.equal(long.hostname.length, 63);
});

test('back-off: immediate first restart, then 10 s doubling to 5 min, reset after a 10 min run', () => {
  const t0 = 1_000_000_000;
  const crash = (n: number) => Array.from({ length: n }, (_, i) => ({ startedAt: t0 + i * 1000, finishedAt: t0 + i * 1000 + 500 }));
  assert.equal(nextRestartDelay([], t0), 0);
  const h1 = crash(1);
  assert.equal(nextRestartDelay(h1, h1[0].finishedAt), 0);
  const h2 = crash(2);
  assert.equal(nextRestartDelay(h2, h2[1].finishedAt), 10_000);
  assert.equal(nextRestartDelay(h2, h2[1].finishedAt + 4000), 6000);
  assert.equal(nextRestartDelay(h2, h2[1].finishedAt + 20_000), 0);
  const h3 = crash(3);
  assert.equal(nextRestartDelay(h3, h3[2].finishedAt), 20_000);
  assert.deepEqual([2, 3, 4, 5, 6, 7, 8, 20].map((n) => backoffFor(n)), [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  const longRun = [...crash(6), { startedAt: t0 + 10_000, finishedAt: t0 + 10_000 + DEFAULT_BACKOFF.resetAfterMs }];
  assert.equal(nextRestartDelay(longRun, longRun[6].finishedAt), 0, 'a 10 min run resets the back-off');
  const afterLong = [...longRun, { startedAt: t0 + 700_000, finishedAt: t0 + 700_100 }];
  assert.equal(nextRestartDelay(afterLong, t0 + 700_100), 0, 'first crash after the reset restarts at once');
  const small = { baseMs: 100, maxMs: 1000, resetAfterMs: 5000 };
  assert.equal(nextRestartDelay(crash(3), t0 + 2500, small), 200);
});

test('env: values, $(VAR) expansion, fieldRefs, unsupported valueFrom skipped', () => {
  assert.equal(expandVars('$(A)-$(B)-$$(A)-$(', { A: 'x' }), 'x-$(B)-$(A)-$(');
  const p: KubeletPod = {
    ...pod,
    spec: {
      nodeName: 'n1',
      containers: [{
        name: 'app',
        command: ['echo', '$(GREETING)'],
        args: ['$(POD_IP)'],
        env: [
          { name: 'WHO', value: 'world' },
          { name: 'GREETING', value: 'hello $(WHO)' },
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'POD_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
        ],
      }],
    },
  };
  const c = p.spec!.containers![0];
  const { env, skipped } = resolveEnv(p, c, { podIP: '10.244.1.5', nodeName: 'n1' }, 'web-0');
  assert.equal(env.GREETING, 'hello world');
  assert.equal(env.POD_NAME, 'web-0');
  assert.equal(env.POD_NS, 'shop');
  assert.equal(env.POD_IP, '10.244.1.5');
  assert.equal(env.NODE, 'n1');
  assert.equal(env.HOSTNAME, 'web-0');
  assert.equal(env.SECRET, undefined);
  assert.deepEqual(skipped.map((s) => s.name), ['SECRET']);
  assert.deepEqual(containerArgv(c, env), ['echo', 'hello world', '10.244.1.5']);
});

test('a container without command is a config error with a clear message', () => {
  assert.match(containerConfigError({ name: 'app', image: 'nginx' }) ?? '', /no command.*does not pull images/);
  assert.equal(containerConfigError({ name: 'app', command: ['sleep', '1'] }), undefined);
  // No image entrypoints: args alone are the command line (kubectl run r --image=busybox -- echo hello).
  assert.equal(containerConfigError({ name: 'app', image: 'busybox', args: ['echo', 'hello'] }), undefined);
  assert.deepEqual(containerArgv({ name: 'app', args: ['echo', '$(WHO)'] }, { WHO: 'hello' }), ['echo', 'hello']);
  assert.match(containerConfigError({ name: 'app', args: [''] }) ?? '', /no command/);
  assert.match(containerConfigError({ name: 'app', command: ['x'], workingDir: 'rel' }) ?? '', /absolute/);
});

test('wrapper argv enters the pod netns and only the namespaces the host allows', () => {
  const base = { netns: 'ml-p-12345678', hostname: 'h', resolvConf: '/d/resolv.conf', hosts: '/d/hosts', argv: ['sleep', '1'] };
  const all = wrapperArgv({ ...base, ns: { uts: true, mount: true, pid: true } });
  assert.deepEqual(all.slice(0, 4), ['ip', 'netns', 'exec', 'ml-p-12345678']);
  assert.ok(all.includes('--pid') && all.includes('--uts') && all.includes('--mount'));
  assert.deepEqual(all.slice(-6), ['h', '/d/resolv.conf', '/d/hosts', '', 'sleep', '1']);
  const none = wrapperArgv({ ...base, ns: { uts: false, mount: false, pid: false } });
  assert.ok(!none.includes('unshare'));
  assert.deepEqual(none.slice(-6), ['', '', '', '', 'sleep', '1']);
});

test('proc stat parsing survives odd command names', () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  fields[0] = 'S';
  fields[1] = '77';
  fields[19] = '123456';
  const st = parseStat(`4242 (we ird) (x)) ${fields.join(' ')}`);
  assert.deepEqual(st, { pid: 4242, state: 'S', ppid: 77, startTicks: 123456 });
});

test('log tail and timestamps', () => {
  const buf = Buffer.from('a\nb\nc\n');
  assert.equal(buf.subarray(tailStart(buf, 2)).toString(), 'b\nc\n');
  assert.equal(buf.subarray(tailStart(buf, 10)).toString(), 'a\nb\nc\n');
  assert.equal(tailStart(buf, 0), buf.length);
  const nonl = Buffer.from('a\nb');
  assert.equal(nonl.subarray(tailStart(nonl, 1)).toString(), 'b');
  assert.deepEqual(stampLines('x\ny\npart', 'T'), { out: 'T x\nT y\n', rest: 'part' });
});
