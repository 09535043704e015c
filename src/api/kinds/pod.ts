// Pods: validation (spec immutable but for a few fields), defaults, the
// printer, field selectors, graceful deletion, and the admission steps run on
// every create and update.
import { deepEqual } from '../../core/deep-equal.ts';
import type { KubeObject, StatusCause } from '../../core/types.ts';
import { asObj, cause, checkIp, child, setDefault, type Obj } from './checks.ts';
import { defaultPodSpec, POD_SPEC_LISTS, RESTART_POLICIES, validatePodSpec } from './pod-spec.ts';
import { NONE, ageCell, col, humanDuration, list, num, printer, record, text } from './printer.ts';
import { byKey, pathSelectors, pathValue, prefixed, type AdmissionHook, type CreateAdmissionHook, type KindStrategy } from './strategy.ts';
import { withDefaultTolerations } from '../default-tolerations.ts';

/** Pod spec fields an update may change; everything else in spec is immutable. */
const POD_MUTABLE_SPEC_FIELDS = ['activeDeadlineSeconds', 'tolerations', 'nodeName', 'schedulingGates', 'terminationGracePeriodSeconds'];

function podSpecForComparison(spec: unknown): Obj {
  const s: Obj = { ...(asObj(spec) ?? {}) };
  for (const f of POD_MUTABLE_SPEC_FIELDS) delete s[f];
  for (const list of ['containers', 'initContainers']) {
    if (Array.isArray(s[list])) s[list] = (s[list] as unknown[]).map((c) => ({ ...(asObj(c) ?? {}), image: undefined }));
  }
  return s;
}

function validatePod(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const out = validatePodSpec('spec', obj.spec, { requireImage: true, restartPolicies: RESTART_POLICIES });
  if (old && !deepEqual(podSpecForComparison(obj.spec), podSpecForComparison(old.spec))) {
    out.push(
      cause.forbidden(
        'spec',
        'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
      ),
    );
  }
  const status = asObj(obj.status);
  if (status?.podIP !== undefined && status.podIP !== '') out.push(...checkIp('status.podIP', status.podIP));
  return out;
}

function podStatusText(pod: KubeObject): string {
  const status = record(pod.status);
  let reason = text(status.reason) || text(status.phase) || 'Unknown';
  const initStatuses = list(status.initContainerStatuses).map(record);
  const initCount = list(record(pod.spec).initContainers).length;
  let initializing = false;
  initStatuses.forEach((c, i) => {
    if (initializing) return;
    const state = record(c.state);
    const terminated = record(state.terminated);
    const waiting = record(state.waiting);
    if (state.terminated !== undefined && num(terminated.exitCode) === 0) return;
    initializing = true;
    if (state.terminated !== undefined) {
      if (text(terminated.reason)) reason = `Init:${text(terminated.reason)}`;
      else if (num(terminated.signal) !== 0) reason = `Init:Signal:${num(terminated.signal)}`;
      else reason = `Init:ExitCode:${num(terminated.exitCode)}`;
    } else if (text(waiting.reason) && waiting.reason !== 'PodInitializing') {
      reason = `Init:${text(waiting.reason)}`;
    } else {
      reason = `Init:${i}/${initCount || initStatuses.length}`;
    }
  });
  if (!initializing) {
    let hasRunning = false;
    const statuses = list(status.containerStatuses).map(record);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i];
      const state = record(c.state);
      const waiting = record(state.waiting);
      const terminated = record(state.terminated);
      if (text(waiting.reason)) reason = text(waiting.reason);
      else if (state.terminated !== undefined) {
        if (text(terminated.reason)) reason = text(terminated.reason);
        else if (num(terminated.signal) !== 0) reason = `Signal:${num(terminated.signal)}`;
        else reason = `ExitCode:${num(terminated.exitCode)}`;
      } else if (c.ready === true && state.running !== undefined) hasRunning = true;
    }
    if (reason === 'Completed' && hasRunning) {
      const ready = list(status.conditions).map(record).some((c) => c.type === 'Ready' && c.status === 'True');
      reason = ready ? 'Running' : 'NotReady';
    }
  }
  if (pod.metadata.deletionTimestamp) reason = status.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return reason;
}

