// The four PATCH flavours of the Kubernetes API, as pure functions over JSON:
//   - JSON merge patch (RFC 7386)            application/merge-patch+json
//   - JSON patch (RFC 6902)                  application/json-patch+json
//   - strategic merge patch                  application/strategic-merge-patch+json
//   - server-side apply (create-or-update)   application/apply-patch+yaml
// None of them mutates its inputs.
//
// Strategic merge patch: lists are replaced wholesale (atomic) unless the
// kind's strategy (src/api/kinds/, `listStrategies`) declares a patch merge key
// for their path (lists of objects merged element by element on that key) or
// marks them as a merged set of primitives, mirroring the `patchStrategy` /
// `patchMergeKey` tags of the k8s.io/api Go types.
// Directives: `$patch: replace|delete|merge` on objects and list elements,
// `$retainKeys`, `$deleteFromPrimitiveList/<field>`, `$setElementOrder/<field>`;
// `null` deletes a field. No `$` key ever survives into a result.
//
// Server-side apply: no field ownership and no conflicts. Absent → the applied
// object; present → the applied object merged into the existing one with
// strategic-merge semantics (fields the applied config omits are left alone;
// fields dropped from a previous apply are NOT removed). metadata.managedFields
// gets one entry per Apply manager, {manager, operation: 'Apply', apiVersion,
// time, fieldsType: 'FieldsV1', fieldsV1} where fieldsV1 lists the fields of
// the latest applied config in the FieldsV1 format (f:<field>, k:{<key>},
// v:<value>); entries of other managers are kept as they are.

import { deepEqual } from '../core/deep-equal.ts';
import { KubeError } from '../core/errors.ts';
import { kubeTime } from '../core/time.ts';
import type { ResourceInfo } from '../core/resources.ts';
import type { Json, JsonObject, KubeObject } from '../core/types.ts';
import { strategyFor } from './kinds/index.ts';
import { SET, byKey, type ListStrategies, type ListStrategy } from './kinds/strategy.ts';

// ------------------------------------------------------------ helpers

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function clone<T extends Json>(v: T): T {
  return structuredClone(v);
}

// ------------------------------------------------------------ RFC 7386

/** JSON merge patch: objects merge recursively, null deletes, anything else replaces. */
export function applyMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const result: JsonObject = isObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key] ?? null, value);
  }
  return result;
}

// ------------------------------------------------------------ RFC 6902

type Container = JsonObject | Json[];

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new KubeError('BadRequest', `invalid JSON pointer "${pointer}": must start with '/'`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function patchFailed(message: string): KubeError {
  return new KubeError('Invalid', `the JSON patch could not be applied: ${message}`);
}

function arrayIndex(seg: string, length: number, allowEnd: boolean, pointer: string): number {
  if (allowEnd && seg === '-') return length;
  if (!/^(0|[1-9]\d*)$/.test(seg)) throw patchFailed(`invalid array index "${seg}" in "${pointer}"`);
  const i = Number(seg);
  if (i > length || (!allowEnd && i >= length)) throw patchFailed(`array index ${i} out of bounds in "${pointer}"`);
  return i;
}

function getAt(doc: Json, segs: string[], pointer: string): Json {
  let cur: Json = doc;
  for (const seg of segs) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(seg, cur.length, false, pointer)];
    else if (isObject(cur) && Object.prototype.hasOwnProperty.call(cur, seg)) cur = cur[seg];
    else throw patchFailed(`path "${pointer}" does not exist`);
  }
  return cur;
}

function parentOf(doc: Json, segs: string[], pointer: string): { parent: Container; last: string } {
  const parent = getAt(doc, segs.slice(0, -1), pointer);
  if (!Array.isArray(parent) && !isObject(parent)) throw patchFailed(`parent of "${pointer}" is not an object or array`);
  return { parent, last: segs[segs.length - 1] };
}

function addAt(doc: Json, pointer: string, value: Json): Json {
  const segs = parsePointer(pointer);
  if (segs.length === 0) return value;
  const { parent, last } = parentOf(doc, segs, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true, pointer), 0, value);
  else parent[last] = value;
  return doc;
}

