// Kubernetes' protobuf encoding (application/vnd.kubernetes.protobuf) ⇄ the
// JSON the API otherwise speaks, driven by the derived type table.
//
// Wire format by protobufjs; the JSON side follows what Go's encoding/json
// makes of the decoded Go struct, so a protobuf body becomes exactly the JSON
// kubectl would have sent for the same object:
//   - a field absent on the wire, or a zero scalar of a non-pointer omitempty
//     field, is omitted (gogo always emits non-pointer fields, empty or not);
//   - a non-pointer struct field is always present ({} when empty; a zero Time
//     is null), a field without omitempty always (its zero value; null for an
//     empty list or map);
//   - messages JSON inlines (Volume.volumeSource, Probe.handler, …) are
//     flattened; JSON names come from the Go tags (aPIGroup → apiGroup);
//   - Time/MicroTime (RFC 3339), Duration, Quantity, IntOrString,
//     RawExtension/FieldsV1 (raw JSON bytes) and bytes (base64) are converted.
// The envelope is the magic "k8s\0" and a runtime.Unknown holding the
// apiVersion/kind and the kind's message.

import protobuf from 'protobufjs';
import { KubeError } from '../../core/errors.ts';
import type { Json, JsonObject } from '../../core/types.ts';
import { goDuration, parseGoDuration } from './duration.ts';
import { SPECIAL, TYPE_DATA, fieldPlan, isMessageType, messageForKind, zeroScalar, type FieldData, type MessageData, type PlannedField } from './type-data.ts';

export const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf';
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Message = { [field: string]: unknown };

/** protobufjs types for messages given as data (full name → fields). */
export function protobufRoot(messages: Record<string, MessageData>): protobuf.Root {
  const root = new protobuf.Root();
  for (const [name, m] of Object.entries(messages)) {
    const dot = name.lastIndexOf('.');
    const type = new protobuf.Type(name.slice(dot + 1));
    for (const f of m.fields) {
      const t = isMessageType(f.type) ? `.${f.type}` : f.type;
      type.add(f.rule === 'map' ? new protobuf.MapField(f.name, f.no, f.key ?? 'string', t) : new protobuf.Field(f.name, f.no, t, f.rule === 'repeated' ? 'repeated' : 'optional'));
    }
    root.define(name.slice(0, dot)).add(type);
  }
  root.resolveAll();
  return root;
}

const root = protobufRoot(TYPE_DATA.messages);
const types = new Map<string, protobuf.Type>();
function typeOf(name: string): protobuf.Type {
  let t = types.get(name);
  if (!t) {
    t = root.lookupType(name);
    types.set(name, t);
  }
  return t;
}

// ------------------------------------------------------------------ decoding

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof (v as { toNumber?: unknown }).toNumber === 'function') return (v as { toNumber(): number }).toNumber();
  return Number(v);
}

function has(msg: Message, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(msg, name) && msg[name] !== undefined && msg[name] !== null;
}

function rfc3339(seconds: number, nanos: number, micro: boolean): string {
  const iso = new Date(seconds * 1000).toISOString().slice(0, 19);
  return micro ? `${iso}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z` : `${iso}Z`;
}

function rawJson(bytes: unknown): Json {
  const b = bytes as Uint8Array | undefined;
  if (!b || b.length === 0) return null;
  try {
    return JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.length).toString('utf8')) as Json;
  } catch {
    throw new KubeError('BadRequest', 'a RawExtension in the protobuf body does not hold JSON');
  }
}

/** A decoded message (possibly empty) as Go's JSON encoding would write it. */
function messageToJson(typeName: string, msg: Message): Json {
  switch (typeName) {
    case SPECIAL.time:
    case SPECIAL.microTime:
      if (!has(msg, 'seconds') && !has(msg, 'nanos')) return null;
      return rfc3339(toNumber(msg.seconds ?? 0), toNumber(msg.nanos ?? 0), typeName === SPECIAL.microTime);
    case SPECIAL.duration:
      return goDuration(toNumber(msg.duration ?? 0));
    case SPECIAL.quantity:
      return typeof msg.string === 'string' && msg.string !== '' ? msg.string : '0';
    case SPECIAL.intOrString:
      return toNumber(msg.type ?? 0) === 1 ? String(msg.strVal ?? '') : toNumber(msg.intVal ?? 0);
    case SPECIAL.rawExtension:
      return rawJson(msg.raw);
    case SPECIAL.fieldsV1:
      return rawJson(msg.Raw);
  }
  const out: JsonObject = {};
  writeFields(typeName, msg, out);
  return out;
}

