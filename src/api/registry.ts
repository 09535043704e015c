// Object semantics over the Store: what get/list/create/update/patch/delete and
// the subresources mean (server-owned metadata, defaults, validation, status
// isolation, finalizers, graceful deletion, optimistic concurrency). The rules
// themselves are pure functions in object-rules.ts; this file does the I/O.
import { randomUUID } from 'node:crypto';
import { KubeError, alreadyExists, conflict, invalid, isKubeError, notFound } from '../core/errors.ts';
import { RESOURCES, apiVersionOf, type ResourceInfo } from '../core/resources.ts';
import {
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  type FieldRequirement,
  type Requirement,
} from '../core/selectors.ts';
import type { Json, JsonObject, KubeObject, StatusCause } from '../core/types.ts';
import type { Store } from '../store/types.ts';
import { decideEviction, pdbCovers } from '../core/disruption.ts';
import { PODDISRUPTIONBUDGETS } from '../core/well-known.ts';
import { applyJsonPatch, applyMergePatch, applyServerSideApply, applyStrategicMergePatch } from './patch.ts';
import { applyDefaults, unknownTopLevelFields, validateObject } from './validation.ts';
import { ClusterIpAllocator } from './cluster-ip.ts';
import { NodePortAllocator } from './node-ports.ts';
import { DEFAULT_ADMISSION, admitObject, selectableFieldValue, strategyFor, supportedFieldSelectors } from './kinds/index.ts';
import type { AdmissionSettings, HookContext, PreparedWrite } from './kinds/strategy.ts';
import type { DefaultTolerationSeconds } from './default-tolerations.ts';
import { decodeContinue, expiredContinue, pageOf, parseLimit, type Page } from './list-pages.ts';
import { mediaType, successStatus } from './http-io.ts';
import {
  asRecord,
  bindPod,
  checkBody,
  decideDeletion,
  parseDeleteOptions,
  prepareForCreate,
  prepareForFinalize,
  prepareForStatusUpdate,
  prepareForUpdate,
  scaleReplicas,
  shouldDeleteDuringUpdate,
  toScale,
  type DeleteOptions,
} from './object-rules.ts';
import type { ResourceRoute } from './router.ts';
import { unknownFields, upstreamShape } from './protobuf/object-shape.ts';

export interface Reply {
  code: number;
  body: unknown;
}

/**
 * Admission for one write, seen by the caller (the API server knows who asks): the
 * object as stored before (undefined for a create) and as it would be stored. Throws
 * (a KubeError) to refuse; nothing is written then.
 */
export type Admit = (old: KubeObject | undefined, next: KubeObject) => void;

export interface Filter {
  labels: Requirement[];
  fields: FieldRequirement[];
  /** How the resource's field selectors read an object. */
  fieldValue: (obj: KubeObject, field: string) => string;
  /** Set when the request names one object (a watch on an item). */
  name?: string;
}

const MAX_RETRIES = 8;

/** pods/log is a stream the API server proxies from the node's kubelet (src/api/pod-logs.ts), never a registry read. */
export function podLogsUnavailable(namespace: string, name: string): never {
  throw new KubeError(
    'InternalError',
    `logs for pod "${name}" in namespace "${namespace}" are served by the log proxy, not the registry`,
    { name, kind: 'pods' },
  );
}

export function parseFilter(info: ResourceInfo, query: URLSearchParams, name?: string): Filter {
  return {
    labels: parseLabelSelector(query.get('labelSelector') ?? ''),
    fields: parseFieldSelector(query.get('fieldSelector') ?? '', supportedFieldSelectors(info)),
    fieldValue: (obj, field) => selectableFieldValue(info, obj, field),
    name,
  };
}

export function matchesFilter(filter: Filter, obj: KubeObject): boolean {
  if (filter.name !== undefined && obj.metadata.name !== filter.name) return false;
  return matchesLabels(filter.labels, obj.metadata.labels) && matchesFields(filter.fields, obj, filter.fieldValue);
}

function strictFieldCheck(info: ResourceInfo, obj: KubeObject, query: URLSearchParams): void {
  if (query.get('fieldValidation') !== 'Strict') return;
  const unknown = unknownFields(obj) ?? unknownTopLevelFields(info, obj);
  if (unknown.length > 0) {
    throw new KubeError('BadRequest', `strict decoding error: ${unknown.map((f: string) => `unknown field "${f}"`).join(', ')}`);
  }
}

