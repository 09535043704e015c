// Derives src/api/protobuf/k8s-types.json — the one type table the protobuf
// codec, the object shapes and the OpenAPI documents read — from the upstream
// Kubernetes sources at the tag matching kubectl v1.32:
//   - generated.proto (kubernetes/api, kubernetes/apimachinery): message → field
//     number, proto name, type, repeated/map (parsed with protobufjs' parser);
//   - the Go types (*.go in the same packages): per field its JSON name,
//     omitempty, inline, and whether the Go field is a pointer (which decides
//     what Go's JSON encoding emits for an unset field).
// Only facts (names, numbers, types) are taken; no comments.
//
// Usage (the repositories are git directories, e.g. from the fetch tool):
//   node --import tsx scripts/gen-k8s-types.ts --api <git dir of kubernetes/api> \
//     --apimachinery <git dir of kubernetes/apimachinery> --gnostic <git dir of google/gnostic-models> \
//     [--tag v0.32.4] [--gnosticTag v0.6.8] [--out src/api/protobuf/k8s-types.json]
//
// The kinds come from src/core/resources.ts (every served kind and its List)
// plus EXTRA_KINDS below (bodies of subresources and options), and the file
// holds the closure of messages they reference.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { RESOURCES, apiVersionOf } from '../src/core/resources.ts';
import type { FieldData, K8sTypeData, MessageData } from '../src/api/protobuf/type-data.ts';

