// The pure object rules of the registry: what create, update, status updates,
// scale and deletion do to an object, for every kind, with the kind's own
// parts asked of its strategy (src/api/kinds/). No I/O; registry.ts applies
// the results.
import { randomBytes } from 'node:crypto';
import { deepEqual } from '../core/deep-equal.ts';
import { KubeError } from '../core/errors.ts';
import { kubeTime } from '../core/time.ts';
import { apiVersionOf, type ResourceInfo } from '../core/resources.ts';
import { formatLabelSelector } from '../core/selectors.ts';
import type { Json, KubeObject, LabelSelector } from '../core/types.ts';
import { strategyFor } from './kinds/index.ts';
import { queryFlag } from './query-params.ts';

export type Rec = Record<string, unknown>;

export function asRecord(v: unknown): Rec | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : undefined;
}


const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';
/** Five random characters, as the Kubernetes name generator appends. */
export function randomSuffix(): string {
  const bytes = randomBytes(5);
  return [...bytes].map((b) => NAME_CHARS[b % NAME_CHARS.length]).join('');
}

export function hasStatusSubresource(info: ResourceInfo): boolean {
  return info.subresources.includes('status');
}

/** Kinds whose create ignores a status in the body (their status is the controllers' / kubelet's). */
function createResetsStatus(info: ResourceInfo): boolean {
  return hasStatusSubresource(info) && !strategyFor(info).createKeepsStatus;
}

