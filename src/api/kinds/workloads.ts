// Deployments and ReplicaSets: a selector that matches the pod template, the
// shared pod spec rules on the template, defaults (a Deployment's rolling
// update strategy), printers and the Scale-carrying status.
import { deepEqual } from '../../core/deep-equal.ts';
import type { KubeObject, StatusCause } from '../../core/types.ts';
import { REPLICASETS } from '../../core/well-known.ts';
import { asObj, cause, checkEnum, checkNonNegative, child, setDefault } from './checks.ts';
import { defaultPodSpec, POD_SPEC_LISTS } from './pod-spec.ts';
import { ageCell, col, list, num, printer, record, selectorText, text, type Column } from './printer.ts';
import { CONDITIONS, pathValue, prefixed, type KindStrategy } from './strategy.ts';
import { validateSelectorAndTemplate } from './pod-template.ts';

function validateWorkload(obj: KubeObject, old: KubeObject | undefined, withStrategy: boolean): StatusCause[] {
  const out: StatusCause[] = [];
  const spec = asObj(obj.spec);
  if (!spec) return [cause.required('spec')];
  out.push(...checkNonNegative('spec.replicas', spec.replicas));
  out.push(...checkNonNegative('spec.minReadySeconds', spec.minReadySeconds));
  out.push(...checkNonNegative('spec.revisionHistoryLimit', spec.revisionHistoryLimit));
  out.push(...validateSelectorAndTemplate('spec', spec, { selectorRequired: true, nonEmptySelectorFor: 'deployment', restartPolicies: ['Always'] }));
  if (withStrategy) {
    const strategy = asObj(spec.strategy);
    if (strategy) {
      out.push(...checkEnum('spec.strategy.type', strategy.type, ['Recreate', 'RollingUpdate']));
      if (strategy.type === 'Recreate' && strategy.rollingUpdate !== undefined) {
        out.push(cause.forbidden('spec.strategy.rollingUpdate', 'may not be specified when strategy `type` is \'Recreate\''));
      }
    }
    if (spec.progressDeadlineSeconds !== undefined && spec.minReadySeconds !== undefined) {
      if ((spec.progressDeadlineSeconds as number) <= (spec.minReadySeconds as number)) {
        out.push(cause.invalid('spec.progressDeadlineSeconds', spec.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
      }
    }
  }
  if (old && !deepEqual(asObj(old.spec)?.selector, spec.selector)) {
    out.push(cause.invalid('spec.selector', spec.selector, 'field is immutable'));
  }
  return out;
}

function defaultWorkload(o: KubeObject, deployment: boolean): void {
  const spec = child(o, 'spec');
  setDefault(spec, 'replicas', 1);
  if (deployment) {
    const strategy = child(spec, 'strategy');
    setDefault(strategy, 'type', 'RollingUpdate');
    if (strategy.type === 'RollingUpdate') {
      const ru = child(strategy, 'rollingUpdate');
      setDefault(ru, 'maxUnavailable', '25%');
      setDefault(ru, 'maxSurge', '25%');
    }
    setDefault(spec, 'revisionHistoryLimit', 10);
    setDefault(spec, 'progressDeadlineSeconds', 600);
  }
  const template = asObj(spec.template);
  if (template) defaultPodSpec(child(template, 'spec'));
}

function templateContainers(obj: KubeObject): Record<string, unknown>[] {
  return list(record(record(record(obj.spec).template).spec).containers).map(record);
}

const workloadWide = (): Column[] => [
  [col('Containers', 'Names of each container in the template.', { priority: 1 }), (o) => templateContainers(o).map((c) => text(c.name)).join(',')],
  [col('Images', 'Images referenced by each container in the template.', { priority: 1 }), (o) => templateContainers(o).map((c) => text(c.image)).join(',')],
  [col('Selector', 'Label selector for pods.', { priority: 1 }), (o) => selectorText(record(o.spec).selector)],
];


const WORKLOAD_LISTS = { ...prefixed('spec.template.spec', POD_SPEC_LISTS), ...CONDITIONS };

export const deploymentStrategy: KindStrategy = {
  groupResource: 'deployments.apps',
  topLevelFields: ['spec', 'status'],
  validate: (obj, old) => validateWorkload(obj, old, true),
  defaults: (o) => defaultWorkload(o, true),
  listStrategies: WORKLOAD_LISTS,
  printer: printer([
    [col('Ready', 'Number of the pod with ready state'), (o) => `${num(record(o.status).readyReplicas)}/${num(record(o.spec).replicas)}`],
    [col('Up-to-date', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.', { type: 'integer' }), (o) => num(record(o.status).updatedReplicas)],
    [col('Available', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.', { type: 'integer' }), (o) => num(record(o.status).availableReplicas)],
    ageCell,
    ...workloadWide(),
  ]),
};

export const replicaSetStrategy: KindStrategy = {
  groupResource: REPLICASETS,
  topLevelFields: ['spec', 'status'],
  validate: (obj, old) => validateWorkload(obj, old, false),
  defaults: (o) => defaultWorkload(o, false),
  listStrategies: WORKLOAD_LISTS,
  printer: printer([
    [col('Desired', 'Replicas is the number of desired replicas.', { type: 'integer' }), (o) => num(record(o.spec).replicas)],
    [col('Current', 'Replicas is the most recently observed number of replicas.', { type: 'integer' }), (o) => num(record(o.status).replicas)],
    [col('Ready', 'The number of ready replicas for this replica set.', { type: 'integer' }), (o) => num(record(o.status).readyReplicas)],
    ageCell,
    ...workloadWide(),
  ]),
  fieldSelectors: { 'status.replicas': pathValue('status.replicas') },
};
