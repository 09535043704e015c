// A pod's status from what the kubelet observes: phase, conditions, container
// statuses, addresses. Pure; transition times carry over from the pod's
// current status while a condition keeps its value.
import type { ContainerObservation, RunObservation } from './containers.ts';
import { kubeTime } from '../core/time.ts';
import {
  containersOf, isTerminalPhase, restartPolicy,
  type ContainerState, type ContainerStateTerminated, type ContainerStateWaiting, type ContainerStatus,
  type KubeletPod, type KubeletPodStatus, type PodCondition, type PodPhase,
} from './pod-spec.ts';

export interface PodObservation {
  hostIP: string;
  /** The pod's IP while it has (or had) a sandbox. */
  podIP?: string;
  sandboxReady: boolean;
  /** Per container name: its runs, when it ever started. */
  containers: Record<string, Pick<ContainerObservation, 'restartCount' | 'current' | 'previous' | 'image'> | undefined>;
  /** Per container name: why it waits (CrashLoopBackOff, CreateContainerConfigError, ContainerCreating). */
  waiting: Record<string, ContainerStateWaiting | undefined>;
  /** Per running container with probes: what they say (others are started and ready while they run). */
  probes?: Record<string, { started: boolean; ready: boolean } | undefined>;
}

export function terminatedOf(run: RunObservation, containerID?: string): ContainerStateTerminated {
  // The OOM killer's SIGKILL is 137 (128 + 9). util-linux 2.38's `unshare --fork` (the PID namespace wrapper)
  // turns a child killed by a signal into "exit 1" (its re-raise fails), so an OOM-killed run says 137 itself.
  const exitCode = run.oomKilled ? 137 : (run.exitCode ?? 137);
  const t: ContainerStateTerminated = {
    exitCode,
    reason: run.unknown ? 'ContainerStatusUnknown' : run.oomKilled ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error',
    startedAt: kubeTime(run.startedAt),
    finishedAt: kubeTime(run.finishedAt ?? run.startedAt),
  };
  if (run.unknown) t.message = 'The container could not be located when the pod was terminated';
  if (containerID) t.containerID = containerID;
  return t;
}

export function containerID(uid: string, name: string, restart: number): string {
  return `meshlet://${uid}/${name}/${restart}`;
}

function containerStatus(pod: KubeletPod, name: string, image: string, obs: PodObservation): ContainerStatus {
  const uid = pod.metadata.uid ?? '';
  const o = obs.containers[name];
  const waiting = obs.waiting[name];
  const cur = o?.current;
  const prev = o?.previous;
  let state: ContainerState;
  let lastState: ContainerState = {};
  if (cur?.running) {
    state = { running: { startedAt: kubeTime(cur.startedAt) } };
    if (prev) lastState = { terminated: terminatedOf(prev, containerID(uid, name, prev.restart)) };
  } else if (waiting) {
    state = { waiting: { ...waiting } };
    if (cur) lastState = { terminated: terminatedOf(cur, containerID(uid, name, cur.restart)) };
  } else if (cur) {
    state = { terminated: terminatedOf(cur, containerID(uid, name, cur.restart)) };
    if (prev) lastState = { terminated: terminatedOf(prev, containerID(uid, name, prev.restart)) };
  } else {
    state = { waiting: { reason: 'ContainerCreating' } };
  }
  const running = !!cur?.running;
  const probed = running ? obs.probes?.[name] : undefined;
  const status: ContainerStatus = {
    name,
    state,
    lastState,
    ready: running && (probed?.ready ?? true),
    restartCount: o?.restartCount ?? 0,
    image: o?.image || image,
    imageID: '',
    started: running && (probed?.started ?? true),
  };
  if (cur) status.containerID = containerID(uid, name, cur.restart);
  return status;
}

/** The phase from the container statuses (kubelet's getPhase, without init containers). */
export function podPhase(pod: KubeletPod, statuses: ContainerStatus[], sandboxReady: boolean): PodPhase {
  const current = pod.status?.phase;
  if (isTerminalPhase(current)) return current as PodPhase;
  if (statuses.length === 0) return sandboxReady ? 'Running' : 'Pending';
  let waiting = 0;
  let running = 0;
  let stopped = 0;
  let succeeded = 0;
  const policy = restartPolicy(pod);
  for (const s of statuses) {
    if (s.state.running) running++;
    else if (s.state.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.lastState.terminated) {
      stopped++;
      if (s.lastState.terminated.exitCode === 0) succeeded++;
    } else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

function condition(
  type: string,
  ok: boolean,
  now: number,
  previous: PodCondition[] | undefined,
  reason?: string,
  message?: string,
): PodCondition {
  const status = ok ? 'True' : 'False';
  const prev = previous?.find((c) => c.type === type);
  const c: PodCondition = {
    type,
    status,
    lastProbeTime: null,
    lastTransitionTime: prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : kubeTime(now),
  };
  if (reason) c.reason = reason;
  if (message) c.message = message;
  return c;
}

export function podStatus(pod: KubeletPod, obs: PodObservation, now: number): KubeletPodStatus {
  const specs = containersOf(pod);
  const statuses = specs.map((c) => containerStatus(pod, c.name, c.image ?? '', obs));
  const phase = podPhase(pod, statuses, obs.sandboxReady);
  const terminal = isTerminalPhase(phase);
  const notReady = statuses.filter((s) => !s.ready).map((s) => s.name);
  const allReady = notReady.length === 0 && !terminal;
  const prev = pod.status?.conditions;
  const unready = terminal ? 'PodCompleted' : 'ContainersNotReady';
  const unreadyMsg = terminal ? undefined : `containers with unready status: [${notReady.join(' ')}]`;
  const conditions: PodCondition[] = [
    condition('PodReadyToStartContainers', obs.sandboxReady, now, prev),
    condition('Initialized', true, now, prev),
    condition('Ready', allReady, now, prev, allReady ? undefined : unready, allReady ? undefined : unreadyMsg),
    condition('ContainersReady', allReady, now, prev, allReady ? undefined : unready, allReady ? undefined : unreadyMsg),
    condition('PodScheduled', true, now, prev),
  ];
  const status: KubeletPodStatus = {
    phase,
    conditions,
    hostIP: obs.hostIP,
    hostIPs: [{ ip: obs.hostIP }],
    startTime: pod.status?.startTime ?? kubeTime(now),
    containerStatuses: statuses,
  };
  const podIP = obs.podIP ?? pod.status?.podIP;
  if (podIP) {
    status.podIP = podIP;
    status.podIPs = [{ ip: podIP }];
  }
  return status;
}