function requireBody(body: Json | undefined): Json {
  if (body === undefined) throw new KubeError('BadRequest', 'the request body is empty');
  return body;
}

export class Registry {
  constructor(
    readonly store: Store,
    opts: { now?: () => Date; clusterIps?: ClusterIpAllocator; nodePorts?: NodePortAllocator; defaultTolerations?: DefaultTolerationSeconds } = {},
  ) {
    this.now = opts.now ?? (() => new Date());
    this.admission = opts.defaultTolerations ? { ...DEFAULT_ADMISSION, defaultTolerations: opts.defaultTolerations } : DEFAULT_ADMISSION;
    this.hooks = {
      store,
      clusterIps: opts.clusterIps ?? new ClusterIpAllocator(store.leases),
      nodePorts: opts.nodePorts ?? new NodePortAllocator(store.leases),
    };
  }

  private readonly now: () => Date;
  /** The server's admission settings (default tolerations). */
  private readonly admission: AdmissionSettings;
  /** What the kinds' write hooks use (allocators). */
  private readonly hooks: HookContext;

  /** At start: every kind's repair of its allocations (reservations whose object is gone). Returns how many were freed. */
  async repairAllocations(): Promise<number> {
    let freed = 0;
    for (const info of RESOURCES) freed += (await strategyFor(info).writeHooks?.repair?.(this.hooks)) ?? 0;
    return freed;
  }

  /** Deletes from the store and frees what the object held (a Service's ClusterIP and node ports). */
  private async storeDelete(route: ResourceRoute, resourceVersion: string | undefined): Promise<KubeObject> {
    const deleted = await this.store.delete(route.gr, route.namespace ?? '', route.name ?? '', { resourceVersion });
    await strategyFor(route.info).writeHooks?.afterDelete(deleted, this.hooks);
    return deleted;
  }

  // ------------------------------------------------------------------ reads

  async getObject(route: ResourceRoute): Promise<KubeObject> {
    const { info, gr, name } = route;
    const ns = route.namespace ?? '';
    const obj = await this.store.get(gr, ns, name ?? '');
    if (!obj) throw notFound(info.resource, info.group, name ?? '');
    return obj;
  }

  /** GET on an item or a subresource: the object, or a Scale. */
  async get(route: ResourceRoute): Promise<Reply> {
    if (route.subresource === 'log') podLogsUnavailable(route.namespace ?? '', route.name ?? '');
    if (route.subresource === 'binding' || route.subresource === 'eviction' || route.subresource === 'finalize') {
      throw new KubeError('MethodNotAllowed', `GET is not supported on ${route.info.resource}/${route.subresource}`);
    }
    const obj = await this.getObject(route);
    return { code: 200, body: route.subresource === 'scale' ? toScale(obj) : obj };
  }

  /**
   * A list page: filtered; with continue, the rest of the list at the first page's
   * version, served by any API server on the same store (list-pages.ts).
   */
  async list(route: ResourceRoute, query: URLSearchParams): Promise<Page> {
    const filter = parseFilter(route.info, query);
    const limit = parseLimit(query.get('limit'));
    const text = query.get('continue');
    let snapshot;
    if (text) {
      const token = decodeContinue(text);
      try {
        snapshot = await this.store.listAt(route.gr, route.namespace, token.resourceVersion, token.start);
      } catch (err) {
        if (isKubeError(err, 'Expired') || isKubeError(err, 'Gone')) throw expiredContinue();
        throw err;
      }
    } else {
      snapshot = await this.store.list(route.gr, route.namespace);
    }
    return pageOf(snapshot.items.filter((o) => matchesFilter(filter, o)), snapshot.resourceVersion, limit);
  }

  // ----------------------------------------------------------------- create

  async create(route: ResourceRoute, body: Json | undefined, query: URLSearchParams, admit?: Admit): Promise<Reply> {
    if (route.subresource === 'binding') return this.bind(route, requireBody(body));
    if (route.subresource === 'eviction') return this.evict(route, requireBody(body));
    if (route.subresource) throw new KubeError('MethodNotAllowed', `POST is not supported on ${route.info.resource}/${route.subresource}`);
    const obj = checkBody(requireBody(body), { apiVersion: apiVersionOf(route.info), kind: route.info.kind }, route.namespace, undefined);
    strictFieldCheck(route.info, obj, query);
    return { code: 201, body: await this.createObject(route.info, route.gr, obj, route.namespace, admit) };
  }

