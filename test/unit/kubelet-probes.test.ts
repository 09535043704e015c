// Probes, pure parts: the state machine (thresholds, initial delay, startup
// gating, readiness flapping, the liveness kill decision), defaults, port-name
// resolution, handler validation, the exec argv, and how reconcile and status
// use the verdicts. Also the Prober's scheduling with a stand-in probe runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import {
  probeHandler, probeTimings, resolvePort, probeGraceSeconds, probesOf, type ProbeSpec,
} from '../../src/kubelet/probe-spec.ts';
import {
  isDue, markStarted, newRunStates, probeVerdict, recordResult, type RunProbeStates, type ContainerProbes,
} from '../../src/kubelet/probe-state.ts';
import { execProbeArgv } from '../../src/kubelet/probe-run.ts';
import { Prober } from '../../src/kubelet/prober.ts';
import { reconcilePod, type ObservedPod } from '../../src/kubelet/reconcile.ts';
import { podStatus } from '../../src/kubelet/status.ts';
import type { ContainerObservation } from '../../src/kubelet/containers.ts';
import type { KubeletPod } from '../../src/kubelet/pod-spec.ts';

const T = Date.parse('2025-01-01T00:00:00Z');
const exec: ProbeSpec = { exec: { command: ['true'] } };

/** Records results for one kind into the run, each a period after the last. */
function feed(run: RunProbeStates, probes: ContainerProbes, kind: keyof ContainerProbes, results: boolean[], at: number): number {
  let now = at;
  for (const ok of results) {
    run.states[kind] = recordResult(kind, probes[kind]!, markStarted(run.states[kind], now), ok, ok ? '' : `failed at ${now}`);
    now += probeTimings(kind, probes[kind]!).periodMs;
  }
  return now;
}

test('defaults: period 10 s, timeout 1 s, failureThreshold 3, successThreshold 1, no initial delay', () => {
  assert.deepEqual(probeTimings('readiness', exec), { initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3 });
  const custom: ProbeSpec = { ...exec, initialDelaySeconds: 5, periodSeconds: 2, timeoutSeconds: 3, successThreshold: 2, failureThreshold: 1 };
  assert.deepEqual(probeTimings('readiness', custom), { initialDelayMs: 5000, periodMs: 2000, timeoutMs: 3000, successThreshold: 2, failureThreshold: 1 });
  assert.equal(probeTimings('liveness', custom).successThreshold, 1, 'liveness needs one success');
  assert.equal(probeTimings('startup', custom).successThreshold, 1);
  assert.equal(probeTimings('readiness', { ...exec, periodSeconds: 0, timeoutSeconds: -1, failureThreshold: 1.5 }).periodMs, 10_000, 'out of range → default');
  assert.deepEqual(
    probesOf({ name: 'a', readinessProbe: exec, livenessProbe: null as unknown as ProbeSpec, startupProbe: [] as unknown as ProbeSpec }),
    { readiness: exec },
    'only probe objects count',
  );
});

test('initial delay: nothing is due before it, then every period start to start', () => {
  const spec: ProbeSpec = { ...exec, initialDelaySeconds: 5, periodSeconds: 2 };
  assert.equal(isDue('readiness', spec, undefined, T, T + 4999), false);
  assert.equal(isDue('readiness', spec, undefined, T, T + 5000), true);
  const s = markStarted(undefined, T + 5000);
  assert.equal(isDue('readiness', spec, s, T, T + 6999), false);
  assert.equal(isDue('readiness', spec, s, T, T + 7000), true);
  const probes = { readiness: spec };
  assert.deepEqual(probeVerdict(probes, undefined, T, T + 1000).due, []);
  assert.deepEqual(probeVerdict(probes, undefined, T, T + 5000).due, ['readiness']);
});

