// The protobuf form of /openapi/v2 (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`):
// gnostic's openapi_v2.Document, which client-go's OpenAPISchema() asks for and
// decodes (kubectl validates `kind: List` manifests against it). The swagger
// JSON document is mapped onto the gnostic messages in the derived type table;
// vendor extensions (x-kubernetes-*) travel as YAML, as gnostic stores them.
import { stringify as toYaml } from 'yaml';
import type { Json, JsonObject } from '../core/types.ts';
import { protobufRoot } from './protobuf/codec.ts';
import { TYPE_DATA } from './protobuf/type-data.ts';

export const OPENAPI_V2_PROTOBUF_MEDIA_TYPE = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

const root = protobufRoot(Object.fromEntries(Object.entries(TYPE_DATA.openapiV2).map(([name, m]) => [`openapi.v2.${name}`, m])));

type GnosticMessage = { [field: string]: unknown };

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function vendorExtensions(obj: JsonObject): GnosticMessage[] {
  return Object.entries(obj)
    .filter(([k]) => k.startsWith('x-'))
    .map(([name, value]) => ({ name, value: { yaml: toYaml(value) } }));
}

function schemaMessage(s: JsonObject): GnosticMessage {
  const out: GnosticMessage = {};
  if (typeof s.$ref === 'string') out._ref = s.$ref;
  if (typeof s.format === 'string') out.format = s.format;
  if (typeof s.type === 'string') out.type = { value: [s.type] };
  if (isObject(s.items)) out.items = { schema: [schemaMessage(s.items)] };
  if (isObject(s.additionalProperties)) out.additional_properties = { schema: schemaMessage(s.additionalProperties) };
  if (Array.isArray(s.allOf)) out.all_of = s.allOf.filter(isObject).map(schemaMessage);
  if (Array.isArray(s.required)) out.required = s.required.map(String);
  if (isObject(s.properties)) {
    out.properties = { additional_properties: Object.entries(s.properties).filter(([, v]) => isObject(v)).map(([name, v]) => ({ name, value: schemaMessage(v as JsonObject) })) };
  }
  const ext = vendorExtensions(s);
  if (ext.length > 0) out.vendor_extension = ext;
  return out;
}

/** A swagger 2.0 document (info and definitions; paths are not carried) as gnostic protobuf bytes. */
export function encodeOpenApiV2(doc: JsonObject): Buffer {
  const info = isObject(doc.info) ? doc.info : {};
  const definitions = isObject(doc.definitions) ? doc.definitions : {};
  const message: GnosticMessage = {
    swagger: String(doc.swagger ?? '2.0'),
    info: { title: String(info.title ?? ''), version: String(info.version ?? '') },
    paths: {},
    definitions: { additional_properties: Object.entries(definitions).filter(([, v]) => isObject(v)).map(([name, v]) => ({ name, value: schemaMessage(v as JsonObject) })) },
  };
  return Buffer.from(root.lookupType('openapi.v2.Document').encode(message).finish());
}
