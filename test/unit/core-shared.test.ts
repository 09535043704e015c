// The shared helpers and names every part reads from one place.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deepEqual } from '../../src/core/deep-equal.ts';
import { kubeMicroTime, kubeTime } from '../../src/core/time.ts';
import { CommandError, runCommand, runToExit } from '../../src/core/command.ts';
import { ipFamily, isCidr, isIp } from '../../src/core/cidr.ts';
import { resourceByGroupResource } from '../../src/core/resources.ts';
import * as wellKnown from '../../src/core/well-known.ts';
import { eventFor } from '../../src/client/events.ts';

describe('deepEqual', () => {
  it('compares JSON structurally; undefined-valued keys count as absent; arrays in order', () => {
    assert.ok(deepEqual({ a: [1, { b: 'x' }], c: null }, { c: null, a: [1, { b: 'x' }] }));
    assert.ok(deepEqual({ a: 1, b: undefined }, { a: 1 }));
    assert.ok(!deepEqual({ a: 1 }, { a: 1, b: 2 }));
    assert.ok(!deepEqual([1, 2], [2, 1]));
    assert.ok(!deepEqual({ a: {} }, { a: [] }));
    assert.ok(!deepEqual(null, {}));
    assert.ok(!deepEqual('1', 1));
    assert.ok(deepEqual(undefined, undefined));
  });
});

describe('Kubernetes timestamps', () => {
  const t = new Date('2026-03-04T05:06:07.891Z');
  it('metav1.Time is RFC 3339 to the second; MicroTime has six fractional digits', () => {
    assert.equal(kubeTime(t), '2026-03-04T05:06:07Z');
    assert.equal(kubeTime(t.getTime()), '2026-03-04T05:06:07Z');
    assert.equal(kubeMicroTime(t), '2026-03-04T05:06:07.891000Z');
    assert.equal(Date.parse(kubeMicroTime(t)), t.getTime());
  });
});

describe('IP and CIDR parsing', () => {
  it('accepts dotted quads and IPv6 without zones, as Go\'s net.ParseIP', () => {
    assert.deepEqual(['10.1.2.3', 'fd00::1', '::ffff:1.2.3.4'].map(ipFamily), [4, 6, 6]);
    for (const bad of ['10.1', '1.2.3.04', 'fe80::1%eth0', '1.2.3.4/32', '', 7, undefined]) assert.equal(isIp(bad), false, String(bad));
  });
  it('CIDRs: host bits only when allowed', () => {
    assert.ok(isCidr('10.0.0.0/8'));
    assert.ok(!isCidr('10.0.0.5/8'));
    assert.ok(isCidr('10.0.0.5/8', { allowHostBits: true }));
    assert.ok(!isCidr('10.0.0.0/33', { allowHostBits: true }));
    assert.ok(!isCidr('fd00::/129', { allowHostBits: true }));
  });
});

describe('running a command', () => {
  it('returns the output of a program that exits 0, with its input on stdin', async () => {
    assert.deepEqual(await runCommand('sh', ['-c', 'cat; echo err >&2'], { input: 'hello\n' }), { stdout: 'hello\n', stderr: 'err\n' });
  });
  it('passes arguments as they are, never through a shell', async () => {
    const { stdout } = await runCommand('printf', ['%s|', 'a b', '$(id)', ';']);
    assert.equal(stdout, 'a b|$(id)|;|');
  });
  it('a non-zero exit is a CommandError with the code and stderr', async () => {
    const err = await runCommand('sh', ['-c', 'echo no such thing >&2; exit 3']).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof CommandError);
    assert.equal(err.code, 3);
    assert.equal(err.stderr, 'no such thing');
    assert.match(err.message, /^sh -c .* failed \(3\): no such thing$/);
  });
  it('a missing program is a CommandError (ENOENT); runToExit reports it without throwing', async () => {
    const err = await runCommand('/nonexistent/mlt-facts-prog', []).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof CommandError);
    assert.equal(err.code, 'ENOENT');
    const exit = await runToExit('/nonexistent/mlt-facts-prog', []);
    assert.equal(exit.code, null);
    assert.equal(exit.error, 'ENOENT');
  });
  it('a program past its timeout is killed', async () => {
    const exit = await runToExit('sleep', ['30'], { timeoutMs: 100 });
    assert.equal(exit.signal, 'SIGKILL');
    assert.match(exit.error ?? '', /timed out/);
    await assert.rejects(runCommand('sleep', ['30'], { timeoutMs: 100 }), (e: unknown) => e instanceof CommandError && e.code === 'SIGKILL');
  });
  it('a program writing more than the bound is stopped', async () => {
    const exit = await runToExit('head', ['-c', '100000', '/dev/zero'], { maxOutputBytes: 1000 });
    assert.match(exit.error ?? '', /more than 1000 bytes/);
  });
});

describe('well-known names', () => {
  it('every group-resource name is a kind the server serves', () => {
    for (const gr of [wellKnown.LEASES, wellKnown.ENDPOINTSLICES, wellKnown.NETWORKPOLICIES, wellKnown.DEPLOYMENTS, wellKnown.REPLICASETS]) {
      assert.ok(resourceByGroupResource(gr), gr);
    }
  });
  it('the system namespaces include the lease namespace and kube-system', () => {
    assert.deepEqual([...wellKnown.SYSTEM_NAMESPACES], ['default', 'kube-system', 'kube-public', 'kube-node-lease']);
  });
});

describe('Events', () => {
  it('an Event names the object it is about, its reporter, and second-precision times', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'shop', uid: 'u1', resourceVersion: '7' } };
    const ev = eventFor(pod, { type: 'Warning', reason: 'BackOff', message: 'restarting' }, { component: 'kubelet', host: 'node-1' }, new Date('2026-01-01T00:00:01.5Z'));
    assert.match(ev.metadata.name ?? '', /^web\.[0-9a-f]{16}$/);
    assert.equal(ev.metadata.namespace, 'shop');
    assert.deepEqual(ev.involvedObject, { apiVersion: 'v1', kind: 'Pod', name: 'web', namespace: 'shop', uid: 'u1', resourceVersion: '7' });
    assert.deepEqual(ev.source, { component: 'kubelet', host: 'node-1' });
    assert.equal(ev.reportingInstance, 'node-1');
    assert.equal(ev.firstTimestamp, '2026-01-01T00:00:01Z');
    assert.equal(ev.type, 'Warning');
    const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } };
    const nodeEv = eventFor(node, { type: 'Normal', reason: 'R', message: 'm' }, { component: 'node-controller' }, 0);
    assert.equal(nodeEv.metadata.namespace, 'default', 'cluster-scoped objects: the default namespace');
    assert.deepEqual(nodeEv.source, { component: 'node-controller' });
    assert.equal(nodeEv.reportingInstance, 'node-controller');
  });
});