test('readiness: not ready until successThreshold successes; flapping below failureThreshold keeps it ready', () => {
  const probes: ContainerProbes = { readiness: { ...exec, periodSeconds: 1, successThreshold: 2, failureThreshold: 3 } };
  const run = newRunStates(0, T);
  assert.equal(probeVerdict(probes, run, T, T).ready, false, 'not ready before any probe');
  assert.equal(probeVerdict(probes, run, T, T).started, true, 'no startup probe: started');
  let now = feed(run, probes, 'readiness', [true], T);
  assert.equal(probeVerdict(probes, run, T, now).ready, false, 'one success of two');
  now = feed(run, probes, 'readiness', [false, true], now);
  assert.equal(probeVerdict(probes, run, T, now).ready, false, 'a failure resets the success count');
  now = feed(run, probes, 'readiness', [true], now);
  assert.equal(probeVerdict(probes, run, T, now).ready, true, 'two in a row');
  now = feed(run, probes, 'readiness', [false, false], now);
  assert.equal(probeVerdict(probes, run, T, now).ready, true, 'two failures of three: still ready');
  now = feed(run, probes, 'readiness', [true, false, false], now);
  assert.equal(probeVerdict(probes, run, T, now).ready, true, 'a success in between resets the failures');
  now = feed(run, probes, 'readiness', [false], now);
  assert.equal(probeVerdict(probes, run, T, now).ready, false, 'three in a row: not ready');
  assert.equal(probeVerdict(probes, run, T, now).kill, undefined, 'readiness never kills');
  now = feed(run, probes, 'readiness', [true], now);
  assert.equal(probeVerdict(probes, run, T, now).ready, false, 'back to needing two successes');
  now = feed(run, probes, 'readiness', [true], now);
  assert.equal(probeVerdict(probes, run, T, now).ready, true);
});

test('liveness: passes until failureThreshold failures in a row, then kill; readiness goes with it', () => {
  const probes: ContainerProbes = { liveness: { ...exec, periodSeconds: 1, failureThreshold: 3 }, readiness: { ...exec, periodSeconds: 1 } };
  const run = newRunStates(0, T);
  feed(run, probes, 'readiness', [true], T);
  let now = feed(run, probes, 'liveness', [false, false], T);
  let v = probeVerdict(probes, run, T, now);
  assert.equal(v.kill, undefined);
  assert.equal(v.ready, true);
  assert.deepEqual(v.due.sort(), ['liveness', 'readiness']);
  now = feed(run, probes, 'liveness', [true, false, false], now);
  assert.equal(probeVerdict(probes, run, T, now).kill, undefined, 'the success reset the count');
  now = feed(run, probes, 'liveness', [false], now);
  v = probeVerdict(probes, run, T, now);
  assert.deepEqual(v.kill, { kind: 'liveness', output: `failed at ${now - 1000}` });
  assert.equal(v.ready, false, 'a container being killed is not ready');
  assert.deepEqual(v.due, [], 'no probes while it is killed');
  assert.equal(probeVerdict(probes, newRunStates(1, now), now, now).kill, undefined, 'a new run starts fresh');
});

test('startup: gates liveness and readiness until it passes; failureThreshold failures → kill', () => {
  const probes: ContainerProbes = {
    startup: { ...exec, periodSeconds: 1, failureThreshold: 2 },
    liveness: { ...exec, periodSeconds: 1 },
    readiness: { ...exec, periodSeconds: 1 },
  };
  const run = newRunStates(0, T);
  let v = probeVerdict(probes, run, T, T);
  assert.deepEqual(v, { started: false, ready: false, kill: undefined, due: ['startup'] });
  let now = feed(run, probes, 'startup', [false], T);
  v = probeVerdict(probes, run, T, now);
  assert.deepEqual(v.due, ['startup'], 'still only the startup probe');
  now = feed(run, probes, 'startup', [true], now);
  v = probeVerdict(probes, run, T, now);
  assert.equal(v.started, true);
  assert.equal(v.ready, false, 'readiness has not passed yet');
  assert.deepEqual(v.due.sort(), ['liveness', 'readiness'], 'startup probe no longer runs');
  feed(run, probes, 'startup', [false, false, false], now);
  assert.equal(probeVerdict(probes, run, T, now).started, true, 'started stays started for the run');

  const failing = newRunStates(0, T);
  const end = feed(failing, probes, 'startup', [false, false], T);
  v = probeVerdict(probes, failing, T, end);
  assert.equal(v.kill?.kind, 'startup');
  assert.equal(v.started, false);
});