function podRestarts(pod: KubeObject, now: Date): string {
  let restarts = 0;
  let last = 0;
  for (const c of list(record(pod.status).containerStatuses).map(record)) {
    restarts += num(c.restartCount);
    const finished = Date.parse(text(record(record(c.lastState).terminated).finishedAt));
    if (!Number.isNaN(finished) && finished > last) last = finished;
  }
  return restarts > 0 && last > 0 ? `${restarts} (${humanDuration(now.getTime() - last)} ago)` : String(restarts);
}

function podReadinessGates(pod: KubeObject): string {
  const gates = list(record(pod.spec).readinessGates).map((g) => text(record(g).conditionType));
  if (gates.length === 0) return NONE;
  const conditions = list(record(pod.status).conditions).map(record);
  const ready = gates.filter((g) => conditions.some((c) => c.type === g && c.status === 'True')).length;
  return `${ready}/${gates.length}`;
}

function podGracePeriod(obj: KubeObject, requested: number | undefined): number {
  const spec = asObj(obj.spec) ?? {};
  const phase = asObj(obj.status)?.phase;
  // Not on a node, or finished: nothing to wait for.
  if (!spec.nodeName || phase === 'Succeeded' || phase === 'Failed') return 0;
  if (requested !== undefined) return requested;
  if (obj.metadata.deletionGracePeriodSeconds !== undefined) return obj.metadata.deletionGracePeriodSeconds;
  const fromSpec = spec.terminationGracePeriodSeconds;
  return typeof fromSpec === 'number' ? fromSpec : 30;
}

/**
 * Mutating admission of pods, in order, on create and update (after defaults,
 * before validation). Add a pod admission step (default tolerations, ...) as
 * one entry here.
 */
export const POD_ADMISSION: readonly AdmissionHook[] = [];

/** Pod admission on create only: upstream's DefaultTolerationSeconds. */
export const POD_CREATE_ADMISSION: readonly CreateAdmissionHook[] = [(pod, settings) => withDefaultTolerations(pod, settings.defaultTolerations)];

export const podStrategy: KindStrategy = {
  groupResource: 'pods',
  topLevelFields: ['spec', 'status'],
  validate: validatePod,
  defaults(o) {
    defaultPodSpec(child(o, 'spec'));
    setDefault(child(o, 'status'), 'phase', 'Pending');
  },
  admission: POD_ADMISSION,
  createAdmission: POD_CREATE_ADMISSION,
  listStrategies: {
    ...prefixed('spec', POD_SPEC_LISTS),
    ...prefixed('status', { conditions: byKey('type'), podIPs: byKey('ip'), hostIPs: byKey('ip'), resourceClaimStatuses: byKey('name') }),
  },
  printer: printer([
    [
      col('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
      (o) => {
        const statuses = list(record(o.status).containerStatuses).map(record);
        const total = list(record(o.spec).containers).length;
        return `${statuses.filter((c) => c.ready === true).length}/${total}`;
      },
    ],
    [col('Status', 'The aggregate status of the containers in this pod.'), (o) => podStatusText(o)],
    [col('Restarts', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'), (o, now) => podRestarts(o, now)],
    ageCell,
    [col('IP', 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', { priority: 1 }), (o) => text(record(o.status).podIP) || NONE],
    [col('Node', "NodeName is a request to schedule this pod onto a specific node.", { priority: 1 }), (o) => text(record(o.spec).nodeName) || NONE],
    [col('Nominated Node', 'nominatedNodeName is set only when this pod preempts other pods on the node.', { priority: 1 }), (o) => text(record(o.status).nominatedNodeName) || NONE],
    [col('Readiness Gates', 'If specified, all readiness gates will be evaluated for pod readiness.', { priority: 1 }), (o) => podReadinessGates(o)],
  ]),
  fieldSelectors: {
    ...pathSelectors(['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP', 'status.nominatedNodeName']),
    // Unset booleans read as false, as Kubernetes' field label conversion does.
    'spec.hostNetwork': pathValue('spec.hostNetwork', 'false'),
  },
  deletion: { gracePeriod: podGracePeriod },
};