function removeAt(doc: Json, pointer: string): { doc: Json; removed: Json } {
  const segs = parsePointer(pointer);
  if (segs.length === 0) throw patchFailed('cannot remove the whole document');
  const { parent, last } = parentOf(doc, segs, pointer);
  if (Array.isArray(parent)) {
    const i = arrayIndex(last, parent.length, false, pointer);
    return { doc, removed: parent.splice(i, 1)[0] };
  }
  if (!Object.prototype.hasOwnProperty.call(parent, last)) throw patchFailed(`path "${pointer}" does not exist`);
  const removed = parent[last];
  delete parent[last];
  return { doc, removed };
}

function stringField(op: JsonObject, name: string, index: number): string {
  const v = op[name];
  if (typeof v !== 'string') throw new KubeError('BadRequest', `JSON patch operation ${index}: "${name}" must be a string`);
  return v;
}

/** RFC 6902 JSON patch. Malformed operations → BadRequest; operations that cannot apply (or a failed test) → Invalid. */
export function applyJsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw new KubeError('BadRequest', 'a JSON patch must be an array of operations');
  let doc = clone(target);
  ops.forEach((op, index) => {
    if (!isObject(op)) throw new KubeError('BadRequest', `JSON patch operation ${index} is not an object`);
    const kind = stringField(op, 'op', index);
    const path = stringField(op, 'path', index);
    const needValue = (): Json => {
      if (!Object.prototype.hasOwnProperty.call(op, 'value')) {
        throw new KubeError('BadRequest', `JSON patch operation ${index} (${kind}): missing "value"`);
      }
      return clone(op.value);
    };
    switch (kind) {
      case 'add':
        doc = addAt(doc, path, needValue());
        break;
      case 'remove':
        doc = removeAt(doc, path).doc;
        break;
      case 'replace': {
        const value = needValue();
        const segs = parsePointer(path);
        if (segs.length === 0) {
          doc = value;
          break;
        }
        getAt(doc, segs, path); // must exist
        const { parent, last } = parentOf(doc, segs, path);
        if (Array.isArray(parent)) parent[arrayIndex(last, parent.length, false, path)] = value;
        else parent[last] = value;
        break;
      }
      case 'move': {
        const from = stringField(op, 'from', index);
        if (path !== from && path.startsWith(`${from}/`)) throw patchFailed(`cannot move "${from}" into its own child "${path}"`);
        const { doc: rest, removed } = removeAt(doc, from);
        doc = addAt(rest, path, removed);
        break;
      }
      case 'copy': {
        const from = stringField(op, 'from', index);
        doc = addAt(doc, path, clone(getAt(doc, parsePointer(from), from)));
        break;
      }
      case 'test': {
        const value = needValue();
        if (!deepEqual(getAt(doc, parsePointer(path), path), value)) {
          throw patchFailed(`test operation for path "${path}" failed: the value differs`);
        }
        break;
      }
      default:
        throw new KubeError('BadRequest', `JSON patch operation ${index}: unknown op "${kind}"`);
    }
  });
  return doc;
}

// ------------------------------------------------------------ strategic merge patch: the list keys

const METADATA_LISTS: ListStrategies = {
  'metadata.finalizers': SET,
  'metadata.ownerReferences': byKey('uid'),
};

/** How the list at path merges: metadata's lists are every kind's; the rest are the kind strategy's. */
function listStrategy(kind: ListStrategies, path: readonly string[]): ListStrategy | undefined {
  const p = path.join('.');
  return METADATA_LISTS[p] ?? kind[p];
}

function listStrategiesOf(info: ResourceInfo): ListStrategies {
  return strategyFor(info).listStrategies ?? {};
}

// ------------------------------------------------------------ strategic merge patch: the merge

const DELETE = Symbol('delete');
const DELETE_LIST_PREFIX = '$deleteFromPrimitiveList/';
const ORDER_PREFIX = '$setElementOrder/';

function badPatch(message: string): KubeError {
  return new KubeError('BadRequest', `invalid strategic merge patch: ${message}`);
}

function patchDirective(obj: JsonObject, path: readonly string[]): 'replace' | 'delete' | 'merge' | undefined {
  const d = obj.$patch;
  if (d === undefined) return undefined;
  if (d === 'replace' || d === 'delete' || d === 'merge') return d;
  throw badPatch(`unknown $patch directive ${JSON.stringify(d)} at "${path.join('.')}"`);
}