  private async createObject(info: ResourceInfo, gr: string, input: KubeObject, namespace: string | undefined, admit?: Admit): Promise<KubeObject> {
    if (!input.metadata.name && !input.metadata.generateName) {
      throw invalid(info.kind, info.group, '', [
        { reason: 'FieldValueRequired', field: 'metadata.name', message: 'name or generateName is required' },
      ]);
    }
    if (info.namespaced) await this.ensureNamespaceWritable(namespace ?? '');
    for (let attempt = 0; ; attempt++) {
      const prepared = prepareForCreate(info, input, { namespace, now: this.now(), uid: randomUUID() });
      let obj = admitObject(info, applyDefaults(info, prepared), undefined, this.admission);
      this.validate(info, obj);
      admit?.(undefined, obj);
      const hooks = strategyFor(info).writeHooks;
      const allocated = hooks ? await hooks.beforeCreate(obj, this.hooks) : undefined;
      obj = upstreamShape(allocated?.object ?? obj);
      try {
        const created = await this.store.create(gr, obj);
        await allocated?.commit();
        return created;
      } catch (err) {
        await allocated?.undo();
        if (!isKubeError(err, 'AlreadyExists')) throw err;
        // A generated name may collide: try another suffix.
        if (input.metadata.name || attempt >= MAX_RETRIES) throw alreadyExists(info.resource, info.group, obj.metadata.name ?? '');
      }
    }
  }

  private validate(info: ResourceInfo, obj: KubeObject, old?: KubeObject): void {
    const causes: StatusCause[] = validateObject(info, obj, old);
    if (causes.length > 0) throw invalid(info.kind, info.group, obj.metadata.name ?? '', causes);
  }

  private async ensureNamespaceWritable(namespace: string): Promise<void> {
    const ns = await this.store.get('namespaces', '', namespace);
    if (!ns) throw notFound('namespaces', '', namespace);
    if (ns.metadata.deletionTimestamp || asRecord(ns.status)?.phase === 'Terminating') {
      throw new KubeError('Forbidden', `unable to create new content in namespace ${namespace} because it is being terminated`, {
        name: namespace,
        kind: 'namespaces',
      });
    }
  }

  // ----------------------------------------------------------------- update

  /**
   * Read-modify-write with optimistic concurrency. mutate gets the current
   * object and returns what to store. With a caller-given resourceVersion a
   * mismatch is 409; without one, conflicts with concurrent writers are retried.
   */
  private async guaranteedUpdate(
    route: ResourceRoute,
    mutate: (old: KubeObject) => KubeObject,
    userResourceVersion?: string,
  ): Promise<KubeObject> {
    const { info, gr } = route;
    const name = route.name ?? '';
    for (let attempt = 0; ; attempt++) {
      const old = await this.getObject(route);
      if (userResourceVersion && userResourceVersion !== old.metadata.resourceVersion) {
        throw conflict(info.resource, info.group, name, 'the object has been modified; please apply your changes to the latest version and try again');
      }
      let next = upstreamShape(mutate(old));
      next.metadata.resourceVersion = old.metadata.resourceVersion;
      // The kind's allocations (a Service turned NodePort gets node ports, one turned ExternalName frees its address).
      const hooks = strategyFor(info).writeHooks;
      const allocated: PreparedWrite | undefined = hooks && !shouldDeleteDuringUpdate(info, next) ? await hooks.beforeUpdate(old, next, this.hooks) : undefined;
      if (allocated) next = allocated.object;
      let saved: KubeObject;
      try {
        if (shouldDeleteDuringUpdate(info, next)) {
          return await this.storeDelete(route, old.metadata.resourceVersion);
        }
        saved = await this.store.update(gr, next);
      } catch (err) {
        await allocated?.undo();
        if (userResourceVersion || !isKubeError(err, 'Conflict') || attempt >= MAX_RETRIES) {
          if (isKubeError(err, 'Conflict')) {
            throw conflict(info.resource, info.group, name, 'the object has been modified; please apply your changes to the latest version and try again');
          }
          throw err;
        }
        continue;
      }
      await allocated?.commit();
      return saved;
    }
  }

