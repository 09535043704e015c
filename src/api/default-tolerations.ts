// Pod admission: the default tolerations of upstream's DefaultTolerationSeconds
// plugin. A pod created without a toleration for the not-ready or unreachable
// NoExecute taint gets one for a bounded time (300 s unless configured), so
// that the taint-eviction controller moves it off a lost node after that time.
// Pure: the pod strategy runs it as a create-only admission step (src/api/kinds/pod.ts).
import type { KubeObject } from '../core/types.ts';
import { NOT_READY_TAINT, UNREACHABLE_TAINT } from '../core/well-known.ts';
import type { Toleration } from '../scheduler/api-types.ts';

export interface DefaultTolerationSeconds {
  notReady: number;
  unreachable: number;
}

/** Upstream's --default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds. */
export const DEFAULT_TOLERATION_SECONDS: DefaultTolerationSeconds = Object.freeze({ notReady: 300, unreachable: 300 });

/** Does this toleration cover the key's NoExecute taint (an empty key or effect covers it)? */
function covers(t: Toleration, key: string): boolean {
  return (!t.key || t.key === key) && (!t.effect || t.effect === 'NoExecute');
}

/**
 * The pod with the default tolerations added for the keys it does not tolerate
 * already (any toleration with that key or an empty one, and effect NoExecute
 * or empty, counts, whatever its seconds). Returns the same object when nothing
 * is added.
 */
export function withDefaultTolerations(pod: KubeObject, seconds: DefaultTolerationSeconds = DEFAULT_TOLERATION_SECONDS): KubeObject {
  const spec = (pod.spec ?? {}) as { tolerations?: Toleration[] };
  const existing = Array.isArray(spec.tolerations) ? spec.tolerations : [];
  const added: Toleration[] = [];
  for (const [key, s] of [[NOT_READY_TAINT, seconds.notReady], [UNREACHABLE_TAINT, seconds.unreachable]] as const) {
    if (!existing.some((t) => t && typeof t === 'object' && covers(t, key))) {
      added.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: s });
    }
  }
  if (added.length === 0) return pod;
  return { ...pod, spec: { ...spec, tolerations: [...existing, ...added] } };
}

