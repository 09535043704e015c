// Leases (coordination.k8s.io): a positive duration; the holder in the printer.
// A PUT may create one (the node heartbeat and leader election do).
import type { KubeObject, StatusCause } from '../../core/types.ts';
import { asObj, cause } from './checks.ts';
import { ageCell, col, printer, record, text } from './printer.ts';
import type { KindStrategy } from './strategy.ts';

function validateLease(obj: KubeObject): StatusCause[] {
  const spec = asObj(obj.spec) ?? {};
  const d = spec.leaseDurationSeconds;
  if (d === undefined) return [];
  return Number.isInteger(d) && (d as number) > 0 ? [] : [cause.invalid('spec.leaseDurationSeconds', d, 'must be greater than 0')];
}

export const leaseStrategy: KindStrategy = {
  groupResource: 'leases.coordination.k8s.io',
  topLevelFields: ['spec'],
  validate: validateLease,
  printer: printer([[col('Holder', 'holderIdentity contains the identity of the holder of a current lease.'), (o) => text(record(o.spec).holderIdentity)], ageCell]),
  createOnUpdate: true,
};