function scalarToJson(type: string, v: unknown): Json {
  switch (type) {
    case 'string':
      return String(v);
    case 'bool':
      return Boolean(v);
    case 'bytes': {
      const b = v as Uint8Array;
      return Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64');
    }
    default:
      return toNumber(v);
  }
}

function isZeroScalar(v: Json): boolean {
  return v === '' || v === 0 || v === false || v === null;
}

function valueToJson(type: string, v: unknown): Json {
  return isMessageType(type) ? messageToJson(type, v as Message) : scalarToJson(type, v);
}

const EMPTY: Message = {};

/** The JSON of an empty message, worked out once per type (a fresh copy each time). */
const zeroJson = new Map<string, string>();
function emptyMessageJson(typeName: string): Json {
  let text = zeroJson.get(typeName);
  if (text === undefined) {
    text = JSON.stringify(messageToJson(typeName, EMPTY));
    zeroJson.set(typeName, text);
  }
  return JSON.parse(text) as Json;
}

/** Per message: fields by proto name, the ones Go writes even when unset, and the inlined ones. */
interface DecodePlan {
  byName: Map<string, PlannedField>;
  always: PlannedField[];
  inline: PlannedField[];
}
const decodePlans = new Map<string, DecodePlan>();
function decodePlan(typeName: string): DecodePlan {
  let plan = decodePlans.get(typeName);
  if (!plan) {
    const fields = fieldPlan(typeName);
    plan = {
      byName: new Map(fields.filter((f) => !f.inline).map((f) => [f.name, f])),
      always: fields.filter((f) => !f.inline && (!f.omitempty || (f.isMessage && !f.pointer && !f.rule))),
      inline: fields.filter((f) => f.inline),
    };
    decodePlans.set(typeName, plan);
  }
  return plan;
}

/**
 * Walks the fields the decoded message has (protobufjs sets only those, plus
 * its list and map fields), then adds what Go writes for unset ones.
 */
function writeFields(typeName: string, msg: Message, out: JsonObject): void {
  const plan = decodePlan(typeName);
  for (const key of Object.keys(msg)) {
    const f = plan.byName.get(key);
    if (!f) continue;
    const v = msg[key];
    if (v === undefined || v === null) continue;
    if (f.rule === 'repeated') {
      const list = v as unknown[];
      if (list.length > 0) out[f.json] = list.map((item) => valueToJson(f.type, item));
    } else if (f.rule === 'map') {
      const entries = Object.entries(v as Record<string, unknown>);
      if (entries.length > 0) out[f.json] = Object.fromEntries(entries.map(([k, item]) => [k, valueToJson(f.type, item)]));
    } else if (f.isMessage) out[f.json] = messageToJson(f.type, v as Message);
    else {
      const value = scalarToJson(f.type, v);
      if (f.pointer || !f.omitempty || !isZeroScalar(value)) out[f.json] = value;
    }
  }
  for (const f of plan.always) {
    if (f.json in out) continue;
    if (f.rule) out[f.json] = null;
    else if (f.isMessage) out[f.json] = emptyMessageJson(f.type);
    else if (!f.pointer) out[f.json] = zeroScalar(f.type);
  }
  for (const f of plan.inline) writeFields(f.type, (has(msg, f.name) ? msg[f.name] : EMPTY) as Message, out);
}

function badBody(detail: string): KubeError {
  return new KubeError('BadRequest', `the protobuf request body could not be decoded: ${detail}`);
}