/** Kinds served as request or reply bodies beyond the resources themselves. */
const EXTRA_KINDS: readonly { apiVersion: string; kind: string }[] = [
  { apiVersion: 'v1', kind: 'Binding' },
  { apiVersion: 'autoscaling/v1', kind: 'Scale' },
  { apiVersion: 'policy/v1', kind: 'Eviction' },
  // kubectl autoscale (v1.32) POSTs an autoscaling/v1 HPA, served as a view of the v2 kind (src/api/hpa-v1.ts).
  { apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler' },
  { apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscalerList' },
  // The workload, disruption and autoscaling kinds of issue 11, ahead of their strategy modules
  // (a kind moves to src/core/resources.ts when its module lands; the closure is the same).
  ...[
    ['apps/v1', 'DaemonSet'],
    ['apps/v1', 'StatefulSet'],
    ['apps/v1', 'ControllerRevision'],
    ['batch/v1', 'Job'],
    ['batch/v1', 'CronJob'],
    ['policy/v1', 'PodDisruptionBudget'],
    ['autoscaling/v2', 'HorizontalPodAutoscaler'],
  ].flatMap(([apiVersion, kind]) => [
    { apiVersion, kind },
    { apiVersion, kind: `${kind}List` },
  ]),
];
/** meta/v1 kinds any group-version may carry (apiVersion of the request's group, package meta/v1). */
const META_KINDS = ['Status', 'DeleteOptions', 'WatchEvent', 'List'] as const;

const API_REPO = 'https://github.com/kubernetes/api';
const APIMACHINERY_REPO = 'https://github.com/kubernetes/apimachinery';
const APIMACHINERY_PACKAGES = ['pkg/apis/meta/v1', 'pkg/runtime', 'pkg/runtime/schema', 'pkg/api/resource', 'pkg/util/intstr'];

/** The gnostic messages of an OpenAPI v2 document that meshlet writes (kubectl reads /openapi/v2 as protobuf). */
const GNOSTIC_MESSAGES = ['Document', 'Info', 'Paths', 'Definitions', 'NamedSchema', 'Schema', 'TypeItem', 'ItemsItem', 'Properties', 'AdditionalPropertiesItem', 'NamedAny', 'Any'];
const GNOSTIC_REPO = 'https://github.com/google/gnostic-models';

interface Args {
  api: string;
  apimachinery: string;
  gnostic: string;
  tag: string;
  gnosticTag: string;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const args: Partial<Args> = { tag: 'v0.32.4', gnosticTag: 'v0.6.8', out: 'src/api/protobuf/k8s-types.json' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '') as keyof Args;
    if (!['api', 'apimachinery', 'gnostic', 'tag', 'gnosticTag', 'out'].includes(key) || argv[i + 1] === undefined) throw new Error(`unknown or incomplete option ${argv[i]}`);
    args[key] = argv[i + 1];
  }
  if (!args.api || !args.apimachinery || !args.gnostic) throw new Error('give --api, --apimachinery and --gnostic <git dir>');
  return args as Args;
}

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['--git-dir', dir, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

/** The proto package directory of an API group: '' → core, 'networking.k8s.io' → networking. */
function groupDir(group: string): string {
  return group === '' ? 'core' : group.split('.')[0];
}

function protoPackageOf(apiVersion: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return `k8s.io.api.${groupDir(group)}.${version}`;
}

interface GoField {
  json: string;
  omitempty: boolean;
  inline: boolean;
  pointer: boolean;
  patchStrategy?: string;
  patchMergeKey?: string;
}

/** struct name → proto field name → what its Go declaration says. */
type GoStructs = Map<string, Map<string, GoField>>;

const STRUCT_START = /^type (\w+) struct \{/;
const NAMED_FIELD = /^\s*(\w+)\s+([^\s`]+)\s+`([^`]*)`\s*$/;
const EMBEDDED_FIELD = /^\s*(\*?[\w.]+)\s+`([^`]*)`\s*$/;

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** Reads Go struct declarations: only field tags (json, protobuf) and whether the field is a pointer. */
function parseGoStructs(source: string, into: GoStructs): void {
  let current: Map<string, GoField> | undefined;
  for (const line of source.split('\n')) {
    const start = STRUCT_START.exec(line);
    if (start) {
      current = new Map();
      into.set(start[1], current);
      continue;
    }
    if (line.startsWith('}')) {
      current = undefined;
      continue;
    }
    if (!current) continue;
    // "Name Type `tags`" or an embedded "Type `tags`".
    const named = NAMED_FIELD.exec(line);
    const embeddedMatch = named ? null : EMBEDDED_FIELD.exec(line);
    if (!named && !embeddedMatch) continue;
    const embedded = !named;
    const goType = named ? named[2] : embeddedMatch![1];
    const goName = named ? named[1] : goType.replace(/^\*/, '').split('.').pop()!;
    const tags = named ? named[3] : embeddedMatch![2];
    const proto = /protobuf:"([^"]*)"/.exec(tags);
    if (!proto) continue;
    const protoName = /(?:^|,)name=([^,]+)/.exec(proto[1])?.[1] ?? lowerFirst(goName);
    const json = /json:"([^"]*)"/.exec(tags)?.[1] ?? '';
    const [jsonName, ...opts] = json.split(',');
    current.set(protoName, {
      json: jsonName === '' ? (opts.includes('inline') || embedded ? '' : goName) : jsonName,
      omitempty: opts.includes('omitempty'),
      inline: opts.includes('inline') || (embedded && jsonName === ''),
      pointer: goType.startsWith('*'),
      patchStrategy: /patchStrategy:"([^"]*)"/.exec(tags)?.[1],
      patchMergeKey: /patchMergeKey:"([^"]*)"/.exec(tags)?.[1],
    });
  }
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const apiCommit = git(args.api, 'rev-parse', `${args.tag}^{commit}`).trim();
  const machineryCommit = git(args.apimachinery, 'rev-parse', `${args.tag}^{commit}`).trim();

  const roots: { apiVersion: string; kind: string }[] = [];
  for (const info of RESOURCES) {
    roots.push({ apiVersion: apiVersionOf(info), kind: info.kind }, { apiVersion: apiVersionOf(info), kind: info.listKind });
  }
  roots.push(...EXTRA_KINDS);

  const apiDirs = [...new Set(roots.map((r) => protoPackageOf(r.apiVersion).replace(/^k8s\.io\.api\./, '').replace('.', '/')))];
  // The closure of imports: core/v1 is imported by most groups.
  if (!apiDirs.includes('core/v1')) apiDirs.push('core/v1');

  const root = new protobuf.Root();
  const goStructs = new Map<string, GoStructs>();
  const load = (dir: string, pkgPath: string, protoPackage: string): void => {
    const proto = git(dir, 'show', `${args.tag}:${pkgPath}/generated.proto`);
    protobuf.parse(proto, root, { keepCase: true });
    const structs: GoStructs = new Map();
    const files = git(dir, 'ls-tree', '--name-only', `${args.tag}:${pkgPath}/`).split('\n');
    for (const f of files) {
      if (!f.endsWith('.go') || f.endsWith('_test.go') || f.startsWith('zz_generated') || f.endsWith('.pb.go')) continue;
      parseGoStructs(git(dir, 'show', `${args.tag}:${pkgPath}/${f}`), structs);
    }
    goStructs.set(protoPackage, structs);
  };
  for (const p of APIMACHINERY_PACKAGES) load(args.apimachinery, p, `k8s.io.apimachinery.${p.replace(/\//g, '.')}`);
  for (const d of apiDirs) load(args.api, d, `k8s.io.api.${d.replace('/', '.')}`);
  root.resolveAll();

  const kinds: Record<string, string> = {};
  const wanted: string[] = [];
  for (const r of roots) {
    const name = `${protoPackageOf(r.apiVersion)}.${r.kind}`;
    root.lookupType(name); // throws when upstream has no such message
    kinds[`${r.apiVersion}/${r.kind}`] = name;
    wanted.push(name);
  }
  const meta = 'k8s.io.apimachinery.pkg.apis.meta.v1';
  for (const k of META_KINDS) {
    kinds[`meta/${k}`] = `${meta}.${k}`;
    wanted.push(`${meta}.${k}`);
  }
  wanted.push('k8s.io.apimachinery.pkg.runtime.Unknown');

  const messages: Record<string, MessageData> = {};
  const queue = [...wanted];
  const noGoStruct: string[] = [];
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (messages[name]) continue;
    const type = root.lookupType(name);
    const pkg = name.slice(0, name.lastIndexOf('.'));
    const go = goStructs.get(pkg)?.get(type.name);
    if (!go && type.fieldsArray.length > 0) noGoStruct.push(name);
    const fields: FieldData[] = [];
    for (const f of type.fieldsArray) {
      const g = go?.get(f.name);
      const resolved = f.resolvedType;
      const typeName = resolved ? resolved.fullName.replace(/^\./, '') : f.type;
      if (resolved instanceof protobuf.Type) queue.push(typeName);
      const field: FieldData = { no: f.id, name: f.name, json: g ? g.json : f.name, type: typeName };
      if (f instanceof protobuf.MapField) {
        field.rule = 'map';
        field.key = f.keyType;
      } else if (f.repeated) field.rule = 'repeated';
      if (g?.inline) field.inline = true;
      if (g?.pointer) field.pointer = true;
      if (!g || g.omitempty) field.omitempty = true;
      if (g?.patchStrategy) field.patchStrategy = g.patchStrategy;
      if (g?.patchMergeKey) field.patchMergeKey = g.patchMergeKey;
      fields.push(field);
    }
    messages[name] = { fields };
  }

  // gnostic's OpenAPI v2 messages (proto3), only the fields among GNOSTIC_MESSAGES.
  const gnosticCommit = git(args.gnostic, 'rev-parse', `${args.gnosticTag}^{commit}`).trim();
  const gnosticRoot = new protobuf.Root();
  const gnosticProto = git(args.gnostic, 'show', `${args.gnosticTag}:openapiv2/OpenAPIv2.proto`).replace(/^import .*$/gm, '').replace(/google\.protobuf\.Any/g, 'bytes');
  protobuf.parse(gnosticProto, gnosticRoot, { keepCase: true });
  gnosticRoot.resolveAll();
  const openapiV2: Record<string, MessageData> = {};
  for (const m of GNOSTIC_MESSAGES) {
    const type = gnosticRoot.lookupType(`openapi.v2.${m}`);
    openapiV2[m] = {
      fields: type.fieldsArray
        .filter((f) => !f.resolvedType || GNOSTIC_MESSAGES.includes(f.resolvedType.name))
        .map((f) => ({ no: f.id, name: f.name, json: f.name, type: f.resolvedType ? `openapi.v2.${f.resolvedType.name}` : f.type, ...(f.repeated ? { rule: 'repeated' as const } : {}) })),
    };
  }

  const sorted = Object.fromEntries(Object.keys(messages).sort().map((k) => [k, messages[k]]));
  const data: K8sTypeData = {
    source: {
      note: 'Derived by scripts/gen-k8s-types.ts from generated.proto and the Go types (field facts only). Apache-2.0 upstream.',
      repositories: [
        { repository: API_REPO, tag: args.tag, commit: apiCommit },
        { repository: APIMACHINERY_REPO, tag: args.tag, commit: machineryCommit },
        { repository: GNOSTIC_REPO, tag: args.gnosticTag, commit: gnosticCommit },
      ],
    },
    kinds,
    messages: sorted,
    openapiV2,
  };
  if (noGoStruct.length > 0) process.stderr.write(`no Go struct found (JSON names = proto names): ${noGoStruct.join(', ')}\n`);
  writeFileSync(args.out, JSON.stringify(data, null, 1) + '\n');
  const fieldCount = Object.values(messages).reduce((n, m) => n + m.fields.length, 0);
  process.stdout.write(`${args.out}: ${Object.keys(kinds).length} kinds, ${Object.keys(messages).length} messages, ${fieldCount} fields\n`);
}

main();
