// PodDisruptionBudget arithmetic, pure: which pods a budget covers, the status
// the disruption controller writes, and the eviction subresource's decision.
// Shared by the controller (src/controllers/disruption.ts) and the API server
// (pods/eviction in src/api/registry.ts).
import { labelSelectorRequirements, matchesLabels } from './selectors.ts';
import type { KubeObject, LabelSelector } from './types.ts';

export type IntOrPercent = number | string;

/** How long a pod the eviction subresource approved stays out of currentHealthy (upstream's DeletionTimeout). */
export const DISRUPTED_POD_TIMEOUT_MS = 2 * 60_000;

/** The message of the 429 a budget answers an eviction with (upstream's text, which kubectl drain prints). */
export const EVICTION_REFUSED = "Cannot evict pod as it would violate the pod's disruption budget.";

export interface PdbStatus {
  observedGeneration: number;
  disruptedPods?: Record<string, string>;
  disruptionsAllowed: number;
  currentHealthy: number;
  desiredHealthy: number;
  expectedPods: number;
  conditions: { type: 'DisruptionAllowed'; status: 'True' | 'False'; reason: string; message: string; observedGeneration: number; lastTransitionTime?: string }[];
}

interface PdbSpec {
  selector?: LabelSelector | null;
  minAvailable?: IntOrPercent | null;
  maxUnavailable?: IntOrPercent | null;
}

function specOf(pdb: KubeObject): PdbSpec {
  return (pdb.spec ?? {}) as PdbSpec;
}

/** policy/v1: a null selector covers no pod, an empty one covers every pod of the namespace. */
export function pdbCovers(pdb: KubeObject, pod: KubeObject): boolean {
  if (pdb.metadata.namespace !== pod.metadata.namespace) return false;
  const sel = specOf(pdb).selector;
  if (sel === undefined || sel === null) return false;
  return matchesLabels(labelSelectorRequirements(sel), pod.metadata.labels);
}

/** An IntOrString as a number of pods out of `total`; percentages round up (upstream's GetScaledValueFromIntOrPercent with roundUp). */
export function scaledValue(v: IntOrPercent, total: number): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) throw new Error(`invalid IntOrString ${JSON.stringify(v)}`);
  return Math.ceil((Number(m[1]) * total) / 100);
}

/** Whether expectedPods needs the pods' controllers' scale (upstream: maxUnavailable, or a percentage minAvailable). */
export function needsControllerScale(pdb: KubeObject): boolean {
  const spec = specOf(pdb);
  return (spec.maxUnavailable !== undefined && spec.maxUnavailable !== null) || typeof spec.minAvailable === 'string';
}

function isReady(pod: KubeObject): boolean {
  const conds = (pod.status as { conditions?: { type?: string; status?: string }[] } | undefined)?.conditions ?? [];
  return conds.some((c) => c.type === 'Ready' && c.status === 'True');
}

export interface BudgetInput {
  pdb: KubeObject;
  /** The namespace's pods (the budget's selection is made here). */
  pods: readonly KubeObject[];
  /**
   * The scale of each pod's controller (replicas), keyed by the controller's uid,
   * for the pods that have one the shell could read; others count as one pod each.
   */
  controllerScale: ReadonlyMap<string, number>;
  nowMs: number;
}