/** "k8s\0" + runtime.Unknown → the object as JSON (kind and apiVersion first). Malformed → 400. */
export function decodeKubeProtobuf(body: Uint8Array): JsonObject {
  if (body.length < MAGIC.length || !MAGIC.equals(body.subarray(0, MAGIC.length))) {
    throw badBody('it does not start with the Kubernetes protobuf magic "k8s\\0"');
  }
  let envelope: Message;
  try {
    envelope = typeOf(SPECIAL.unknown).decode(body.subarray(MAGIC.length)) as unknown as Message;
  } catch (err) {
    throw badBody(`envelope: ${(err as Error).message}`);
  }
  const typeMeta = (envelope.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const apiVersion = typeMeta.apiVersion ?? '';
  const kind = typeMeta.kind ?? '';
  if (envelope.contentEncoding) throw badBody(`content encoding "${String(envelope.contentEncoding)}" is not supported`);
  const name = messageForKind(apiVersion, kind);
  if (!name) throw badBody(`no protobuf type is known for apiVersion "${apiVersion}", kind "${kind}"`);
  let msg: Message;
  try {
    msg = typeOf(name).decode((envelope.raw as Uint8Array | undefined) ?? new Uint8Array()) as unknown as Message;
  } catch (err) {
    throw badBody(`${kind}: ${(err as Error).message}`);
  }
  return { kind, apiVersion, ...(messageToJson(name, msg) as JsonObject) };
}

// ------------------------------------------------------------------ encoding

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function timeToMessage(v: Json, path: string): Message {
  if (v === null) return {};
  if (typeof v !== 'string') throw new KubeError('BadRequest', `${path}: a time must be an RFC 3339 string`);
  const ms = Date.parse(v);
  if (!Number.isFinite(ms)) throw new KubeError('BadRequest', `${path}: "${v}" is not an RFC 3339 time`);
  const frac = /\.(\d+)/.exec(v)?.[1] ?? '';
  const nanos = Number((frac + '000000000').slice(0, 9));
  return { seconds: Math.floor(ms / 1000), nanos };
}

function jsonToMessage(typeName: string, v: Json, path: string): Message {
  switch (typeName) {
    case SPECIAL.time:
    case SPECIAL.microTime:
      return timeToMessage(v, path);
    case SPECIAL.duration:
      if (typeof v !== 'string') throw new KubeError('BadRequest', `${path}: a duration must be a string`);
      return { duration: parseGoDuration(v) };
    case SPECIAL.quantity:
      return { string: typeof v === 'number' ? String(v) : String(v ?? '') };
    case SPECIAL.intOrString:
      return typeof v === 'number' ? { type: 0, intVal: v } : { type: 1, strVal: String(v ?? '') };
    case SPECIAL.rawExtension:
      return v === null ? {} : { raw: Buffer.from(JSON.stringify(v)) };
    case SPECIAL.fieldsV1:
      return v === null ? {} : { Raw: Buffer.from(JSON.stringify(v)) };
  }
  if (!isObject(v)) throw new KubeError('BadRequest', `${path}: expected an object`);
  const out: Message = {};
  readFields(typeName, v, out, path);
  return out;
}

function jsonToScalar(f: FieldData, v: Json, path: string): unknown {
  switch (f.type) {
    case 'string':
      if (typeof v !== 'string') throw new KubeError('BadRequest', `${path}: expected a string`);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw new KubeError('BadRequest', `${path}: expected a boolean`);
      return v;
    case 'bytes':
      if (typeof v !== 'string') throw new KubeError('BadRequest', `${path}: expected base64 data`);
      return Buffer.from(v, 'base64');
    default:
      if (typeof v !== 'number') throw new KubeError('BadRequest', `${path}: expected a number`);
      return v;
  }
}

function jsonToValue(f: FieldData, v: Json, path: string): unknown {
  return isMessageType(f.type) ? jsonToMessage(f.type, v, path) : jsonToScalar(f, v, path);
}

function readFields(typeName: string, json: JsonObject, out: Message, path: string): void {
  for (const f of fieldPlan(typeName)) {
    if (f.inline) {
      const inner: Message = {};
      readFields(f.type, json, inner, path);
      out[f.name] = inner;
      continue;
    }
    const v = json[f.json];
    if (v === undefined || v === null) continue;
    const p = `${path}.${f.json}`;
    if (f.rule === 'repeated') {
      if (!Array.isArray(v)) throw new KubeError('BadRequest', `${p}: expected a list`);
      out[f.name] = v.map((item, i) => jsonToValue(f, item, `${p}[${i}]`));
    } else if (f.rule === 'map') {
      if (!isObject(v)) throw new KubeError('BadRequest', `${p}: expected an object`);
      out[f.name] = Object.fromEntries(Object.entries(v).map(([k, item]) => [k, jsonToValue(f, item, `${p}.${k}`)]));
    } else out[f.name] = jsonToValue(f, v, p);
  }
}

/** Whether the object's kind has a protobuf message (Tables, discovery documents and the like do not). */
export function canEncodeProtobuf(obj: Json): boolean {
  return isObject(obj) && typeof obj.apiVersion === 'string' && typeof obj.kind === 'string' && messageForKind(obj.apiVersion, obj.kind) !== undefined;
}

/** The object as "k8s\0" + runtime.Unknown; throws when its kind has no message (check canEncodeProtobuf). */
export function encodeKubeProtobuf(obj: JsonObject): Buffer {
  const apiVersion = String(obj.apiVersion ?? '');
  const kind = String(obj.kind ?? '');
  const name = messageForKind(apiVersion, kind);
  if (!name) throw new KubeError('NotAcceptable', `${kind} has no protobuf encoding`);
  const raw = typeOf(name).encode(jsonToMessage(name, obj, kind)).finish();
  const envelope = typeOf(SPECIAL.unknown).encode({ typeMeta: { apiVersion, kind }, raw, contentEncoding: '', contentType: '' }).finish();
  return Buffer.concat([MAGIC, envelope]);
}