function mergeMap(kind: ListStrategies, original: JsonObject, patch: JsonObject, path: readonly string[]): JsonObject {
  const directive = patchDirective(patch, path);
  if (directive === 'replace') {
    const { $patch: _, ...rest } = patch;
    return mergeMap(kind, {}, rest, path);
  }
  const result: JsonObject = { ...original };

  const retain = patch.$retainKeys;
  if (retain !== undefined) {
    if (!Array.isArray(retain) || !retain.every((k) => typeof k === 'string')) {
      throw badPatch(`$retainKeys at "${path.join('.')}" must be a list of strings`);
    }
    for (const key of Object.keys(result)) if (!retain.includes(key)) delete result[key];
  }

  const orders: [string, Json[]][] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith(DELETE_LIST_PREFIX)) {
      const field = key.slice(DELETE_LIST_PREFIX.length);
      if (!Array.isArray(value)) throw badPatch(`${key} must be a list`);
      const current = result[field];
      if (Array.isArray(current)) result[field] = current.filter((v) => !value.some((d) => deepEqual(d, v)));
    } else if (key.startsWith(ORDER_PREFIX)) {
      if (!Array.isArray(value)) throw badPatch(`${key} must be a list`);
      orders.push([key.slice(ORDER_PREFIX.length), value]);
    } else if (key.startsWith('$') && key !== '$patch' && key !== '$retainKeys') {
      throw badPatch(`unknown directive "${key}" at "${path.join('.')}"`);
    }
  }

  const before = { ...result };
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    if (value === null) {
      delete result[key];
      continue;
    }
    const merged = mergeValue(kind, result[key], value, [...path, key]);
    if (merged === DELETE) delete result[key];
    else result[key] = merged;
  }

  for (const [field, order] of orders) {
    const list = result[field];
    if (!Array.isArray(list)) continue;
    const server = before[field];
    result[field] = orderList(list, order, Array.isArray(server) ? server : [], listStrategy(kind, [...path, field]));
  }
  return result;
}

function mergeValue(kind: ListStrategies, original: Json | undefined, patch: Json, path: readonly string[]): Json | typeof DELETE {
  if (isObject(patch)) {
    if (patchDirective(patch, path) === 'delete') return DELETE;
    return mergeMap(kind, isObject(original) ? original : {}, patch, path);
  }
  if (Array.isArray(patch)) {
    return mergeList(kind, Array.isArray(original) ? original : [], patch, path);
  }
  return patch;
}

/** An element of a patch list cleaned as if merged into nothing (directives and nulls removed). */
function cleanElement(kind: ListStrategies, elem: Json, path: readonly string[]): Json {
  if (isObject(elem)) return mergeMap(kind, {}, elem, path);
  if (Array.isArray(elem)) return elem.map((e) => cleanElement(kind, e, path));
  return elem;
}

function isReplaceMarker(elem: Json): boolean {
  return isObject(elem) && elem.$patch === 'replace';
}

function mergeList(kind: ListStrategies, original: Json[], patch: Json[], path: readonly string[]): Json[] {
  const strategy = listStrategy(kind, path);
  if (!strategy) return patch.map((e) => cleanElement(kind, e, path));

  if (patch.some(isReplaceMarker)) {
    return patch.filter((e) => !isReplaceMarker(e)).map((e) => cleanElement(kind, e, path));
  }

  if ('set' in strategy) {
    const result = [...original];
    for (const v of patch) {
      if (isObject(v) || Array.isArray(v)) throw badPatch(`"${path.join('.')}" is a list of primitives`);
      if (!result.some((x) => deepEqual(x, v))) result.push(v);
    }
    return result;
  }

  const key = strategy.mergeKey;
  let result: Json[] = [...original];
  for (const elem of patch) {
    if (!isObject(elem)) throw badPatch(`"${path.join('.')}" must be a list of objects`);
    if (!Object.prototype.hasOwnProperty.call(elem, key) || elem[key] === null) {
      throw badPatch(`map: ${JSON.stringify(elem)} does not contain declared merge key: ${key}`);
    }
    const matches = (x: Json): boolean => isObject(x) && deepEqual(x[key], elem[key]);
    const directive = patchDirective(elem, path);
    if (directive === 'delete') {
      result = result.filter((x) => !matches(x));
      continue;
    }
    const at = result.findIndex(matches);
    if (at >= 0) result[at] = mergeMap(kind, result[at] as JsonObject, elem, path);
    else result.push(mergeMap(kind, {}, elem, path));
  }
  return result;
}

/**
 * Applies $setElementOrder the way apimachinery's normalizeElementOrder does:
 * elements named in the order list come in that order; the others (server-only
 * elements) are interleaved by their position in the server's list.
 */
