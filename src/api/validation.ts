// Validation and defaulting of API objects, in the manner of the Kubernetes
// validators and defaulters. Pure functions: validateObject returns
// StatusCauses (the registry turns a non-empty list into a 422 Invalid),
// applyDefaults returns a new object.
//
// What is common to every kind lives here (kind, metadata, strict metadata
// fields); what is particular to one kind is its strategy's (src/api/kinds/).
// Only what meshlet acts on is checked; unknown fields inside a spec are not
// (see unknownTopLevelFields for fieldValidation=Strict at the top level and
// in metadata).

import { isDns1123Label, isDns1123Subdomain, isQualifiedName } from '../core/names.ts';
import type { ResourceInfo } from '../core/resources.ts';
import type { KubeObject, StatusCause } from '../core/types.ts';
import { DNS1123_LABEL_MSG, DNS1123_SUBDOMAIN_MSG, QUALIFIED_NAME_MSG, asList, asObj, cause, checkAnnotations, checkLabels } from './kinds/checks.ts';
import { strategyFor } from './kinds/index.ts';

export { isDns1123Label, isDns1123Subdomain } from '../core/names.ts';

// ------------------------------------------------------------ metadata

const SUBDOMAIN_RULE = { test: isDns1123Subdomain, message: DNS1123_SUBDOMAIN_MSG };

function validateMetadata(info: ResourceInfo, obj: KubeObject, old?: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const meta = asObj(obj.metadata);
  if (!meta) return [cause.required('metadata')];
  const name = meta.name;
  const rule = strategyFor(info).nameRule ?? SUBDOMAIN_RULE;
  if (name === undefined || name === '') {
    if (!meta.generateName) out.push(cause.required('metadata.name', 'name or generateName is required'));
  } else if (typeof name !== 'string' || !rule.test(name)) {
    out.push(cause.invalid('metadata.name', name, rule.message));
  }
  const ns = meta.namespace;
  if (info.namespaced) {
    if (ns === undefined || ns === '') out.push(cause.required('metadata.namespace'));
    else if (typeof ns !== 'string' || !isDns1123Label(ns)) out.push(cause.invalid('metadata.namespace', ns, DNS1123_LABEL_MSG));
  } else if (ns) {
    out.push(cause.forbidden('metadata.namespace', 'not allowed on this type'));
  }
  out.push(...checkLabels('metadata.labels', meta.labels));
  out.push(...checkAnnotations('metadata.annotations', meta.annotations));
  asList(meta.finalizers).forEach((f, i) => {
    if (typeof f !== 'string' || !isQualifiedName(f)) out.push(cause.invalid(`metadata.finalizers[${i}]`, f, QUALIFIED_NAME_MSG));
  });
  if (old) {
    if (old.metadata.name !== meta.name) out.push(cause.invalid('metadata.name', meta.name, 'field is immutable'));
    if ((old.metadata.namespace ?? '') !== (meta.namespace ?? '')) {
      out.push(cause.invalid('metadata.namespace', meta.namespace, 'field is immutable'));
    }
    if (old.metadata.uid && meta.uid && old.metadata.uid !== meta.uid) out.push(cause.invalid('metadata.uid', meta.uid, 'field is immutable'));
  }
  return out;
}

/** Kubernetes-style causes; [] when the object is valid. Pass `old` on update to check immutable fields. */
export function validateObject(info: ResourceInfo, obj: KubeObject, old?: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  if (obj.kind !== undefined && obj.kind !== info.kind) out.push(cause.invalid('kind', obj.kind, `must be ${info.kind}`));
  out.push(...validateMetadata(info, obj, old));
  out.push(...(strategyFor(info).validate?.(obj, old) ?? []));
  return out;
}

// ------------------------------------------------------------ defaults

/** The object with the Kubernetes defaults of its kind filled in; the input is not changed. */
export function applyDefaults(info: ResourceInfo, obj: KubeObject): KubeObject {
  const copy = structuredClone(obj);
  copy.metadata = copy.metadata ?? {};
  strategyFor(info).defaults?.(copy);
  return copy;
}

// ------------------------------------------------------------ strict field validation

const METADATA_FIELDS = [
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
];

/**
 * Fields the kind does not have, for fieldValidation=Strict: unknown top-level
 * fields ("spex") and unknown metadata fields ("metadata.lables"), sorted.
 */
export function unknownTopLevelFields(info: ResourceInfo, obj: KubeObject): string[] {
  const known = new Set(['apiVersion', 'kind', 'metadata', ...strategyFor(info).topLevelFields]);
  const out = Object.keys(obj).filter((k) => !known.has(k));
  const meta = asObj(obj.metadata);
  if (meta) out.push(...Object.keys(meta).filter((k) => !METADATA_FIELDS.includes(k)).map((k) => `metadata.${k}`));
  return out.sort();
}
