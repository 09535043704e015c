// The derived Kubernetes type table (k8s-types.json, made by
// scripts/gen-k8s-types.ts from the upstream generated.proto files and Go
// types): its shape, and lookups by kind. The protobuf codec, the upstream
// object shapes and the OpenAPI documents all read it, so they cannot disagree.
import { readFileSync } from 'node:fs';
import type { Json } from '../../core/types.ts';

export type ScalarType = 'string' | 'bool' | 'bytes' | 'int32' | 'int64' | 'uint32' | 'uint64' | 'double' | 'float' | 'sint32' | 'sint64' | 'fixed32' | 'fixed64' | 'sfixed32' | 'sfixed64';

export interface FieldData {
  /** Protobuf field number. */
  no: number;
  /** Protobuf field name (as in generated.proto). */
  name: string;
  /** JSON name; '' for a field whose members JSON inlines into the parent. */
  json: string;
  /** A scalar type, or the full name of a message (`k8s.io.api.core.v1.PodSpec`). */
  type: string;
  rule?: 'repeated' | 'map';
  /** Map key type (always string in the Kubernetes types). */
  key?: string;
  /** Go `json:",inline"`: JSON carries this message's fields in the parent. */
  inline?: boolean;
  /** The Go field is a pointer: unset means absent, set means emitted even when zero. */
  pointer?: boolean;
  /** Go `omitempty`. */
  omitempty?: boolean;
  /** Strategic merge patch tags of the Go field (`merge`, `retainKeys`, …; the list's merge key). */
  patchStrategy?: string;
  patchMergeKey?: string;
}

export interface MessageData {
  fields: FieldData[];
}

export interface K8sTypeData {
  source: { note: string; repositories: { repository: string; tag: string; commit: string }[] };
  /** "apps/v1/Deployment" → message name; "meta/Status" etc. for meta/v1 kinds any group-version uses. */
  kinds: Record<string, string>;
  messages: Record<string, MessageData>;
  /** gnostic's OpenAPI v2 messages (package openapi.v2), for the protobuf form of /openapi/v2. */
  openapiV2: Record<string, MessageData>;
}

export const TYPE_DATA: K8sTypeData = JSON.parse(readFileSync(new URL('./k8s-types.json', import.meta.url), 'utf8')) as K8sTypeData;

export const META_V1 = 'k8s.io.apimachinery.pkg.apis.meta.v1';

/** Messages whose JSON form is not an object of their fields (handled by the codec and the schemas). */
export const SPECIAL = {
  time: `${META_V1}.Time`,
  microTime: `${META_V1}.MicroTime`,
  duration: `${META_V1}.Duration`,
  fieldsV1: `${META_V1}.FieldsV1`,
  quantity: 'k8s.io.apimachinery.pkg.api.resource.Quantity',
  intOrString: 'k8s.io.apimachinery.pkg.util.intstr.IntOrString',
  rawExtension: 'k8s.io.apimachinery.pkg.runtime.RawExtension',
  unknown: 'k8s.io.apimachinery.pkg.runtime.Unknown',
} as const;

const SPECIAL_NAMES: ReadonlySet<string> = new Set(Object.values(SPECIAL));

export function isSpecial(typeName: string): boolean {
  return SPECIAL_NAMES.has(typeName);
}

export function isMessageType(typeName: string): boolean {
  return typeName.includes('.');
}

/** The JSON of a scalar type's zero value, as Go writes an unset non-pointer field (bytes: null). */
export function zeroScalar(type: string): Json {
  if (type === 'string') return '';
  if (type === 'bool') return false;
  if (type === 'bytes') return null;
  return 0;
}

/** The message of a kind; meta/v1 kinds (Status, DeleteOptions, …) are found under any apiVersion. */
export function messageForKind(apiVersion: string, kind: string): string | undefined {
  return TYPE_DATA.kinds[`${apiVersion}/${kind}`] ?? TYPE_DATA.kinds[`meta/${kind}`];
}

export function message(name: string): MessageData {
  const m = TYPE_DATA.messages[name];
  if (!m) throw new Error(`no message ${name} in k8s-types.json`);
  return m;
}

/** A field with what the walks ask of it on every object worked out once. */
export interface PlannedField extends FieldData {
  /** The type is a message (possibly a special one). */
  isMessage: boolean;
}

const plans = new Map<string, PlannedField[]>();

/** The fields of a message, prepared for the codec's and the shapes' walks (JSON-less '-' fields dropped). */
export function fieldPlan(name: string): PlannedField[] {
  let plan = plans.get(name);
  if (!plan) {
    plan = message(name)
      .fields.filter((f) => f.json !== '-')
      .map((f) => ({ ...f, isMessage: isMessageType(f.type) }));
    plans.set(name, plan);
  }
  return plan;
}