function orderList(merged: Json[], order: Json[], server: Json[], strategy: ListStrategy | undefined): Json[] {
  const identity = (x: Json): Json | undefined =>
    strategy && 'mergeKey' in strategy ? (isObject(x) ? x[strategy.mergeKey] : undefined) : x;
  const indexIn = (list: Json[], x: Json): number => {
    const id = identity(x);
    return list.findIndex((y) => deepEqual(identity(y), id));
  };
  const inOrder = merged.filter((x) => indexIn(order, x) >= 0).sort((a, b) => indexIn(order, a) - indexIn(order, b));
  const serverOnly = merged.filter((x) => indexIn(order, x) < 0);
  const out: Json[] = [];
  let i = 0;
  let j = 0;
  while (i < serverOnly.length || j < inOrder.length) {
    if (i >= serverOnly.length) out.push(inOrder[j++]);
    else if (j >= inOrder.length) out.push(serverOnly[i++]);
    else {
      const li = indexIn(server, serverOnly[i]);
      const ri = indexIn(server, inOrder[j]);
      if (li >= 0 && ri >= 0 && li < ri) out.push(serverOnly[i++]);
      else out.push(inOrder[j++]);
    }
  }
  return out;
}

/** Strategic merge patch of one object of the kind `info` describes. */
export function applyStrategicMergePatch(target: JsonObject, patch: JsonObject, info: ResourceInfo): JsonObject {
  if (!isObject(patch)) throw badPatch('the patch must be a JSON object');
  if (patchDirective(patch, []) === 'delete') throw badPatch('$patch: delete is not allowed on the whole object');
  // mergeMap copies what it changes but shares untouched subtrees with target: clone the result.
  return clone(mergeMap(listStrategiesOf(info), target, patch, []));
}

// ------------------------------------------------------------ server-side apply

/** The FieldsV1 set of an applied configuration: f:<field>, k:{<merge key>} for keyed list elements, v:<value> for set elements. */
function fieldsV1(kind: ListStrategies, value: Json, path: readonly string[]): JsonObject {
  const out: JsonObject = {};
  if (isObject(value)) {
    for (const [key, v] of Object.entries(value)) {
      if (key.startsWith('$')) continue;
      const child = [...path, key];
      const sub = fieldsV1(kind, v, child);
      out[`f:${key}`] = sub;
    }
    return out;
  }
  if (Array.isArray(value)) {
    const strategy = listStrategy(kind, path);
    if (!strategy) return out;
    for (const elem of value) {
      if ('set' in strategy) out[`v:${JSON.stringify(elem)}`] = {};
      else if (isObject(elem)) {
        const sub = fieldsV1(kind, elem, path);
        out[`k:${JSON.stringify({ [strategy.mergeKey]: elem[strategy.mergeKey] })}`] = { '.': {}, ...sub };
      }
    }
  }
  return out;
}

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  [key: string]: unknown;
}

/** Server-side apply, create-or-update; see the header comment for what it does and does not do. */
export function applyServerSideApply(
  existing: KubeObject | undefined,
  applied: KubeObject,
  info: ResourceInfo,
  fieldManager: string,
  now: Date = new Date(),
): KubeObject {
  if (!isObject(applied as unknown as Json)) throw new KubeError('BadRequest', 'the applied configuration must be an object');
  const config = clone(applied as unknown as JsonObject);
  const meta = isObject(config.metadata) ? config.metadata : {};
  delete meta.managedFields;
  config.metadata = meta;

  const merged = existing
    ? mergeMap(listStrategiesOf(info), clone(existing as unknown as JsonObject), config, [])
    : mergeMap(listStrategiesOf(info), {}, config, []);

  const fields = fieldsV1(listStrategiesOf(info), config, []);
  delete fields['f:apiVersion'];
  delete fields['f:kind'];
  const entry: ManagedFieldsEntry = {
    manager: fieldManager,
    operation: 'Apply',
    apiVersion: typeof config.apiVersion === 'string' ? config.apiVersion : '',
    time: kubeTime(now),
    fieldsType: 'FieldsV1',
    fieldsV1: fields,
  };
  const result = merged as unknown as KubeObject;
  result.metadata = result.metadata ?? {};
  const previous = (existing?.metadata.managedFields ?? []) as ManagedFieldsEntry[];
  result.metadata.managedFields = [
    ...previous.filter((e) => !(e.manager === fieldManager && e.operation === 'Apply')),
    entry,
  ];
  return result;
}
