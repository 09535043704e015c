// OpenAPI v3 discovery (/openapi/v3 and /openapi/v3/<api|apis/g>/<v>).
//
// Deliberately minimal. kubectl reads these documents for one thing we need:
// whether the server supports server-side field validation, which it decides
// by finding, per kind, a PATCH operation carrying a matching
// `x-kubernetes-group-version-kind` and an inline `fieldValidation`
// parameter. So each document has the item path of each kind (GET and PATCH)
// and the collection path (GET and POST), and NO component schemas: were a
// schema carrying `x-kubernetes-group-version-kind` present, kubectl would use
// our (incomplete) schema to compute strategic merge patches instead of its
// built-in Go types and lose the patch merge keys. The request/response bodies
// are therefore typed as plain objects.

import { createHash } from 'node:crypto';
import { RESOURCES, groupVersions, type ResourceInfo } from '../core/resources.ts';
import type { Json, JsonObject } from '../core/types.ts';
import { GIT_VERSION } from './discovery.ts';

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

const OBJECT_BODY: JsonObject = { type: 'object' };

function jsonContent(schema: JsonObject): JsonObject {
  return { 'application/json': { schema }, 'application/yaml': { schema } };
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
  const ok = (code: string): JsonObject => ({ [code]: { description: code === '201' ? 'Created' : 'OK', content: jsonContent(OBJECT_BODY) } });
  return {
    [prefix]: {
      parameters: common,
      get: operation(info, 'list', 'list', { responses: ok('200') }),
      post: operation(info, 'post', 'create', {
        parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION],
        requestBody: { content: { '*/*': { schema: OBJECT_BODY } }, required: true },
        responses: { ...ok('200'), ...ok('201') },
      }),
    },
    [`${prefix}/{name}`]: {
      parameters: [pathParam('name', `name of the ${info.kind}`), ...common],
      get: operation(info, 'get', 'read', { responses: ok('200') }),
      put: operation(info, 'put', 'replace', {
        parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION],
        requestBody: { content: { '*/*': { schema: OBJECT_BODY } }, required: true },
        responses: { ...ok('200'), ...ok('201') },
      }),
      patch: operation(info, 'patch', 'patch', {
        parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE],
        requestBody: { content: Object.fromEntries(PATCH_TYPES.map((t) => [t, { schema: OBJECT_BODY }])), required: true },
        responses: { ...ok('200'), ...ok('201') },
      }),
      delete: operation(info, 'delete', 'delete', { responses: ok('200') }),
    },
  };
}

/** The OpenAPI v3 document of one group-version; undefined when meshlet serves nothing there. */
export function openApiV3Document(group: string, version: string): Json | undefined {
  const infos = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (infos.length === 0) return undefined;
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: GIT_VERSION },
    paths: Object.assign({}, ...infos.map(pathsFor)) as JsonObject,
    components: { schemas: {} },
  };
}

function docPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

/** GET /openapi/v3: each group-version with a serverRelativeURL whose hash changes when the document does. */
export function openApiV3Root(): Json {
  const paths: JsonObject = {};
  for (const { group, version } of groupVersions()) {
    const doc = openApiV3Document(group, version);
    const hash = createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase();
    paths[docPath(group, version)] = { serverRelativeURL: `/openapi/v3/${docPath(group, version)}?hash=${hash}` };
  }
  return { paths };
}