  /** Applies the update rules for the route's subresource and validates. */
  private updateRules(route: ResourceRoute, old: KubeObject, candidate: KubeObject, admit?: Admit): KubeObject {
    const { info } = route;
    let next: KubeObject;
    switch (route.subresource) {
      case 'status':
        next = prepareForStatusUpdate(info, old, candidate);
        break;
      case 'finalize':
        next = prepareForFinalize(old, candidate);
        break;
      case undefined:
        next = admitObject(info, applyDefaults(info, prepareForUpdate(info, old, candidate)), old);
        break;
      default:
        throw new KubeError('MethodNotAllowed', `updates are not supported on ${info.resource}/${route.subresource}`);
    }
    this.validate(info, next, old);
    admit?.(old, next);
    return next;
  }

  async update(route: ResourceRoute, body: Json | undefined, query: URLSearchParams, admit?: Admit): Promise<Reply> {
    const { info } = route;
    const name = route.name ?? '';
    if (route.subresource === 'scale') return this.updateScale(route, requireBody(body));
    if (route.subresource === 'log' || route.subresource === 'binding' || route.subresource === 'eviction') {
      throw new KubeError('MethodNotAllowed', `PUT is not supported on ${info.resource}/${route.subresource}`);
    }
    const candidate = checkBody(requireBody(body), { apiVersion: apiVersionOf(info), kind: info.kind }, route.namespace, name);
    if (!route.subresource) strictFieldCheck(info, candidate, query);
    const exists = await this.store.get(route.gr, route.namespace ?? '', name);
    if (!exists && !route.subresource && strategyFor(info).createOnUpdate) {
      candidate.metadata.name = name;
      return { code: 201, body: await this.createObject(info, route.gr, candidate, route.namespace, admit) };
    }
    const saved = await this.guaranteedUpdate(route, (old) => this.updateRules(route, old, candidate, admit), candidate.metadata.resourceVersion || undefined);
    return { code: 200, body: saved };
  }

  private async updateScale(route: ResourceRoute, body: Json): Promise<Reply> {
    const scale = checkBody(body, { apiVersion: 'autoscaling/v1', kind: 'Scale' }, route.namespace, route.name);
    const replicas = scaleReplicas(route.name ?? '', scale);
    const saved = await this.guaranteedUpdate(
      route,
      (old) => this.withReplicas(route, old, replicas),
      scale.metadata.resourceVersion || undefined,
    );
    return { code: 200, body: toScale(saved) };
  }

  private withReplicas(route: ResourceRoute, old: KubeObject, replicas: number): KubeObject {
    const next = structuredClone(old);
    next.spec = { ...(asRecord(old.spec) ?? {}), replicas };
    return this.updateRules({ ...route, subresource: undefined }, old, next);
  }

  // ------------------------------------------------------------------ patch

  async patch(route: ResourceRoute, body: Json | undefined, contentType: string | undefined, query: URLSearchParams, admit?: Admit): Promise<Reply> {
    const { info } = route;
    const type = mediaType(contentType);
    const patch = requireBody(body);
    if (route.subresource === 'log' || route.subresource === 'binding' || route.subresource === 'eviction' || route.subresource === 'finalize') {
      throw new KubeError('MethodNotAllowed', `PATCH is not supported on ${info.resource}/${route.subresource}`);
    }
    if (type === 'application/apply-patch+yaml') return this.apply(route, patch, query, admit);
    const applyPatch = this.patcher(type, route);
    if (route.subresource === 'scale') {
      const saved = await this.guaranteedUpdate(route, (old) => {
        const patched = asRecord(applyPatch(toScale(old) as unknown as Json, patch));
        if (!patched) throw new KubeError('BadRequest', 'the patch did not produce an object');
        return this.withReplicas(route, old, scaleReplicas(route.name ?? '', patched));
      });
      return { code: 200, body: toScale(saved) };
    }
    const saved = await this.guaranteedUpdate(route, (old) => {
      const patched = checkBody(applyPatch(old as unknown as Json, patch), { apiVersion: old.apiVersion, kind: old.kind }, route.namespace, route.name);
      const rv = patched.metadata.resourceVersion;
      // A resourceVersion inside the patch is a precondition.
      if (rv && rv !== old.metadata.resourceVersion) {
        throw conflict(info.resource, info.group, route.name ?? '', 'the object has been modified; please apply your changes to the latest version and try again');
      }
      if (!route.subresource) strictFieldCheck(info, patched, query);
      return this.updateRules(route, old, patched, admit);
    });
    return { code: 200, body: saved };
  }