/** The status the disruption controller writes for a budget. */
export function budgetStatus(input: BudgetInput): PdbStatus {
  const { pdb, nowMs } = input;
  const spec = specOf(pdb);
  const pods = input.pods.filter((p) => pdbCovers(pdb, p));
  const old = (pdb.status ?? {}) as Partial<PdbStatus>;
  // Approved evictions whose pod is still there and not yet deleting, for at most DISRUPTED_POD_TIMEOUT_MS.
  const disrupted: Record<string, string> = {};
  for (const [name, at] of Object.entries(old.disruptedPods ?? {})) {
    const pod = pods.find((p) => p.metadata.name === name);
    if (pod && !pod.metadata.deletionTimestamp && Date.parse(at) + DISRUPTED_POD_TIMEOUT_MS > nowMs) disrupted[name] = at;
  }
  const currentHealthy = pods.filter((p) => !p.metadata.deletionTimestamp && !(p.metadata.name! in disrupted) && isReady(p)).length;

  let expectedPods = pods.length;
  if (needsControllerScale(pdb)) {
    const seen = new Set<string>();
    expectedPods = 0;
    for (const p of pods) {
      const ref = p.metadata.ownerReferences?.find((r) => r.controller === true);
      const scale = ref ? input.controllerScale.get(ref.uid) : undefined;
      if (ref && scale !== undefined) {
        if (!seen.has(ref.uid)) expectedPods += scale;
        seen.add(ref.uid);
      } else {
        expectedPods += 1;
      }
    }
  }
  let desiredHealthy: number;
  if (spec.maxUnavailable !== undefined && spec.maxUnavailable !== null) {
    desiredHealthy = Math.max(0, expectedPods - scaledValue(spec.maxUnavailable, expectedPods));
  } else {
    desiredHealthy = scaledValue(spec.minAvailable ?? 0, expectedPods);
  }
  const generation = pdb.metadata.generation ?? 0;
  const disruptionsAllowed = expectedPods > 0 ? Math.max(0, currentHealthy - desiredHealthy) : 0;
  const allowed = disruptionsAllowed > 0;
  const status: PdbStatus = {
    observedGeneration: generation,
    disruptionsAllowed,
    currentHealthy,
    desiredHealthy,
    expectedPods,
    conditions: [
      {
        type: 'DisruptionAllowed',
        status: allowed ? 'True' : 'False',
        reason: allowed ? 'SufficientPods' : 'InsufficientPods',
        message: '',
        observedGeneration: generation,
      },
    ],
  };
  if (Object.keys(disrupted).length > 0) status.disruptedPods = disrupted;
  return status;
}

export type EvictionDecision =
  | { allow: true; /** The budget's status after this eviction, or undefined when no budget is charged. */ status?: PdbStatus }
  | { allow: false; code: 'TooManyRequests' | 'Forbidden' | 'InternalError'; message: string; cause?: string };

/**
 * Whether the pods/eviction subresource may delete `pod` now, given the budgets of its
 * namespace. A terminal or already deleting pod goes without a budget; more than one
 * covering budget is refused (500), as upstream's.
 */
export function decideEviction(pod: KubeObject, budgets: readonly KubeObject[], nowMs: number): EvictionDecision {
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  if (pod.metadata.deletionTimestamp || phase === 'Succeeded' || phase === 'Failed') return { allow: true };
  const covering = budgets.filter((b) => pdbCovers(b, pod));
  if (covering.length === 0) return { allow: true };
  if (covering.length > 1) {
    return { allow: false, code: 'InternalError', message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.' };
  }
  const pdb = covering[0];
  const status = (pdb.status ?? {}) as Partial<PdbStatus>;
  const name = pdb.metadata.name ?? '';
  if ((status.observedGeneration ?? 0) < (pdb.metadata.generation ?? 0) || status.disruptionsAllowed === undefined) {
    return { allow: false, code: 'TooManyRequests', message: EVICTION_REFUSED, cause: `The disruption budget ${name} is still being processed by the server.` };
  }
  // An unready pod adds nothing to currentHealthy: upstream's unhealthyPodEvictionPolicy lets it go without charge
  // always (AlwaysAllow) or while the budget is met (IfHealthyBudget, the default).
  if (!isReady(pod)) {
    const policy = (pdb.spec as { unhealthyPodEvictionPolicy?: string } | undefined)?.unhealthyPodEvictionPolicy ?? 'IfHealthyBudget';
    if (policy === 'AlwaysAllow' || (status.currentHealthy ?? 0) >= (status.desiredHealthy ?? 0)) return { allow: true };
  }
  if (status.disruptionsAllowed < 0) return { allow: false, code: 'Forbidden', message: 'pdb disruptions allowed is negative' };
  if (status.disruptionsAllowed === 0) {
    return {
      allow: false,
      code: 'TooManyRequests',
      message: EVICTION_REFUSED,
      cause: `The disruption budget ${name} needs ${status.desiredHealthy ?? 0} healthy pods and has ${status.currentHealthy ?? 0} currently`,
    };
  }
  const next = structuredClone(status) as PdbStatus;
  next.disruptionsAllowed = status.disruptionsAllowed - 1;
  next.disruptedPods = { ...(status.disruptedPods ?? {}), [pod.metadata.name ?? '']: new Date(nowMs).toISOString() };
  return { allow: true, status: next };
}
