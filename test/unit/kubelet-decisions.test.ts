import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podStatus, podPhase, type PodObservation } from '../../src/kubelet/status.ts';
import { reconcilePod, formatDuration, type ObservedPod } from '../../src/kubelet/reconcile.ts';
import type { ContainerObservation, RunObservation } from '../../src/kubelet/containers.ts';
import type { KubeletPod } from '../../src/kubelet/pod-spec.ts';
import { kubeTime } from '../../src/core/time.ts';

const T = Date.parse('2025-01-01T00:00:00Z');

function mkPod(extra: Partial<KubeletPod['spec']> = {}, meta: Partial<KubeletPod['metadata']> = {}): KubeletPod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'u1', ...meta },
    spec: { nodeName: 'n1', containers: [{ name: 'a', image: 'busybox', command: ['sleep', '9'] }], ...extra },
  };
}

const running = (restart = 0, startedAt = T): RunObservation => ({ restart, startedAt, running: true, pid: 100, namespaces: ['net'] });
const exited = (code: number, restart = 0, startedAt = T, finishedAt = T + 1000): RunObservation => ({
  restart, startedAt, finishedAt, running: false, exitCode: code, namespaces: ['net'],
});

function cont(name: string, runs: RunObservation[]): ContainerObservation {
  const cur = runs[runs.length - 1];
  return {
    name,
    image: 'busybox',
    restartCount: cur.restart,
    current: cur,
    previous: runs.length > 1 ? runs[runs.length - 2] : undefined,
    history: runs.filter((r) => !r.running).map((r) => ({ startedAt: r.startedAt, finishedAt: r.finishedAt! })),
  };
}

function obs(containers: Record<string, ContainerObservation | undefined>, extra: Partial<PodObservation> = {}): PodObservation {
  return { hostIP: '192.168.1.1', podIP: '10.244.1.5', sandboxReady: true, containers, waiting: {}, ...extra };
}

test('status: creating → running → ready, transition times kept', () => {
  const pod = mkPod();
  const s0 = podStatus(pod, obs({}, { sandboxReady: false, podIP: undefined }), T);
  assert.equal(s0.phase, 'Pending');
  assert.deepEqual(s0.containerStatuses![0].state, { waiting: { reason: 'ContainerCreating' } });
  assert.equal(s0.conditions!.find((c) => c.type === 'Ready')!.status, 'False');
  assert.equal(s0.podIP, undefined);
  assert.equal(s0.hostIP, '192.168.1.1');
  assert.equal(s0.startTime, kubeTime(T));

  const s1 = podStatus({ ...pod, status: s0 }, obs({ a: cont('a', [running()]) }), T + 5000);
  assert.equal(s1.phase, 'Running');
  assert.deepEqual(s1.podIPs, [{ ip: '10.244.1.5' }]);
  const cs = s1.containerStatuses![0];
  assert.deepEqual(cs.state, { running: { startedAt: kubeTime(T) } });
  assert.equal(cs.ready, true);
  assert.equal(cs.started, true);
  assert.equal(cs.image, 'busybox');
  assert.equal(cs.imageID, '');
  const ready = s1.conditions!.find((c) => c.type === 'Ready')!;
  assert.equal(ready.status, 'True');
  assert.equal(ready.lastTransitionTime, kubeTime(T + 5000));
  const sched = s1.conditions!.find((c) => c.type === 'PodScheduled')!;
  assert.equal(sched.lastTransitionTime, kubeTime(T), 'unchanged condition keeps its time');
  assert.equal(s1.startTime, kubeTime(T));

  const s2 = podStatus({ ...pod, status: s1 }, obs({ a: cont('a', [running()]) }), T + 60_000);
  assert.deepEqual(s2, s1, 'nothing changed, nothing moves');
});