  private patcher(type: string, route: ResourceRoute): (target: Json, patch: Json) => Json {
    switch (type) {
      case 'application/merge-patch+json':
        return applyMergePatch;
      case 'application/json-patch+json':
        return applyJsonPatch;
      case 'application/strategic-merge-patch+json':
        if (route.subresource === 'scale') return applyMergePatch;
        return (target, patch) => {
          const t = asRecord(target);
          const p = asRecord(patch);
          if (!t || !p) throw new KubeError('BadRequest', 'a strategic merge patch must be an object');
          return applyStrategicMergePatch(t as JsonObject, p as JsonObject, route.info);
        };
      default:
        throw new KubeError('UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`);
    }
  }

  /** Server-side apply: create when absent (201), else merge the applied fields (200). */
  private async apply(route: ResourceRoute, patch: Json, query: URLSearchParams, admit?: Admit): Promise<Reply> {
    const { info } = route;
    const fieldManager = query.get('fieldManager');
    if (!fieldManager) throw new KubeError('BadRequest', 'PATCH requests with apply content type require fieldManager');
    if (route.subresource === 'scale') throw new KubeError('UnsupportedMediaType', 'apply patches are not supported on the scale subresource');
    const applied = checkBody(patch, { apiVersion: apiVersionOf(info), kind: info.kind }, route.namespace, route.name);
    applied.metadata.name = route.name;
    strictFieldCheck(info, applied, query);
    for (let attempt = 0; ; attempt++) {
      const existing = await this.store.get(route.gr, route.namespace ?? '', route.name ?? '');
      if (!existing) {
        if (route.subresource) throw notFound(info.resource, info.group, route.name ?? '');
        const created = applyServerSideApply(undefined, applied, info, fieldManager);
        try {
          return { code: 201, body: await this.createObject(info, route.gr, created, route.namespace, admit) };
        } catch (err) {
          if (isKubeError(err, 'AlreadyExists') && attempt < MAX_RETRIES) continue;
          throw err;
        }
      }
      try {
        const saved = await this.guaranteedUpdate(route, (old) =>
          this.updateRules(route, old, applyServerSideApply(old, applied, info, fieldManager), admit),
          applied.metadata.resourceVersion || undefined,
        );
        return { code: 200, body: saved };
      } catch (err) {
        if (isKubeError(err, 'NotFound') && attempt < MAX_RETRIES) continue;
        throw err;
      }
    }
  }

  // ---------------------------------------------------------------- binding

  private async bind(route: ResourceRoute, body: Json): Promise<Reply> {
    const binding = checkBody(body, { apiVersion: 'v1', kind: 'Binding' }, route.namespace, route.name);
    const target = asRecord(binding.target);
    const nodeName = target?.name;
    if (typeof nodeName !== 'string' || nodeName === '') {
      throw invalid('Binding', '', route.name ?? '', [{ reason: 'FieldValueRequired', field: 'target.name', message: 'Required value' }]);
    }
    const name = route.name ?? '';
    await this.guaranteedUpdate({ ...route, subresource: undefined }, (old) => {
      const current = asRecord(old.spec)?.nodeName;
      if (current) throw conflict('pods', '', name, `pod ${name} is already assigned to node "${String(current)}"`);
      if (old.metadata.deletionTimestamp) throw conflict('pods', '', name, `pod ${name} is being deleted, cannot be assigned to a host`);
      return bindPod(old, nodeName, this.now());
    });
    return { code: 201, body: successStatus(201) };
  }

  // --------------------------------------------------------------- eviction

  /**
   * POST pods/<name>/eviction: deletes the pod (with the Eviction's deleteOptions)
   * unless the PodDisruptionBudget covering it allows no disruption (429). An
   * approved eviction first charges the budget (status.disruptionsAllowed - 1 and
   * the pod in status.disruptedPods, written with the budget's resourceVersion so
   * that two evictions cannot spend one disruption), then deletes.
   */
  private async evict(route: ResourceRoute, body: Json): Promise<Reply> {
    const eviction = checkBody(body, { apiVersion: 'policy/v1', kind: 'Eviction' }, route.namespace, route.name);
    const raw = (eviction as unknown as JsonObject).deleteOptions;
    const opts = parseDeleteOptions(raw === null ? undefined : raw, new URLSearchParams());
    const podRoute: ResourceRoute = { ...route, subresource: undefined };
    const ns = route.namespace ?? '';
    for (let attempt = 0; ; attempt++) {
      const pod = await this.getObject(podRoute);
      const budgets = (await this.store.list(PODDISRUPTIONBUDGETS, ns)).items;
      const decision = decideEviction(pod, budgets, this.now().getTime());
      if (!decision.allow) {
        // No retryAfterSeconds: with a Retry-After header client-go would itself retry the POST up to 10 times
        // before kubectl drain saw the 429; without it drain prints the refusal and retries every 5 s.
        throw new KubeError(decision.code, decision.message, decision.cause ? { causes: [{ reason: 'DisruptionBudget', message: decision.cause }] } : undefined);
      }
      if (decision.status) {
        const budget = budgets.find((b) => pdbCovers(b, pod));
        if (!budget) throw new KubeError('InternalError', 'the covering disruption budget vanished');
        try {
          await this.store.update(PODDISRUPTIONBUDGETS, { ...budget, status: decision.status as unknown as JsonObject });
        } catch (err) {
          if (isKubeError(err, 'Conflict') && attempt < MAX_RETRIES) continue;
          throw err;
        }
      }
      await this.deleteOne(podRoute, opts);
      return { code: 201, body: successStatus(201) };
    }
  }

  // ----------------------------------------------------------------- delete

  async delete(route: ResourceRoute, body: Json | undefined, query: URLSearchParams): Promise<Reply> {
    const opts = parseDeleteOptions(body, query);
    return { code: 200, body: await this.deleteOne(route, opts) };
  }

  private async deleteOne(route: ResourceRoute, opts: DeleteOptions): Promise<KubeObject> {
    const { info, gr } = route;
    const name = route.name ?? '';
    const forbidden = strategyFor(info).deletion?.forbidden?.(name);
    if (forbidden) throw new KubeError('Forbidden', forbidden, { name, kind: info.resource });
    const pre = opts.preconditions ?? {};
    for (let attempt = 0; ; attempt++) {
      const old = await this.getObject(route);
      if (pre.uid && pre.uid !== old.metadata.uid) {
        throw conflict(info.resource, info.group, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid ?? ''}`);
      }
      if (pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
        throw conflict(info.resource, info.group, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion ?? ''}`);
      }
      const decision = decideDeletion(info, old, opts, this.now());
      try {
        switch (decision.action) {
          case 'unchanged':
            return old;
          case 'delete':
            return await this.storeDelete(route, old.metadata.resourceVersion);
          case 'mark':
            return await this.store.update(gr, { ...decision.object, metadata: { ...decision.object.metadata, resourceVersion: old.metadata.resourceVersion } });
        }
      } catch (err) {
        if (isKubeError(err, 'Conflict') && attempt < MAX_RETRIES) continue;
        if (isKubeError(err, 'NotFound')) throw notFound(info.resource, info.group, name);
        throw err;
      }
    }
  }

  /** DELETE on a collection: every (selected) object, deleted as a single DELETE would. Replies with the list. */
  async deleteCollection(route: ResourceRoute, body: Json | undefined, query: URLSearchParams): Promise<Reply> {
    const opts = parseDeleteOptions(body, query);
    const filter = parseFilter(route.info, query);
    const snapshot = await this.store.list(route.gr, route.namespace);
    const items: KubeObject[] = [];
    const forbidden = strategyFor(route.info).deletion?.forbidden;
    for (const obj of snapshot.items.filter((o) => matchesFilter(filter, o))) {
      // Objects that may never be deleted (protected namespaces) are skipped, not a failure of the whole collection.
      if (forbidden?.(obj.metadata.name ?? '')) continue;
      try {
        items.push(await this.deleteOne({ ...route, namespace: obj.metadata.namespace || undefined, name: obj.metadata.name, verb: 'delete' }, opts));
      } catch (err) {
        if (isKubeError(err, 'NotFound')) continue;
        throw err;
      }
    }
    return {
      code: 200,
      body: { kind: route.info.listKind, apiVersion: apiVersionOf(route.info), metadata: { resourceVersion: await this.store.currentResourceVersion() }, items },
    };
  }
}
