// Namespaces: DNS-1123 label names, the kubernetes finalizer and Active phase
// by default, spec.finalizers changed only through /finalize or /status, and
// deletion through Terminating until spec.finalizers is empty. The system
// namespaces may not be deleted.
import { isDns1123Label, isQualifiedName } from '../../core/names.ts';
import type { KubeObject, StatusCause } from '../../core/types.ts';
import { METADATA_NAME_LABEL, SYSTEM_NAMESPACES } from '../../core/well-known.ts';
import { DNS1123_LABEL_MSG, QUALIFIED_NAME_MSG, asList, asObj, cause, child, setDefault } from './checks.ts';
import { ageCell, col, printer, record, text } from './printer.ts';
import { CONDITIONS, pathSelectors, type KindStrategy } from './strategy.ts';

/** Namespaces nobody may delete. */
export const PROTECTED_NAMESPACES: ReadonlySet<string> = new Set(SYSTEM_NAMESPACES);

function validateNamespace(obj: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  asList(asObj(obj.spec)?.finalizers).forEach((f, i) => {
    if (typeof f !== 'string' || !isQualifiedName(f)) out.push(cause.invalid(`spec.finalizers[${i}]`, f, QUALIFIED_NAME_MSG));
  });
  return out;
}

function namespaceFinalizers(obj: KubeObject): unknown[] {
  const f = asObj(obj.spec)?.finalizers;
  return Array.isArray(f) ? f : [];
}

export const namespaceStrategy: KindStrategy = {
  groupResource: 'namespaces',
  nameRule: { test: isDns1123Label, message: DNS1123_LABEL_MSG },
  topLevelFields: ['spec', 'status'],
  validate: validateNamespace,
  defaults(o) {
    const name = o.metadata.name;
    if (name) o.metadata.labels = { ...(o.metadata.labels ?? {}), [METADATA_NAME_LABEL]: name };
    setDefault(child(o, 'spec'), 'finalizers', ['kubernetes']);
    setDefault(child(o, 'status'), 'phase', 'Active');
  },
  listStrategies: { ...CONDITIONS },
  printer: printer([[col('Status', 'The status of the namespace'), (o) => text(record(o.status).phase)], ageCell]),
  fieldSelectors: pathSelectors(['status.phase']),
  // spec.finalizers changes only through /finalize (or the status subresource).
  prepareUpdate(old, next) {
    const spec = { ...(asObj(next.spec) ?? {}) };
    const oldFinalizers = asObj(old.spec)?.finalizers;
    if (oldFinalizers === undefined) delete spec.finalizers;
    else spec.finalizers = structuredClone(oldFinalizers);
    next.spec = spec;
  },
  prepareStatusUpdate(old, input, next) {
    const finalizers = asObj(input.spec)?.finalizers;
    if (finalizers !== undefined) next.spec = { ...(asObj(old.spec) ?? {}), finalizers: structuredClone(finalizers) };
  },
  deletion: {
    heldBy: (obj) => namespaceFinalizers(obj).length > 0,
    onMark(obj) {
      obj.status = { ...(asObj(obj.status) ?? {}), phase: 'Terminating' };
    },
    forbidden: (name) => (PROTECTED_NAMESPACES.has(name) ? `namespaces "${name}" is forbidden: this namespace may not be deleted` : undefined),
  },
};