test('ports: numbers, numeric strings and names resolved against the container ports', () => {
  const ports = [{ name: 'http', containerPort: 8080 }, { name: 'dns', containerPort: 53, protocol: 'UDP' }];
  assert.equal(resolvePort(80, ports), 80);
  assert.equal(resolvePort('8081', ports), 8081);
  assert.equal(resolvePort('http', ports), 8080);
  assert.throws(() => resolvePort('dns', ports), /not among the container's TCP ports/);
  assert.throws(() => resolvePort('metrics', ports), /not among/);
  assert.throws(() => resolvePort('metrics', undefined), /not among/);
  assert.throws(() => resolvePort(0, ports), /out of range/);
  assert.throws(() => resolvePort(70000, ports), /out of range/);
  assert.throws(() => resolvePort(1.5, ports), /out of range/);
  assert.throws(() => resolvePort('Http', ports), /neither a number nor a valid port name/);
  assert.throws(() => resolvePort('a;rm -rf /', ports), /neither/);
  assert.throws(() => resolvePort('way-too-long-port-name', ports), /neither/);
  assert.throws(() => resolvePort(undefined, ports), /required/);
});

test('handlers: validated before they reach a command line or a socket', () => {
  assert.deepEqual(probeHandler({ exec: { command: ['cat', '/tmp/x'] } }, undefined), { type: 'exec', command: ['cat', '/tmp/x'] });
  assert.deepEqual(probeHandler({ tcpSocket: { port: 'http' } }, [{ name: 'http', containerPort: 80 }]), { type: 'tcpSocket', host: undefined, port: 80 });
  assert.deepEqual(
    probeHandler({ httpGet: { port: 8080, path: 'healthz?x=1', httpHeaders: [{ name: 'X-Probe', value: 'yes' }] } }, undefined),
    { type: 'httpGet', scheme: 'http', host: undefined, port: 8080, path: '/healthz?x=1', headers: [{ name: 'X-Probe', value: 'yes' }] },
  );
  assert.equal((probeHandler({ httpGet: { port: 443, scheme: 'HTTPS', host: '10.0.0.1' } }, undefined) as { scheme: string }).scheme, 'https');
  assert.throws(() => probeHandler({}, undefined), /no handler/);
  assert.throws(() => probeHandler({ exec: { command: ['true'] }, tcpSocket: { port: 1 } }, undefined), /more than one handler/);
  assert.throws(() => probeHandler({ grpc: { port: 1 } }, undefined), /grpc probes are not supported/);
  assert.throws(() => probeHandler({ exec: { command: [] } }, undefined), /non-empty/);
  assert.throws(() => probeHandler({ exec: {} }, undefined), /non-empty/);
  assert.throws(() => probeHandler({ exec: { command: ['a\0b'] } }, undefined), /NUL/);
  assert.throws(() => probeHandler({ exec: { command: ['ok', 5 as unknown as string] } }, undefined), /must be a string/);
  assert.throws(() => probeHandler({ httpGet: { port: 80, path: '/a b' } }, undefined), /path/);
  assert.throws(() => probeHandler({ httpGet: { port: 80, path: '/a\r\nX: y' } }, undefined), /path/);
  assert.throws(() => probeHandler({ httpGet: { port: 80, scheme: 'FTP' as 'HTTP' } }, undefined), /scheme/);
  assert.throws(() => probeHandler({ httpGet: { port: 80, httpHeaders: [{ name: 'Bad Name', value: 'v' }] } }, undefined), /header name/);
  assert.throws(() => probeHandler({ httpGet: { port: 80, httpHeaders: [{ name: 'X', value: 'a\r\nInjected: 1' }] } }, undefined), /invalid value/);
  assert.throws(() => probeHandler({ httpGet: { port: 80, host: 'evil host' } }, undefined), /not an IP address or host name/);
  assert.throws(() => probeHandler({ tcpSocket: { port: 'nope' } }, undefined), /not among/);
});

test('exec probes enter exactly the namespaces the run uses', () => {
  assert.deepEqual(execProbeArgv(42, ['net', 'uts', 'mount', 'pid'], ['test', '-f', '/tmp/x']), [
    'nsenter', '--target', '42', '--net', '--uts', '--mount', '--pid', '--', 'test', '-f', '/tmp/x',
  ]);
  assert.deepEqual(execProbeArgv(7, ['net'], ['true']), ['nsenter', '--target', '7', '--net', '--', 'true']);
  assert.throws(() => execProbeArgv(0, ['net'], ['true']), /invalid container pid/);
});

test('grace period of a probe kill: the probe own terminationGracePeriodSeconds, else the pod', () => {
  assert.equal(probeGraceSeconds({ ...exec, terminationGracePeriodSeconds: 2 }, 30), 2);
  assert.equal(probeGraceSeconds(exec, 30), 30);
});

function mkPod(container: Record<string, unknown>, spec: Record<string, unknown> = {}): KubeletPod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'u1' },
    spec: { nodeName: 'n1', containers: [{ name: 'a', image: 'busybox', command: ['sleep', '9'], ...container }], ...spec },
  };
}

