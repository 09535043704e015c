// ConfigMaps: key syntax, data and binaryData disjoint, and `immutable`.
import { deepEqual } from '../../core/deep-equal.ts';
import type { KubeObject, StatusCause } from '../../core/types.ts';
import { asObj, cause } from './checks.ts';
import { ageCell, col, printer, record } from './printer.ts';
import type { KindStrategy } from './strategy.ts';

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

function validateConfigMap(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const data = asObj(obj.data) ?? {};
  const binary = asObj(obj.binaryData) ?? {};
  for (const [field, map] of [['data', data], ['binaryData', binary]] as const) {
    for (const [key, value] of Object.entries(map)) {
      if (key.length > 253 || !CONFIG_KEY.test(key)) {
        out.push(cause.invalid(field, key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
      }
      if (typeof value !== 'string') out.push(cause.invalid(`${field}[${key}]`, value, 'must be a string'));
    }
  }
  for (const key of Object.keys(binary)) if (key in data) out.push(cause.duplicate('data', key));
  if (old?.immutable === true && (!deepEqual(old.data, obj.data) || !deepEqual(old.binaryData, obj.binaryData) || obj.immutable !== true)) {
    out.push(cause.forbidden('data', 'field is immutable when `immutable` is set'));
  }
  return out;
}

export const configMapStrategy: KindStrategy = {
  groupResource: 'configmaps',
  topLevelFields: ['data', 'binaryData', 'immutable'],
  validate: validateConfigMap,
  printer: printer([
    [col('Data', 'Data contains the configuration data.', { type: 'integer' }), (o) => Object.keys(record(o.data)).length + Object.keys(record(o.binaryData)).length],
    ageCell,
  ]),
};