/** Checks a decoded body against the URL: an object, matching apiVersion/kind (filled in when absent), namespace, name. */
export function checkBody(
  body: Json | undefined,
  expected: { apiVersion: string; kind: string },
  namespace: string | undefined,
  name: string | undefined,
): KubeObject {
  const obj = asRecord(body);
  if (!obj) throw new KubeError('BadRequest', 'the request body must be a JSON or YAML object');
  const apiVersion = obj.apiVersion ?? expected.apiVersion;
  const kind = obj.kind ?? expected.kind;
  if (apiVersion !== expected.apiVersion) {
    throw new KubeError('BadRequest', `the API version in the data (${String(apiVersion)}) does not match the expected API version (${expected.apiVersion})`);
  }
  if (kind !== expected.kind) {
    throw new KubeError('BadRequest', `the kind in the data (${String(kind)}) does not match the expected kind (${expected.kind})`);
  }
  const metaIn = obj.metadata ?? {};
  const meta = asRecord(metaIn);
  if (!meta) throw new KubeError('BadRequest', 'metadata must be an object');
  if (namespace !== undefined && meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== namespace) {
    throw new KubeError('BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
  }
  if (name !== undefined && meta.name !== undefined && meta.name !== '' && meta.name !== name) {
    throw new KubeError('BadRequest', `the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`);
  }
  return { ...obj, apiVersion, kind, metadata: { ...meta } } as KubeObject;
}

/**
 * What a create stores (before defaults and validation): server-owned metadata
 * set, namespace from the URL, name generated from generateName, status reset
 * for kinds whose status belongs to a status subresource.
 */
export function prepareForCreate(
  info: ResourceInfo,
  input: KubeObject,
  ctx: { namespace?: string; now: Date; uid: string; suffix?: () => string },
): KubeObject {
  const obj = structuredClone(input);
  const meta = obj.metadata;
  if (info.namespaced) meta.namespace = ctx.namespace;
  else delete meta.namespace;
  if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${(ctx.suffix ?? randomSuffix)()}`;
  meta.uid = ctx.uid;
  meta.creationTimestamp = kubeTime(ctx.now);
  delete meta.resourceVersion;
  delete meta.deletionTimestamp;
  delete meta.deletionGracePeriodSeconds;
  if (obj.spec !== undefined) meta.generation = 1;
  else delete meta.generation;
  if (createResetsStatus(info)) delete obj.status;
  obj.apiVersion = apiVersionOf(info);
  obj.kind = info.kind;
  return obj;
}

/** Fields the server owns and an update may not change. */
function preserveServerMetadata(old: KubeObject, next: KubeObject): void {
  const m = next.metadata;
  const o = old.metadata;
  m.name = o.name;
  if (o.namespace !== undefined) m.namespace = o.namespace;
  else delete m.namespace;
  m.uid = o.uid;
  m.creationTimestamp = o.creationTimestamp;
  if (o.deletionTimestamp !== undefined) m.deletionTimestamp = o.deletionTimestamp;
  else delete m.deletionTimestamp;
  if (o.deletionGracePeriodSeconds !== undefined) m.deletionGracePeriodSeconds = o.deletionGracePeriodSeconds;
  else delete m.deletionGracePeriodSeconds;
  if (o.generation !== undefined) m.generation = o.generation;
  else delete m.generation;
  if (o.generateName !== undefined && m.generateName === undefined) m.generateName = o.generateName;
}

/**
 * What an update of the main resource stores: server metadata kept, status kept
 * for kinds with a status subresource, the kind's own update rules applied (a
 * namespace keeps spec.finalizers, a Service its allocated values), generation
 * bumped when the spec changed.
 */
export function prepareForUpdate(info: ResourceInfo, old: KubeObject, input: KubeObject): KubeObject {
  const next = structuredClone(input);
  next.apiVersion = old.apiVersion;
  next.kind = old.kind;
  preserveServerMetadata(old, next);
  if (hasStatusSubresource(info)) {
    if (old.status === undefined) delete next.status;
    else next.status = structuredClone(old.status);
  }
  strategyFor(info).prepareUpdate?.(old, next);
  if (!deepEqual(old.spec, next.spec)) next.metadata.generation = (old.metadata.generation ?? 0) + 1;
  return next;
}

/**
 * What a status-subresource update stores: the old object with the new status.
 * Namespaces also take spec.finalizers from it (so a namespace controller may
 * finalize through the status subresource as well as through /finalize).
 */
export function prepareForStatusUpdate(info: ResourceInfo, old: KubeObject, input: KubeObject): KubeObject {
  const next = structuredClone(old);
  if (input.status === undefined) delete next.status;
  else next.status = structuredClone(input.status);
  strategyFor(info).prepareStatusUpdate?.(old, input, next);
  return next;
}

/** What PUT /namespaces/<n>/finalize stores: the old namespace with the new spec.finalizers. */
export function prepareForFinalize(old: KubeObject, input: KubeObject): KubeObject {
  const next = structuredClone(old);
  const finalizers = asRecord(input.spec)?.finalizers;
  next.spec = { ...(asRecord(old.spec) ?? {}), finalizers: Array.isArray(finalizers) ? structuredClone(finalizers) : [] };
  return next;
}

/** An object marked for deletion whose finalizers are all gone (and grace is over) is deleted by the update that clears them. */
export function shouldDeleteDuringUpdate(info: ResourceInfo, obj: KubeObject): boolean {
  const m = obj.metadata;
  if (!m.deletionTimestamp) return false;
  if ((m.finalizers ?? []).length > 0) return false;
  const heldBy = strategyFor(info).deletion?.heldBy;
  if (heldBy) return !heldBy(obj);
  return (m.deletionGracePeriodSeconds ?? 0) === 0;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  preconditions?: { resourceVersion?: string; uid?: string };
}

export type DeletionDecision =
  | { action: 'delete' }
  | { action: 'mark'; object: KubeObject }
  | { action: 'unchanged' };

/**
 * What DELETE does to an object: remove it now, or mark it (deletionTimestamp)
 * while finalizers, the kind's own finalizers (a namespace's spec.finalizers:
 * it goes through Terminating) or a grace period (pods) hold it.
 */
export function decideDeletion(info: ResourceInfo, obj: KubeObject, opts: DeleteOptions, now: Date): DeletionDecision {
  const finalizers = [...(obj.metadata.finalizers ?? [])];
  const policyFinalizer = opts.propagationPolicy === 'Foreground' ? 'foregroundDeletion' : opts.propagationPolicy === 'Orphan' ? 'orphan' : undefined;
  const rules = strategyFor(info).deletion;
  const grace = rules?.gracePeriod?.(obj, opts.gracePeriodSeconds) ?? 0;
  const held = rules?.heldBy?.(obj) ?? false;
  if (finalizers.length === 0 && grace === 0 && !held && !policyFinalizer) return { action: 'delete' };
  if (policyFinalizer && !finalizers.includes(policyFinalizer)) finalizers.push(policyFinalizer);
  const next = structuredClone(obj);
  const m = next.metadata;
  const until = new Date(now.getTime() + grace * 1000);
  if (!m.deletionTimestamp || Date.parse(m.deletionTimestamp) > until.getTime()) m.deletionTimestamp = kubeTime(until);
  m.deletionGracePeriodSeconds = Math.min(grace, m.deletionGracePeriodSeconds ?? grace);
  if (finalizers.length > 0) m.finalizers = finalizers;
  rules?.onMark?.(next);
  if (deepEqual(next, obj)) return { action: 'unchanged' };
  return { action: 'mark', object: next };
}

/** A DeleteOptions from a DELETE body (JSON) and/or query parameters. */
export function parseDeleteOptions(body: Json | undefined, query: URLSearchParams): DeleteOptions {
  const opts: DeleteOptions = {};
  const b = body === undefined ? {} : asRecord(body);
  if (!b) throw new KubeError('BadRequest', 'DeleteOptions must be an object');
  const grace = b.gracePeriodSeconds ?? (query.has('gracePeriodSeconds') ? Number(query.get('gracePeriodSeconds')) : undefined);
  if (grace !== undefined && grace !== null) {
    if (typeof grace !== 'number' || !Number.isInteger(grace)) throw new KubeError('BadRequest', 'gracePeriodSeconds must be an integer');
    opts.gracePeriodSeconds = Math.max(0, grace);
  }
  let policy = b.propagationPolicy ?? query.get('propagationPolicy') ?? undefined;
  if (policy === undefined && (b.orphanDependents === true || queryFlag(query, 'orphanDependents'))) policy = 'Orphan';
  if (policy !== undefined && policy !== null) {
    if (policy !== 'Background' && policy !== 'Foreground' && policy !== 'Orphan') {
      throw new KubeError('BadRequest', `propagationPolicy: unsupported value "${String(policy)}": use Background, Foreground or Orphan`);
    }
    opts.propagationPolicy = policy;
  }
  const pre = asRecord(b.preconditions);
  if (pre) {
    opts.preconditions = {};
    if (typeof pre.resourceVersion === 'string') opts.preconditions.resourceVersion = pre.resourceVersion;
    if (typeof pre.uid === 'string') opts.preconditions.uid = pre.uid;
  }
  return opts;
}

export interface Scale {
  kind: 'Scale';
  apiVersion: 'autoscaling/v1';
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; creationTimestamp?: string };
  spec: { replicas: number };
  status: { replicas: number; selector?: string };
}

/** The autoscaling/v1 Scale view of a deployment or replica set. */
export function toScale(obj: KubeObject): Scale {
  const spec = asRecord(obj.spec) ?? {};
  const status = asRecord(obj.status) ?? {};
  const selector = asRecord(spec.selector) as LabelSelector | undefined;
  const m = obj.metadata;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
    spec: { replicas: typeof spec.replicas === 'number' ? spec.replicas : 0 },
    status: { replicas: typeof status.replicas === 'number' ? status.replicas : 0, ...(selector ? { selector: formatLabelSelector(selector) } : {}) },
  };
}

/** The replica count a Scale body asks for; 422 when missing or negative. */
export function scaleReplicas(name: string, body: Rec): number {
  const replicas = asRecord(body.spec)?.replicas;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw new KubeError('Invalid', `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas ?? null)}: must be a non-negative integer`, {
      name,
      group: 'autoscaling',
      kind: 'Scale',
      causes: [{ reason: 'FieldValueInvalid', field: 'spec.replicas', message: 'must be a non-negative integer' }],
    });
  }
  return replicas;
}

/** A pod bound to a node: spec.nodeName set and a PodScheduled=True condition. */
export function bindPod(pod: KubeObject, nodeName: string, now: Date): KubeObject {
  const next = structuredClone(pod);
  next.spec = { ...(asRecord(next.spec) ?? {}), nodeName };
  const status = { ...(asRecord(next.status) ?? {}) };
  const conditions = (Array.isArray(status.conditions) ? status.conditions : []).filter((c) => asRecord(c)?.type !== 'PodScheduled');
  conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: kubeTime(now) });
  status.conditions = conditions;
  next.status = status;
  return next;
}
