// DaemonSets (apps/v1): a selector matching the pod template, the shared pod
// spec rules, upstream's defaults (RollingUpdate with maxUnavailable 1 and
// maxSurge 0, revisionHistoryLimit 10) and the `kubectl get ds` columns.
// The template-owner checks StatefulSets share live here too (selector and template: pod-template.ts).
import { deepEqual } from '../../core/deep-equal.ts';
import type { KubeObject, StatusCause } from '../../core/types.ts';
import { DAEMONSETS } from '../../core/well-known.ts';
import { asObj, cause, checkEnum, checkIntOrPercent, checkNonNegative, child, setDefault, type Obj } from './checks.ts';
import { defaultPodSpec, POD_SPEC_LISTS } from './pod-spec.ts';
import { ageCell, col, list, mapSelectorText, num, printer, record, selectorText, text, type Column } from './printer.ts';
import { CONDITIONS, prefixed, type KindStrategy } from './strategy.ts';
import { validateSelectorAndTemplate } from './pod-template.ts';

/** spec.selector (required, non-empty, immutable) matches spec.template's labels; the template is a valid pod template. */
export function validatePodTemplateOwner(kind: string, obj: KubeObject, old: KubeObject | undefined): StatusCause[] {
  const out: StatusCause[] = [];
  const spec = asObj(obj.spec);
  if (!spec) return [cause.required('spec')];
  out.push(...checkNonNegative('spec.minReadySeconds', spec.minReadySeconds));
  out.push(...checkNonNegative('spec.revisionHistoryLimit', spec.revisionHistoryLimit));
  out.push(...validateSelectorAndTemplate('spec', spec, { selectorRequired: true, nonEmptySelectorFor: kind, restartPolicies: ['Always'] }));
  if (old && !deepEqual(asObj(old.spec)?.selector, spec.selector)) {
    out.push(cause.invalid('spec.selector', spec.selector, 'field is immutable'));
  }
  return out;
}

function isZero(v: unknown): boolean {
  return v === 0 || v === '0%';
}

function validateDaemonSet(obj: KubeObject, old: KubeObject | undefined): StatusCause[] {
  const out = validatePodTemplateOwner('daemonset', obj, old);
  const strategy = asObj(asObj(obj.spec)?.updateStrategy);
  if (strategy) {
    out.push(...checkEnum('spec.updateStrategy.type', strategy.type, ['OnDelete', 'RollingUpdate']));
    const ru = asObj(strategy.rollingUpdate);
    if (strategy.type === 'OnDelete' && ru) out.push(cause.forbidden('spec.updateStrategy.rollingUpdate', 'may not be specified when strategy `type` is \'OnDelete\''));
    if (ru) {
      out.push(...checkIntOrPercent('spec.updateStrategy.rollingUpdate.maxUnavailable', ru.maxUnavailable));
      out.push(...checkIntOrPercent('spec.updateStrategy.rollingUpdate.maxSurge', ru.maxSurge));
      if (isZero(ru.maxUnavailable) && isZero(ru.maxSurge)) {
        out.push(cause.invalid('spec.updateStrategy.rollingUpdate.maxUnavailable', ru.maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
      }
    }
  }
  return out;
}

/** Defaults into the template's pod spec. */
export function defaultTemplate(spec: Obj): void {
  const template = asObj(spec.template);
  if (template) defaultPodSpec(child(template, 'spec'));
}

function defaultDaemonSet(o: KubeObject): void {
  const spec = child(o, 'spec');
  const strategy = child(spec, 'updateStrategy');
  setDefault(strategy, 'type', 'RollingUpdate');
  if (strategy.type === 'RollingUpdate') {
    const ru = child(strategy, 'rollingUpdate');
    setDefault(ru, 'maxUnavailable', 1);
    setDefault(ru, 'maxSurge', 0);
  }
  setDefault(spec, 'revisionHistoryLimit', 10);
  defaultTemplate(spec);
}

function templateContainers(obj: KubeObject): Record<string, unknown>[] {
  return list(record(record(record(obj.spec).template).spec).containers).map(record);
}

/** Containers and Images at -o wide, then Selector when `withSelector`. */
export function templateWide(withSelector: boolean): Column[] {
  return [
    [col('Containers', 'Names of each container in the template.', { priority: 1 }), (o) => templateContainers(o).map((c) => text(c.name)).join(',')],
    [col('Images', 'Images referenced by each container in the template.', { priority: 1 }), (o) => templateContainers(o).map((c) => text(c.image)).join(',')],
    ...(withSelector ? [[col('Selector', 'Label selector for pods.', { priority: 1 }), (o: KubeObject) => selectorText(record(o.spec).selector)] as Column] : []),
  ];
}

export const TEMPLATE_LISTS = { ...prefixed('spec.template.spec', POD_SPEC_LISTS), ...CONDITIONS };

export const daemonSetStrategy: KindStrategy = {
  groupResource: DAEMONSETS,
  topLevelFields: ['spec', 'status'],
  validate: validateDaemonSet,
  defaults: defaultDaemonSet,
  listStrategies: TEMPLATE_LISTS,
  printer: printer([
    [col('Desired', 'The desired number of nodes running the daemon pod.', { type: 'integer' }), (o) => num(record(o.status).desiredNumberScheduled)],
    [col('Current', 'The number of nodes running at least one daemon pod.', { type: 'integer' }), (o) => num(record(o.status).currentNumberScheduled)],
    [col('Ready', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.', { type: 'integer' }), (o) => num(record(o.status).numberReady)],
    [col('Up-to-date', 'The total number of nodes that are running updated daemon pod.', { type: 'integer' }), (o) => num(record(o.status).updatedNumberScheduled)],
    [col('Available', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.', { type: 'integer' }), (o) => num(record(o.status).numberAvailable)],
    [col('Node Selector', 'NodeSelector is a selector which must be true for the pod to fit on a node.'), (o) => mapSelectorText(record(record(record(o.spec).template).spec).nodeSelector)],
    ageCell,
    ...templateWide(true),
  ]),
};
