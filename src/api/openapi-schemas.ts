// OpenAPI schemas of the served kinds, built from the derived type table (the
// one the protobuf codec reads), for /openapi/v3 (refs into
// #/components/schemas/) and /openapi/v2 (#/definitions/). Pure.
//
// Names are upstream's (io.k8s.api.core.v1.Pod, io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta);
// kind schemas carry x-kubernetes-group-version-kind, list fields the Go
// types' patch strategy and merge key (kubectl computes strategic merge
// patches from them). No descriptions.

import type { Json, JsonObject } from '../core/types.ts';
import { SPECIAL, TYPE_DATA, isMessageType, message, type FieldData } from './protobuf/type-data.ts';

export type OpenApiFlavour = 'v2' | 'v3';

/** k8s.io.api.core.v1.Pod → io.k8s.api.core.v1.Pod */
export function schemaName(messageName: string): string {
  return messageName.replace(/^k8s\.io\./, 'io.k8s.');
}

function ref(flavour: OpenApiFlavour, messageName: string): JsonObject {
  return { $ref: `${flavour === 'v3' ? '#/components/schemas/' : '#/definitions/'}${schemaName(messageName)}` };
}

const SPECIAL_SCHEMAS: Readonly<Record<string, (flavour: OpenApiFlavour) => JsonObject>> = {
  [SPECIAL.time]: () => ({ type: 'string', format: 'date-time' }),
  [SPECIAL.microTime]: () => ({ type: 'string', format: 'date-time' }),
  [SPECIAL.duration]: () => ({ type: 'string' }),
  [SPECIAL.quantity]: (f): JsonObject => (f === 'v3' ? { oneOf: [{ type: 'string' }, { type: 'number' }] } : { type: 'string', format: 'quantity' }),
  [SPECIAL.intOrString]: (f): JsonObject =>
    f === 'v3' ? { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] } : { type: 'string', format: 'int-or-string' },
  [SPECIAL.rawExtension]: () => ({ type: 'object' }),
  [SPECIAL.fieldsV1]: () => ({ type: 'object' }),
};

function scalarSchema(type: string): JsonObject {
  switch (type) {
    case 'string':
      return { type: 'string' };
    case 'bool':
      return { type: 'boolean' };
    case 'bytes':
      return { type: 'string', format: 'byte' };
    case 'double':
    case 'float':
      return { type: 'number', format: 'double' };
    case 'int32':
    case 'sint32':
    case 'uint32':
    case 'fixed32':
    case 'sfixed32':
      return { type: 'integer', format: 'int32' };
    default:
      return { type: 'integer', format: 'int64' };
  }
}

function valueSchema(flavour: OpenApiFlavour, type: string): JsonObject {
  return isMessageType(type) ? ref(flavour, type) : scalarSchema(type);
}

function fieldSchema(flavour: OpenApiFlavour, f: FieldData): JsonObject {
  if (f.rule === 'repeated') {
    const s: JsonObject = { type: 'array', items: valueSchema(flavour, f.type) };
    if (f.patchStrategy) s['x-kubernetes-patch-strategy'] = f.patchStrategy;
    if (f.patchMergeKey) s['x-kubernetes-patch-merge-key'] = f.patchMergeKey;
    return s;
  }
  if (f.rule === 'map') return { type: 'object', additionalProperties: valueSchema(flavour, f.type) };
  if (isMessageType(f.type)) {
    // v3 wraps refs in allOf, as upstream does, so siblings (default) stay valid.
    const s = flavour === 'v3' ? { allOf: [ref(flavour, f.type)] } : ref(flavour, f.type);
    if (f.patchStrategy) return { ...s, 'x-kubernetes-patch-strategy': f.patchStrategy };
    return s;
  }
  return scalarSchema(f.type);
}

function addProperties(flavour: OpenApiFlavour, messageName: string, into: JsonObject): void {
  for (const f of message(messageName).fields) {
    if (f.json === '-') continue;
    if (f.inline) addProperties(flavour, f.type, into);
    else into[f.json] = fieldSchema(flavour, f);
  }
}

/** kind message name → the GVKs it is served as. */
function kindsByMessage(): Map<string, JsonObject[]> {
  const out = new Map<string, JsonObject[]>();
  for (const [key, name] of Object.entries(TYPE_DATA.kinds)) {
    if (key.startsWith('meta/')) continue;
    const parts = key.split('/');
    const kind = parts.pop()!;
    const version = parts.pop()!;
    const group = parts.join('/');
    out.set(name, [...(out.get(name) ?? []), { group, version, kind }]);
  }
  out.set(`${TYPE_DATA.kinds['meta/Status']}`, [{ group: '', version: 'v1', kind: 'Status' }]);
  out.set(`${TYPE_DATA.kinds['meta/DeleteOptions']}`, [{ group: '', version: 'v1', kind: 'DeleteOptions' }]);
  return out;
}
const KIND_GVKS = kindsByMessage();

function messageSchema(flavour: OpenApiFlavour, messageName: string): JsonObject {
  const special = SPECIAL_SCHEMAS[messageName];
  if (special) return special(flavour);
  const properties: JsonObject = {};
  const gvks = KIND_GVKS.get(messageName);
  if (gvks) {
    properties.apiVersion = { type: 'string' };
    properties.kind = { type: 'string' };
  }
  addProperties(flavour, messageName, properties);
  const schema: JsonObject = { type: 'object', properties };
  if (gvks) schema['x-kubernetes-group-version-kind'] = gvks as Json;
  return schema;
}

/** Schemas of the given messages and every message they reference, by upstream name. */
export function schemasFor(flavour: OpenApiFlavour, roots: readonly string[]): JsonObject {
  const out: JsonObject = {};
  const queue = [...roots];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    out[schemaName(name)] = messageSchema(flavour, name);
    if (SPECIAL_SCHEMAS[name]) continue;
    for (const f of message(name).fields) if (isMessageType(f.type) && f.json !== '-') queue.push(f.type);
  }
  return Object.fromEntries(Object.keys(out).sort().map((k) => [k, out[k]]));
}
