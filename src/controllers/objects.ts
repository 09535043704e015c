// Small pure helpers over objects that several controllers read.
import type { KubeObject, LabelSelector, OwnerReference } from '../core/types.ts';
import { labelSelectorRequirements, matchesLabels } from '../core/selectors.ts';
import { keyOf } from '../client/informer.ts';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastUpdateTime?: string;
  lastHeartbeatTime?: string;
  lastProbeTime?: string | null;
}

/** The ownerReference marked controller: true, if any. */
export function controllerRef(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

/** The informer key of `obj`'s controller when it is of this kind (and apiVersion, when given). */
export function controllerKeyOf(obj: KubeObject, kind: string, apiVersion?: string): string | undefined {
  const ref = controllerRef(obj);
  if (ref?.kind !== kind || (apiVersion !== undefined && ref.apiVersion !== apiVersion)) return undefined;
  return keyOf(obj.metadata.namespace, ref.name);
}

export function ownerRefTo(owner: KubeObject, blockOwnerDeletion = true): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion,
  };
}

export function isControlledBy(obj: KubeObject, owner: KubeObject): boolean {
  const ref = controllerRef(obj);
  return ref !== undefined && ref.uid === owner.metadata.uid;
}

/** Selector match; a nil or empty LabelSelector matches nothing here (controllers never select everything). */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || (!selector.matchLabels && !selector.matchExpressions)) return false;
  const reqs = labelSelectorRequirements(selector);
  if (reqs.length === 0) return false;
  return matchesLabels(reqs, labels);
}

export function conditionOf(obj: KubeObject, type: string): Condition | undefined {
  const status = obj.status as { conditions?: Condition[] } | undefined;
  return status?.conditions?.find((c) => c.type === type);
}

export function isBeingDeleted(obj: KubeObject): boolean {
  return Boolean(obj.metadata.deletionTimestamp);
}

export function podPhase(pod: KubeObject): string {
  return ((pod.status as { phase?: string } | undefined)?.phase) ?? 'Pending';
}

export function isPodTerminal(pod: KubeObject): boolean {
  const phase = podPhase(pod);
  return phase === 'Succeeded' || phase === 'Failed';
}

export function isPodReady(pod: KubeObject): boolean {
  return conditionOf(pod, 'Ready')?.status === 'True';
}

/** Ready for at least minReadySeconds at nowMs. */
export function isPodAvailable(pod: KubeObject, minReadySeconds: number, nowMs: number): boolean {
  const ready = conditionOf(pod, 'Ready');
  if (ready?.status !== 'True') return false;
  if (minReadySeconds <= 0) return true;
  const since = ready.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : NaN;
  return Number.isFinite(since) && since + minReadySeconds * 1000 <= nowMs;
}

/** JSON with object keys sorted: equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** FNV-1a, 32 bits. */
export function fnv32a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

// k8s.io/apimachinery/pkg/util/rand.SafeEncodeString: no vowels, no confusable characters.
const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export function safeEncode(n: number): string {
  return String(n)
    .split('')
    .map((d) => SAFE_ALPHABET[Number(d)])
    .join('');
}

/** A short, stable, DNS-safe hash of any JSON value. */
export function stableHash(value: unknown): string {
  return safeEncode(fnv32a(canonicalJson(value)));
}

/** Sort by creation time then name (oldest first). */
export function byAge(a: KubeObject, b: KubeObject): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
}

/** Keeps a condition's lastTransitionTime when its status did not change. */
export function mergeCondition(existing: Condition[] | undefined, next: Condition, now: string): Condition[] {
  const list = (existing ?? []).filter((c) => c.type !== next.type);
  const old = existing?.find((c) => c.type === next.type);
  const sameStatus = old?.status === next.status;
  const unchanged = sameStatus && old?.reason === next.reason && old?.message === next.message;
  const merged: Condition = {
    ...next,
    lastTransitionTime: sameStatus && old?.lastTransitionTime ? old.lastTransitionTime : now,
  };
  if ('lastUpdateTime' in next) merged.lastUpdateTime = unchanged && old?.lastUpdateTime ? old.lastUpdateTime : now;
  return [...list, merged].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}
