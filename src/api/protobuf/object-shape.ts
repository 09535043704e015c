// Objects in the shape upstream serves, and the fields a kind does not have —
// both walks over the derived type table. Pure.
//
// kube-apiserver decodes every object into its Go struct and encodes it
// again, so what it serves has every field Go's encoding/json writes: a
// non-pointer struct even when empty (a new Deployment has `status: {}`, a
// pod template `metadata: {creationTimestamp: null}`), a field without
// omitempty even when zero, and no zero-valued omitempty scalars. The same
// rules make a protobuf body's JSON (codec.ts), so both paths store the same.

import type { Json, JsonObject } from '../../core/types.ts';
import { SPECIAL, fieldPlan, isMessageType, messageForKind, zeroScalar, type FieldData } from './type-data.ts';

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isZero(v: Json): boolean {
  return v === '' || v === 0 || v === false;
}

const SPECIAL_ZERO: Readonly<Record<string, Json>> = {
  [SPECIAL.time]: null,
  [SPECIAL.microTime]: null,
  [SPECIAL.duration]: '0s',
  [SPECIAL.quantity]: '0',
  [SPECIAL.intOrString]: 0,
  [SPECIAL.rawExtension]: null,
  [SPECIAL.fieldsV1]: null,
};

/** The shape of an absent non-pointer message, worked out once per type (a fresh copy each time). */
const zeroShapes = new Map<string, string>();
function zeroShape(typeName: string): Json {
  let text = zeroShapes.get(typeName);
  if (text === undefined) {
    const out: JsonObject = {};
    shapeFields(typeName, {}, out);
    text = JSON.stringify(out);
    zeroShapes.set(typeName, text);
  }
  return JSON.parse(text) as Json;
}

function shapeMessage(typeName: string, v: Json | undefined): Json {
  if (typeName in SPECIAL_ZERO) return v === undefined || v === null ? SPECIAL_ZERO[typeName] : v;
  if (v === undefined || v === null) return zeroShape(typeName);
  if (!isObject(v)) return v; // not ours to fix: validation reports it
  const out: JsonObject = { ...v };
  shapeFields(typeName, v, out);
  return out;
}

function shapeValue(f: FieldData, v: Json): Json {
  return isMessageType(f.type) ? shapeMessage(f.type, v) : v;
}

function shapeFields(typeName: string, json: JsonObject, out: JsonObject): void {
  for (const f of fieldPlan(typeName)) {
    if (f.inline) {
      shapeFields(f.type, json, out);
      continue;
    }
    const v = json[f.json];
    if (v === undefined || v === null) {
      // Only a null is there to delete (deleting absent keys would slow every object down).
      if (f.rule) {
        if (!f.omitempty) out[f.json] = null;
        else if (v === null) delete out[f.json];
      } else if (f.isMessage) {
        if (!f.pointer) out[f.json] = shapeMessage(f.type, undefined);
        else if (v === null) delete out[f.json];
      } else if (!f.pointer && !f.omitempty) out[f.json] = zeroScalar(f.type);
      else if (v === null) delete out[f.json];
      continue;
    }
    if (f.rule === 'repeated') {
      if (!Array.isArray(v)) continue;
      if (v.length === 0 && f.omitempty) delete out[f.json];
      else out[f.json] = v.map((item) => shapeValue(f, item));
    } else if (f.rule === 'map') {
      if (!isObject(v)) continue;
      const entries = Object.entries(v);
      if (entries.length === 0 && f.omitempty) delete out[f.json];
      else out[f.json] = Object.fromEntries(entries.map(([k, item]) => [k, shapeValue(f, item)]));
    } else if (f.isMessage) out[f.json] = shapeMessage(f.type, v);
    else if (!f.pointer && f.omitempty && isZero(v)) delete out[f.json];
  }
}

/**
 * The object as upstream would serve it (fields Go always writes added, zero
 * omitempty scalars dropped). Fields the kind does not have are kept; kinds
 * without type data are returned unchanged.
 */
export function upstreamShape<T extends object>(input: T): T {
  const obj = input as unknown as JsonObject;
  const name = typeof obj.apiVersion === 'string' && typeof obj.kind === 'string' ? messageForKind(obj.apiVersion, obj.kind) : undefined;
  if (!name) return input;
  const shaped = shapeMessage(name, obj) as JsonObject;
  return { kind: obj.kind, apiVersion: obj.apiVersion, ...shaped } as unknown as T;
}

/** The JSON names of a message's fields, inlined messages' included. */
function fieldsByJsonName(typeName: string): Map<string, FieldData> {
  let cached = byJsonName.get(typeName);
  if (cached) return cached;
  cached = new Map();
  for (const f of fieldPlan(typeName)) {
    if (f.inline) for (const [k, inner] of fieldsByJsonName(f.type)) cached.set(k, inner);
    else cached.set(f.json, f);
  }
  byJsonName.set(typeName, cached);
  return cached;
}
const byJsonName = new Map<string, Map<string, FieldData>>();

function collectUnknown(typeName: string, v: Json, path: string, out: string[]): void {
  if (typeName in SPECIAL_ZERO || !isObject(v)) return;
  const fields = fieldsByJsonName(typeName);
  for (const [key, value] of Object.entries(v)) {
    const f = fields.get(key);
    const p = path ? `${path}.${key}` : key;
    if (!f) {
      out.push(p);
      continue;
    }
    if (!isMessageType(f.type)) continue;
    if (f.rule === 'repeated' && Array.isArray(value)) value.forEach((item, i) => collectUnknown(f.type, item, `${p}[${i}]`, out));
    else if (f.rule === 'map' && isObject(value)) for (const [k, item] of Object.entries(value)) collectUnknown(f.type, item, `${p}.${k}`, out);
    else if (!f.rule) collectUnknown(f.type, value, p, out);
  }
}

/**
 * Fields the object's kind does not have, at any depth ("spec.template.spec.containers[0].imagePullPolcy"),
 * for fieldValidation=Strict; undefined when the kind has no type data.
 */
export function unknownFields(input: object): string[] | undefined {
  const obj = input as JsonObject;
  const name = typeof obj.apiVersion === 'string' && typeof obj.kind === 'string' ? messageForKind(obj.apiVersion, obj.kind) : undefined;
  if (!name) return undefined;
  const { apiVersion: _a, kind: _k, ...rest } = obj;
  const out: string[] = [];
  collectUnknown(name, rest, '', out);
  return out.sort();
}
