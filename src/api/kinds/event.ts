// Events (core/v1): type and involvedObject checks, the printer and the
// registry's field selectors. A PUT may create one.
import type { KubeObject, StatusCause } from '../../core/types.ts';
import { asObj, cause, checkEnum } from './checks.ts';
import { ageCell, age, col, printer, record, text } from './printer.ts';
import { pathSelectors, pathValue, type KindStrategy } from './strategy.ts';

function validateEvent(obj: KubeObject): StatusCause[] {
  const involved = asObj(obj.involvedObject);
  const out: StatusCause[] = [];
  if (involved?.namespace && obj.metadata.namespace && involved.namespace !== obj.metadata.namespace) {
    out.push(cause.invalid('involvedObject.namespace', involved.namespace, 'does not match event.namespace'));
  }
  if (obj.type !== undefined && obj.type !== '') out.push(...checkEnum('type', obj.type, ['Normal', 'Warning']));
  return out;
}

function eventObject(ev: KubeObject): string {
  const o = record(ev.involvedObject);
  return `${text(o.kind).toLowerCase()}/${text(o.name)}`;
}

function eventLastSeen(ev: KubeObject, now: Date): string {
  const ts = text(ev.lastTimestamp) || text(ev.eventTime) || text(ev.firstTimestamp) || ev.metadata.creationTimestamp;
  return age(ts, now);
}

export const eventStrategy: KindStrategy = {
  groupResource: 'events',
  topLevelFields: [
    'involvedObject', 'reason', 'message', 'source', 'firstTimestamp', 'lastTimestamp', 'count', 'type', 'eventTime',
    'series', 'action', 'related', 'reportingComponent', 'reportingInstance',
  ],
  validate: validateEvent,
  printer: printer([
    [col('Last Seen', 'The time at which the most recent occurrence of this event was recorded.'), (o, now) => eventLastSeen(o, now)],
    [col('Type', 'Type of this event (Normal, Warning), new types could be added in the future.'), (o) => text(o.type)],
    [col('Reason', 'This should be a short, machine understandable string that gives the reason for the transition into the object\'s current status.'), (o) => text(o.reason)],
    [col('Object', 'The object that this event is about.'), (o) => eventObject(o)],
    [col('Message', 'A human-readable description of the status of this operation.'), (o) => text(o.message)],
    ageCell,
  ]),
  fieldSelectors: {
    ...pathSelectors([
      'involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion',
      'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'type',
    ]),
    source: pathValue('source.component'),
  },
  createOnUpdate: true,
};