test('status: crash loop shows waiting CrashLoopBackOff with the last termination', () => {
  const pod = mkPod();
  const c = cont('a', [exited(1, 0), exited(1, 1, T + 2000, T + 2500)]);
  const s = podStatus(pod, obs({ a: c }, { waiting: { a: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } } }), T + 3000);
  const cs = s.containerStatuses![0];
  assert.equal(cs.state.waiting?.reason, 'CrashLoopBackOff');
  assert.equal(cs.lastState.terminated?.exitCode, 1);
  assert.equal(cs.lastState.terminated?.reason, 'Error');
  assert.equal(cs.restartCount, 1);
  assert.equal(cs.ready, false);
  assert.equal(s.phase, 'Running', 'restartPolicy Always keeps the pod Running');
  assert.match(s.conditions!.find((x) => x.type === 'ContainersReady')!.message!, /unready status: \[a\]/);
});

test('phase: Never/OnFailure outcomes, terminal phase sticks', () => {
  const ok = cont('a', [exited(0)]);
  const bad = cont('a', [exited(2)]);
  assert.equal(podStatus(mkPod({ restartPolicy: 'Never' }), obs({ a: ok }), T).phase, 'Succeeded');
  assert.equal(podStatus(mkPod({ restartPolicy: 'Never' }), obs({ a: bad }), T).phase, 'Failed');
  assert.equal(podStatus(mkPod({ restartPolicy: 'OnFailure' }), obs({ a: ok }), T).phase, 'Succeeded');
  assert.equal(podStatus(mkPod({ restartPolicy: 'OnFailure' }), obs({ a: bad }), T).phase, 'Running');
  const done = podStatus(mkPod({ restartPolicy: 'Never' }), obs({ a: ok }), T);
  assert.equal(done.containerStatuses![0].state.terminated?.reason, 'Completed');
  assert.equal(done.conditions!.find((c) => c.type === 'Ready')!.reason, 'PodCompleted');
  const later = podStatus({ ...mkPod({ restartPolicy: 'Never' }), status: done }, obs({}, { sandboxReady: false, podIP: undefined }), T + 10);
  assert.equal(later.phase, 'Succeeded');
  assert.equal(later.podIP, '10.244.1.5', 'the IP stays in the status of a finished pod');
  // Two containers: one waiting never started → Pending.
  const two = mkPod({ containers: [{ name: 'a', command: ['x'] }, { name: 'b', command: ['y'] }] });
  assert.equal(podPhase(two, podStatus(two, obs({ a: cont('a', [running()]) }), T).containerStatuses!, true), 'Pending');
});

test('status: config error is reported as waiting with its message', () => {
  const pod = mkPod({ containers: [{ name: 'a', image: 'nginx' }] });
  const s = podStatus(pod, obs({}, { waiting: { a: { reason: 'CreateContainerConfigError', message: 'no command' } } }), T);
  assert.deepEqual(s.containerStatuses![0].state, { waiting: { reason: 'CreateContainerConfigError', message: 'no command' } });
  assert.equal(s.phase, 'Pending');
});

const fresh: ObservedPod = { sandboxReady: false, sandboxExists: false, containers: {} };

test('reconcile: new pod → sandbox then containers; config errors wait', () => {
  const pod = mkPod({ containers: [{ name: 'a', command: ['x'] }, { name: 'b', image: 'nginx' }] });
  const acts = reconcilePod(pod, fresh, T);
  assert.deepEqual(acts.map((a) => a.type), ['createSandbox', 'wait', 'startContainer']);
  assert.deepEqual(acts[2], { type: 'startContainer', name: 'a' });
  const wait = acts[1] as { name: string; reason: string; message: string };
  assert.equal(wait.name, 'b');
  assert.equal(wait.reason, 'CreateContainerConfigError');
  assert.match(wait.message, /has no command/);
});