function runningObs(restart = 0, startedAt = T): ContainerObservation {
  return {
    name: 'a', image: 'busybox', restartCount: restart,
    current: { restart, startedAt, running: true, pid: 4242, namespaces: ['net', 'pid'] },
    history: [],
  };
}

test('reconcile: an unhealthy running container is stopped with the probe grace period and a Killing message', () => {
  const pod = mkPod({ livenessProbe: { ...exec, terminationGracePeriodSeconds: 1 } }, { terminationGracePeriodSeconds: 20 });
  const observed: ObservedPod = { sandboxReady: true, sandboxExists: true, containers: { a: runningObs() }, unhealthy: { a: { kind: 'liveness' } } };
  assert.deepEqual(reconcilePod(pod, observed, T), [
    { type: 'stopContainer', name: 'a', graceSeconds: 1, message: 'Container a failed liveness probe, will be restarted' },
  ]);
  const startupPod = mkPod({ startupProbe: exec }, { terminationGracePeriodSeconds: 20 });
  assert.deepEqual(reconcilePod(startupPod, { ...observed, unhealthy: { a: { kind: 'startup' } } }, T), [
    { type: 'stopContainer', name: 'a', graceSeconds: 20, message: 'Container a failed startup probe, will be restarted' },
  ]);
  assert.deepEqual(reconcilePod(pod, { ...observed, unhealthy: {} }, T), [], 'healthy: nothing to do');
});

test('status: ready and started follow the probe verdicts while running', () => {
  const pod = mkPod({ readinessProbe: exec });
  const base = { hostIP: '192.0.2.1', podIP: '10.0.0.2', sandboxReady: true, containers: { a: runningObs() }, waiting: {} };
  const notReady = podStatus(pod, { ...base, probes: { a: { started: true, ready: false } } }, T);
  assert.equal(notReady.containerStatuses![0].ready, false);
  assert.equal(notReady.containerStatuses![0].started, true);
  assert.equal(notReady.phase, 'Running');
  const ready = notReady.conditions!.find((c) => c.type === 'Ready')!;
  assert.equal(ready.status, 'False');
  assert.equal(ready.message, 'containers with unready status: [a]');
  assert.equal(notReady.conditions!.find((c) => c.type === 'ContainersReady')!.status, 'False');
  const nowReady = podStatus({ ...pod, status: notReady }, { ...base, probes: { a: { started: true, ready: true } } }, T + 1000);
  assert.equal(nowReady.containerStatuses![0].ready, true);
  assert.equal(nowReady.conditions!.find((c) => c.type === 'Ready')!.status, 'True');
  const unstarted = podStatus(pod, { ...base, probes: { a: { started: false, ready: false } } }, T);
  assert.equal(unstarted.containerStatuses![0].started, false);
  assert.equal(podStatus(pod, base, T).containerStatuses![0].ready, true, 'no verdict: ready while running');
});

