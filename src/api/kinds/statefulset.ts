// StatefulSets (apps/v1): the pod-template rules DaemonSets share, upstream's
// defaults (replicas 1, OrderedReady, RollingUpdate with partition 0,
// revisionHistoryLimit 10, PVC retention Retain/Retain), and a clear refusal
// of volumeClaimTemplates while meshlet serves no storage.
import type { KubeObject, StatusCause } from '../../core/types.ts';
import { STATEFULSETS } from '../../core/well-known.ts';
import { asList, asObj, cause, checkEnum, checkNonNegative, child, setDefault } from './checks.ts';
import { defaultTemplate, TEMPLATE_LISTS, templateWide, validatePodTemplateOwner } from './daemonset.ts';
import { ageCell, col, num, printer, record } from './printer.ts';
import type { KindStrategy } from './strategy.ts';

export const NO_STORAGE_MESSAGE =
  'meshlet serves no PersistentVolumeClaims yet: volumeClaimTemplates are refused until storage exists; use a StatefulSet without them';

function validateStatefulSet(obj: KubeObject, old: KubeObject | undefined): StatusCause[] {
  const out = validatePodTemplateOwner('statefulset', obj, old);
  const spec = asObj(obj.spec);
  if (!spec) return out;
  out.push(...checkNonNegative('spec.replicas', spec.replicas));
  out.push(...checkEnum('spec.podManagementPolicy', spec.podManagementPolicy, ['OrderedReady', 'Parallel']));
  const strategy = asObj(spec.updateStrategy);
  if (strategy) {
    out.push(...checkEnum('spec.updateStrategy.type', strategy.type, ['OnDelete', 'RollingUpdate']));
    const ru = asObj(strategy.rollingUpdate);
    if (strategy.type === 'OnDelete' && ru) out.push(cause.forbidden('spec.updateStrategy.rollingUpdate', 'only allowed for updateStrategy \'RollingUpdate\''));
    if (ru) out.push(...checkNonNegative('spec.updateStrategy.rollingUpdate.partition', ru.partition));
  }
  if (asList(spec.volumeClaimTemplates).length > 0) {
    out.push(cause.forbidden('spec.volumeClaimTemplates', NO_STORAGE_MESSAGE));
  }
  if (old) {
    const o = asObj(old.spec) ?? {};
    if ((o.podManagementPolicy ?? 'OrderedReady') !== (spec.podManagementPolicy ?? 'OrderedReady')) {
      out.push(cause.forbidden('spec', 'updates to statefulset spec for fields other than \'replicas\', \'ordinals\', \'template\', \'updateStrategy\', \'persistentVolumeClaimRetentionPolicy\' and \'minReadySeconds\' are forbidden'));
    }
  }
  return out;
}

function defaultStatefulSet(o: KubeObject): void {
  const spec = child(o, 'spec');
  setDefault(spec, 'replicas', 1);
  setDefault(spec, 'podManagementPolicy', 'OrderedReady');
  const strategy = child(spec, 'updateStrategy');
  setDefault(strategy, 'type', 'RollingUpdate');
  if (strategy.type === 'RollingUpdate') setDefault(child(strategy, 'rollingUpdate'), 'partition', 0);
  setDefault(spec, 'revisionHistoryLimit', 10);
  const retention = child(spec, 'persistentVolumeClaimRetentionPolicy');
  setDefault(retention, 'whenDeleted', 'Retain');
  setDefault(retention, 'whenScaled', 'Retain');
  defaultTemplate(spec);
}

export const statefulSetStrategy: KindStrategy = {
  groupResource: STATEFULSETS,
  topLevelFields: ['spec', 'status'],
  validate: validateStatefulSet,
  defaults: defaultStatefulSet,
  listStrategies: TEMPLATE_LISTS,
  printer: printer([
    [col('Ready', 'Number of the pod with ready state'), (o) => `${num(record(o.status).readyReplicas)}/${num(record(o.spec).replicas)}`],
    ageCell,
    ...templateWide(false),
  ]),
};