test('reconcile: running pod needs nothing; restart policy decides restarts with back-off', () => {
  const ready = { sandboxReady: true, sandboxExists: true };
  assert.deepEqual(reconcilePod(mkPod(), { ...ready, containers: { a: cont('a', [running()]) } }, T), []);
  const once = { ...ready, containers: { a: cont('a', [exited(1)]) } };
  assert.deepEqual(reconcilePod(mkPod(), once, T + 1000), [{ type: 'startContainer', name: 'a' }], 'first restart is immediate');
  const twice = { ...ready, containers: { a: cont('a', [exited(1, 0, T, T + 100), exited(1, 1, T + 200, T + 300)]) } };
  const acts = reconcilePod(mkPod(), twice, T + 300);
  assert.equal(acts[0].type, 'wait');
  assert.equal((acts[0] as { reason: string }).reason, 'CrashLoopBackOff');
  assert.match((acts[0] as { message: string }).message, /^back-off 10s restarting failed container=a pod=p_default\(u1\)$/);
  assert.deepEqual(acts[1], { type: 'requeue', afterMs: 10_000 });
  assert.deepEqual(reconcilePod(mkPod(), twice, T + 10_300), [{ type: 'startContainer', name: 'a' }]);
  const zero = { ...ready, containers: { a: cont('a', [exited(0)]) } };
  assert.deepEqual(reconcilePod(mkPod({ restartPolicy: 'OnFailure' }), zero, T + 5000), []);
  assert.deepEqual(reconcilePod(mkPod({ restartPolicy: 'OnFailure' }), once, T + 5000), [{ type: 'startContainer', name: 'a' }]);
  assert.deepEqual(reconcilePod(mkPod({ restartPolicy: 'Never' }), once, T + 5000), []);
});

test('reconcile: deletion stops gracefully, tears down, finishes the delete', () => {
  const pod = mkPod({ terminationGracePeriodSeconds: 7 }, { deletionTimestamp: kubeTime(T), deletionGracePeriodSeconds: 3 });
  const o = { sandboxReady: true, sandboxExists: true, containers: { a: cont('a', [running()]) } };
  assert.deepEqual(reconcilePod(pod, o, T), [
    { type: 'stopContainer', name: 'a', graceSeconds: 3 },
    { type: 'teardownSandbox' },
    { type: 'finishDeletion' },
    { type: 'removePodState' },
  ]);
  const specGrace = mkPod({ terminationGracePeriodSeconds: 7 }, { deletionTimestamp: kubeTime(T) });
  assert.deepEqual(reconcilePod(specGrace, o, T)[0], { type: 'stopContainer', name: 'a', graceSeconds: 7 });
  assert.deepEqual(reconcilePod(undefined, o, T), [
    { type: 'stopContainer', name: 'a', graceSeconds: 0 },
    { type: 'teardownSandbox' },
    { type: 'removePodState' },
  ]);
  assert.deepEqual(reconcilePod(undefined, fresh, T), [{ type: 'removePodState' }]);
});

test('reconcile: finished pods lose their network; a lost sandbox is rebuilt', () => {
  const done = { ...mkPod({ restartPolicy: 'Never' }), status: { phase: 'Succeeded' as const } };
  const o = { sandboxReady: true, sandboxExists: true, containers: { a: cont('a', [exited(0)]) } };
  assert.deepEqual(reconcilePod(done, o, T), [{ type: 'teardownSandbox' }]);
  assert.deepEqual(reconcilePod(done, { ...o, sandboxExists: false }, T), []);
  const lost = { sandboxReady: false, sandboxExists: false, containers: { a: cont('a', [running()]) } };
  assert.deepEqual(reconcilePod(mkPod(), lost, T), [
    { type: 'stopContainer', name: 'a', graceSeconds: 30 },
    { type: 'createSandbox' },
    { type: 'startContainer', name: 'a' },
  ]);
});

test('durations print as the kubelet prints them', () => {
  assert.deepEqual([250, 10_000, 80_000, 300_000].map(formatDuration), ['250ms', '10s', '1m20s', '5m0s']);
});