test('prober: each probe on its period, never overlapping itself, within the concurrency bound', async () => {
  const pod = mkPod({ readinessProbe: { ...exec, periodSeconds: 1 } });
  pod.spec!.containers!.push({ name: 'b', image: 'busybox', command: ['sleep', '9'], readinessProbe: { ...exec, periodSeconds: 1 } });
  const changes: string[] = [];
  const started: string[] = [];
  const pending: (() => void)[] = [];
  const prober = new Prober({
    logger: pino({ level: 'silent' }),
    maxConcurrent: 1,
    onChange: (key) => changes.push(key),
    onFailure: () => assert.fail('no failures here'),
    run: async (h, target) => {
      assert.equal(h.type, 'exec');
      assert.deepEqual(target.namespaces, ['net', 'pid']);
      started.push(String(target.pid));
      await new Promise<void>((r) => pending.push(r));
      return { ok: true, output: '' };
    },
  });
  const b: ContainerObservation = { ...runningObs(), name: 'b', current: { ...runningObs().current!, pid: 4343 } };
  const containers = { a: runningObs(), b };
  prober.sync(pod, containers, '10.0.0.2');
  assert.deepEqual(prober.health(pod, containers, T), { a: { started: true, ready: false }, b: { started: true, ready: false } });
  prober.tick(T);
  assert.deepEqual(started, ['4242'], 'one at a time (maxConcurrent 1)');
  prober.tick(T + 5000);
  assert.deepEqual(started, ['4242'], 'bound still full; a is in flight');
  pending.shift()!();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(changes, ['default/p'], 'a became ready');
  assert.deepEqual(prober.health(pod, containers, T + 5000).a, { started: true, ready: true });
  prober.tick(T + 5000);
  assert.deepEqual(started, ['4242', '4343'], 'b runs once a slot is free; a ran 5 s ago, due again');
  pending.shift()!();
  await new Promise((r) => setImmediate(r));
  prober.tick(T + 5500);
  assert.deepEqual(started, ['4242', '4343', '4242'], 'a again (its period passed), b not yet (started at +5 s)');
  prober.tick(T + 5600);
  assert.equal(started.length, 3, 'a in flight, bound full');
  pending.shift()!();
  await new Promise((r) => setImmediate(r));
  prober.forget('u1');
  prober.tick(T + 60_000);
  assert.equal(started.length, 3, 'forgotten pods are not probed');
});

test('prober: an invalid probe fails with why; a liveness failure says kill, for that run only', () => {
  const pod = mkPod({ livenessProbe: { tcpSocket: { port: 'nope' }, periodSeconds: 1, failureThreshold: 1 } });
  const failures: string[] = [];
  const changes: string[] = [];
  const prober = new Prober({
    logger: pino({ level: 'silent' }),
    onChange: (key) => changes.push(key),
    onFailure: (_key, container, kind, output) => failures.push(`${container}/${kind}: ${output}`),
    run: async () => assert.fail('invalid probes never run'),
  });
  const containers = { a: runningObs(0, T) };
  prober.sync(pod, containers, '10.0.0.2');
  assert.deepEqual(prober.kills(pod, containers, T), {});
  prober.tick(T);
  const why = 'invalid liveness probe: port name "nope" is not among the container\'s TCP ports';
  assert.deepEqual(failures, [`a/liveness: ${why}`]);
  assert.deepEqual(changes, ['default/p']);
  assert.deepEqual(prober.kills(pod, containers, T), { a: { kind: 'liveness', output: why } });
  assert.deepEqual(prober.health(pod, containers, T), { a: { started: true, ready: false } });
  const restarted = { a: runningObs(1, T + 6000) };
  assert.deepEqual(prober.kills(pod, restarted, T + 6000), {}, 'the next run is not condemned');
  prober.sync(pod, restarted, '10.0.0.2');
  assert.deepEqual(prober.kills(pod, restarted, T + 6000), {}, 'fresh state for the new run');
});

test('prober: its tick timer runs only while a container is to be probed', async () => {
  const prober = new Prober({
    logger: pino({ level: 'silent' }),
    tickMs: 5,
    onChange: () => {},
    onFailure: () => {},
    run: async () => ({ ok: true, output: '' }),
  });
  prober.start();
  assert.equal(prober.ticking(), false, 'nothing to probe: no timer');
  const pod = mkPod({ readinessProbe: { ...exec, periodSeconds: 1 } });
  const noProbes = mkPod({});
  prober.sync(noProbes, { a: runningObs() }, '10.0.0.2');
  assert.equal(prober.ticking(), false, 'a container without probes arms nothing');
  prober.sync(pod, { a: runningObs() }, '10.0.0.2');
  assert.equal(prober.ticking(), true, 'a probed container arms the timer');
  prober.forget('u1');
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(prober.ticking(), false, 'the tick after the last target went disarms it');
  prober.sync(pod, { a: runningObs() }, '10.0.0.2');
  assert.equal(prober.ticking(), true, 'and a new target arms it again');
  prober.stop();
  assert.equal(prober.ticking(), false);
  prober.sync(pod, { a: runningObs() }, '10.0.0.2');
  assert.equal(prober.ticking(), false, 'a stopped prober stays stopped');
});
