// The parts of a core/v1 Pod the kubelet reads and writes, as they appear in
// JSON, and small accessors over them. Pure.
import type { KubeObject } from '../core/types.ts';
import type { ContainerPort, ProbeSpec } from './probe-spec.ts';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string; apiVersion?: string };
    [other: string]: unknown;
  };
}

export interface ContainerSpec {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  workingDir?: string;
  /** Keep the container's stdin open for attach (a console helper holds it; see src/kubelet/console.ts). */
  stdin?: boolean;
  /** Close stdin after the first attach ends. */
  stdinOnce?: boolean;
  /** Run the container on a pseudo-terminal (implies the console helper). */
  tty?: boolean;
  ports?: ContainerPort[];
  /** Quantities as the API holds them ("250m", "64Mi"); the kubelet sets cgroup limits from them (cgroup-plan.ts). */
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
  startupProbe?: ProbeSpec;
  readinessProbe?: ProbeSpec;
  livenessProbe?: ProbeSpec;
}

export interface KubeletPodSpec {
  /** false: no Service variables but default/kubernetes' (service-env.ts). Default true. */
  enableServiceLinks?: boolean;
  nodeName?: string;
  hostname?: string;
  subdomain?: string;
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  terminationGracePeriodSeconds?: number;
  containers?: ContainerSpec[];
  initContainers?: ContainerSpec[];
}

export interface ContainerStateRunning { startedAt: string }
export interface ContainerStateWaiting { reason: string; message?: string }
export interface ContainerStateTerminated {
  exitCode: number;
  signal?: number;
  reason: string;
  message?: string;
  startedAt: string;
  finishedAt: string;
  containerID?: string;
}

export interface ContainerState {
  running?: ContainerStateRunning;
  waiting?: ContainerStateWaiting;
  terminated?: ContainerStateTerminated;
}

export interface ContainerStatus {
  name: string;
  state: ContainerState;
  lastState: ContainerState;
  ready: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  containerID?: string;
  started: boolean;
}

export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastProbeTime: string | null;
  lastTransitionTime: string;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export interface KubeletPodStatus {
  phase?: PodPhase;
  conditions?: PodCondition[];
  message?: string;
  reason?: string;
  hostIP?: string;
  hostIPs?: { ip: string }[];
  podIP?: string;
  podIPs?: { ip: string }[];
  startTime?: string;
  containerStatuses?: ContainerStatus[];
}

export interface KubeletPod extends KubeObject {
  spec?: KubeletPodSpec;
  status?: KubeletPodStatus;
}

export const DEFAULT_GRACE_SECONDS = 30;

/** "namespace/name": the work-queue and informer key. */
export function podName(pod: KubeObject): string {
  return `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;
}

/**
 * What of a pod the kubelet acts on: its spec, identity, deletion, the labels
 * and annotations the downward API reads, and the phase (a terminal phase
 * stops the pod). Its own status writes (conditions, container statuses,
 * IPs) and the API server's bookkeeping (managedFields, resourceVersion) are
 * not: an update that changes none of this reaches no reconcile.
 */
export function kubeletPodView(pod: KubeObject): unknown {
  const m = pod.metadata;
  return [pod.spec, m.uid, m.deletionTimestamp, m.deletionGracePeriodSeconds, m.labels, m.annotations, (pod.status as { phase?: unknown } | undefined)?.phase];
}

/** The key the IPAM holds the pod's IP under: name plus uid, so a re-created pod of the same name is a different holder. */
export function ipamKey(namespace: string, name: string, uid: string): string {
  return `${namespace}/${name}/${uid}`;
}

export function restartPolicy(pod: KubeletPod): 'Always' | 'OnFailure' | 'Never' {
  const p = pod.spec?.restartPolicy;
  return p === 'OnFailure' || p === 'Never' ? p : 'Always';
}

/** Seconds between SIGTERM and SIGKILL: the deletion's grace period, else the spec's, else 30. */
export function gracePeriodSeconds(pod: KubeletPod): number {
  const fromDelete = pod.metadata.deletionGracePeriodSeconds;
  if (typeof fromDelete === 'number' && fromDelete >= 0) return fromDelete;
  const fromSpec = pod.spec?.terminationGracePeriodSeconds;
  if (typeof fromSpec === 'number' && fromSpec >= 0) return fromSpec;
  return DEFAULT_GRACE_SECONDS;
}

export function containersOf(pod: KubeletPod): ContainerSpec[] {
  return Array.isArray(pod.spec?.containers) ? pod.spec!.containers : [];
}

/** The pod's hostname: spec.hostname, else its name, cut to 63 characters (a DNS label). */
export function podHostname(pod: KubeObject & { spec?: KubeletPodSpec }): string {
  const h = pod.spec?.hostname || pod.metadata.name || 'pod';
  return h.slice(0, 63).replace(/[-.]+$/, '') || 'pod';
}

export function isTerminalPhase(phase: string | undefined): boolean {
  return phase === 'Succeeded' || phase === 'Failed';
}

