// ControllerRevisions (apps/v1): immutable snapshots of a DaemonSet's or
// StatefulSet's template (data) with their revision number; `kubectl rollout
// history/undo` reads them.
import { deepEqual } from '../../core/deep-equal.ts';
import type { KubeObject, StatusCause } from '../../core/types.ts';
import { CONTROLLERREVISIONS } from '../../core/well-known.ts';
import { cause, checkNonNegative } from './checks.ts';
import { ageCell, col, NONE, num, printer, text } from './printer.ts';
import type { KindStrategy } from './strategy.ts';

type Rec = Record<string, unknown>;

function validateRevision(obj: KubeObject, old: KubeObject | undefined): StatusCause[] {
  const o = obj as KubeObject & Rec;
  const out: StatusCause[] = [];
  if (o.revision === undefined) out.push(cause.required('revision'));
  else if (typeof o.revision !== 'number' || !Number.isInteger(o.revision)) out.push(cause.invalid('revision', o.revision, 'must be an integer'));
  else out.push(...checkNonNegative('revision', o.revision));
  if (old && !deepEqual((old as KubeObject & Rec).data, o.data)) out.push(cause.invalid('data', o.data, 'field is immutable'));
  return out;
}

/** "daemonset.apps/web", as upstream's printer names the controller; <none> without one. */
function controllerCell(o: KubeObject): string {
  const ref = o.metadata.ownerReferences?.find((r) => r.controller === true);
  if (!ref) return NONE;
  const group = text(ref.apiVersion).includes('/') ? text(ref.apiVersion).split('/')[0] : '';
  return `${ref.kind.toLowerCase()}${group ? `.${group}` : ''}/${ref.name}`;
}

export const controllerRevisionStrategy: KindStrategy = {
  groupResource: CONTROLLERREVISIONS,
  topLevelFields: ['data', 'revision'],
  validate: validateRevision,
  printer: printer([
    [col('Controller', 'Controller of the object'), controllerCell],
    [col('Revision', 'Revision is the revision number', { type: 'integer' }), (o) => num((o as KubeObject & Rec).revision)],
    ageCell,
  ]),
};
