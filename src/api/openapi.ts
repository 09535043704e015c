// OpenAPI documents: v3 (/openapi/v3 and /openapi/v3/<api|apis/g>/<v>) and
// v2 (/openapi/v2, JSON or gnostic protobuf), with the schemas of every served
// kind built from the derived type table (openapi-schemas.ts) and one path
// per collection and item whose operations carry x-kubernetes-group-version-kind.
//
// kubectl reads them for: server-side field validation (a PATCH operation with
// the kind's GVK and an inline `fieldValidation` parameter, in v3), `kubectl
// explain` (v3 paths → schema by GVK), the strategic merge patches of
// client-side apply (the schemas' patch strategies and merge keys) and the
// client-side validation of `kind: List` manifests (v2, which client-go reads
// only as protobuf).

import { createHash } from 'node:crypto';
import { RESOURCES, apiVersionOf, groupVersions, type ResourceInfo } from '../core/resources.ts';
import type { Json, JsonObject } from '../core/types.ts';
import { GIT_VERSION } from './discovery.ts';
import { schemaName, schemasFor, type OpenApiFlavour } from './openapi-schemas.ts';
import { messageForKind } from './protobuf/type-data.ts';

const PATCH_TYPES = [
  'application/apply-patch+yaml',
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
];

function query(name: string, description: string, type: 'string' | 'boolean' = 'string'): JsonObject {
  return { name, in: 'query', description, schema: { type, uniqueItems: true } };
}

function pathParam(name: string, description: string): JsonObject {
  return { name, in: 'path', description, required: true, schema: { type: 'string', uniqueItems: true } };
}

const DRY_RUN = query('dryRun', 'When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed');
const FIELD_MANAGER = query('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.');
const FIELD_VALIDATION = query(
  'fieldValidation',
  'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict.',
);
const FORCE = query('force', 'Force is going to "force" Apply requests. It must be unset for non-apply patch requests.', 'boolean');
const PRETTY = query('pretty', "If 'true', then the output is pretty printed.");

/** The message of a served kind; the type-data test guarantees every served kind has one. */
function kindMessage(info: ResourceInfo, kind: string): string {
  const name = messageForKind(apiVersionOf(info), kind);
  if (!name) throw new Error(`no type data for ${apiVersionOf(info)} ${kind}: regenerate src/api/protobuf/k8s-types.json`);
  return name;
}

function kindRef(info: ResourceInfo, kind: string): JsonObject {
  return { $ref: `#/components/schemas/${schemaName(kindMessage(info, kind))}` };
}

function jsonContent(schema: JsonObject): JsonObject {
  return { 'application/json': { schema }, 'application/yaml': { schema }, 'application/vnd.kubernetes.protobuf': { schema } };
}

function urlPrefix(info: ResourceInfo): string {
  const base = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
  return info.namespaced ? `${base}/namespaces/{namespace}/${info.resource}` : `${base}/${info.resource}`;
}

function operation(info: ResourceInfo, action: string, verb: string, extra: JsonObject): JsonObject {
  const kind = info.kind;
  const groupPart = info.group ? info.group.split('.')[0].replace(/^./, (c) => c.toUpperCase()) : 'Core';
  const version = info.version.replace(/^./, (c) => c.toUpperCase());
  const scope = info.namespaced ? 'Namespaced' : '';
  return {
    tags: [info.group ? `${info.group.split('.')[0]}_${info.version}` : `core_${info.version}`],
    description: `${action} the specified ${kind}`,
    operationId: `${verb}${groupPart}${version}${scope}${kind}`,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': { group: info.group, version: info.version, kind },
    ...extra,
  };
}

function pathsFor(info: ResourceInfo): JsonObject {
  const prefix = urlPrefix(info);
  const common = [...(info.namespaced ? [pathParam('namespace', 'object name and auth scope, such as for teams and projects')] : []), PRETTY];
  const object = kindRef(info, info.kind);
  const ok = (code: string, schema: JsonObject = object): JsonObject => ({ [code]: { description: code === '201' ? 'Created' : 'OK', content: jsonContent(schema) } });
  const status = kindRef(info, 'Status');
  return {
    [prefix]: {
      parameters: common,
      get: operation(info, 'list', 'list', { responses: ok('200', kindRef(info, info.listKind)) }),
      post: operation(info, 'post', 'create', {
        parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION],
        requestBody: { content: { '*/*': { schema: object } }, required: true },
        responses: { ...ok('200'), ...ok('201') },
      }),
      delete: operation(info, 'deletecollection', 'deletecollection', { responses: ok('200', status) }),
    },
    [`${prefix}/{name}`]: {
      parameters: [pathParam('name', `name of the ${info.kind}`), ...common],
      get: operation(info, 'get', 'read', { responses: ok('200') }),
      put: operation(info, 'put', 'replace', {
        parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION],
        requestBody: { content: { '*/*': { schema: object } }, required: true },
        responses: { ...ok('200'), ...ok('201') },
      }),
      patch: operation(info, 'patch', 'patch', {
        parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE],
        requestBody: { content: Object.fromEntries(PATCH_TYPES.map((t) => [t, { schema: { type: 'object' } }])), required: true },
        responses: { ...ok('200'), ...ok('201') },
      }),
      delete: operation(info, 'delete', 'delete', { responses: ok('200', status) }),
    },
  };
}

/** The OpenAPI v3 document of one group-version; undefined when meshlet serves nothing there. */
export function openApiV3Document(group: string, version: string): Json | undefined {
  const key = `${group}/${version}`;
  if (!v3Cache.has(key)) v3Cache.set(key, buildV3Document(group, version));
  return v3Cache.get(key);
}
const v3Cache = new Map<string, Json | undefined>();

function buildV3Document(group: string, version: string): Json | undefined {
  const infos = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (infos.length === 0) return undefined;
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: GIT_VERSION },
    paths: Object.assign({}, ...infos.map(pathsFor)) as JsonObject,
    components: { schemas: schemasFor('v3', servedMessages(infos)) },
  };
}

/** The messages of the given kinds, their lists, and the Status and DeleteOptions every group-version returns or takes. */
function servedMessages(infos: readonly ResourceInfo[]): string[] {
  return infos.flatMap((info) => [kindMessage(info, info.kind), kindMessage(info, info.listKind), kindMessage(info, 'Status'), kindMessage(info, 'DeleteOptions')]);
}

function docPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

/** GET /openapi/v3: each group-version with a serverRelativeURL whose hash changes when the document does. */
export function openApiV3Root(): Json {
  const paths: JsonObject = {};
  for (const { group, version } of groupVersions()) {
    const hash = hashOf(openApiV3Document(group, version) ?? null);
    paths[docPath(group, version)] = { serverRelativeURL: `/openapi/v3/${docPath(group, version)}?hash=${hash}` };
  }
  return { paths };
}

function hashOf(doc: Json): string {
  return createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase();
}

// ------------------------------------------------------------------ OpenAPI v2

let v2Cache: JsonObject | undefined;

/** GET /openapi/v2: swagger 2.0 with the definitions of every served kind (no paths: kubectl reads only definitions from v2). */
export function openApiV2Document(): JsonObject {
  v2Cache ??= {
    swagger: '2.0',
    info: { title: 'Kubernetes', version: GIT_VERSION },
    paths: {},
    definitions: schemasFor('v2' satisfies OpenApiFlavour, servedMessages(RESOURCES)),
  };
  return v2Cache;
}

/** ETag of the v2 document, for If-None-Match. */
export function openApiV2ETag(): string {
  return `"${hashOf(openApiV2Document()).slice(0, 32)}"`;
}
