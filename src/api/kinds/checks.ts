// The field checks and defaulting helpers the kind modules share: Kubernetes-style
// StatusCauses and their messages, typed JSON access, and small checks (IPs,
// ports, enums, labels, selectors). Pure.
import { isCidr, isIp } from '../../core/cidr.ts';
import { isKubeError } from '../../core/errors.ts';
import { isDns1123Label, isIanaSvcName, isLabelValue, isQualifiedName } from '../../core/names.ts';
import { labelSelectorRequirements } from '../../core/selectors.ts';
import type { LabelSelector, StatusCause } from '../../core/types.ts';

export type Obj = Record<string, unknown>;

// ------------------------------------------------------------ causes

export function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
}

export const cause = {
  required: (field: string, detail = ''): StatusCause => ({
    reason: 'FieldValueRequired',
    message: detail ? `Required value: ${detail}` : 'Required value',
    field,
  }),
  invalid: (field: string, value: unknown, detail: string): StatusCause => ({
    reason: 'FieldValueInvalid',
    message: `Invalid value: ${show(value)}: ${detail}`,
    field,
  }),
  notSupported: (field: string, value: unknown, supported: readonly string[]): StatusCause => ({
    reason: 'FieldValueNotSupported',
    message: `Unsupported value: ${show(value)}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`,
    field,
  }),
  duplicate: (field: string, value: unknown): StatusCause => ({
    reason: 'FieldValueDuplicate',
    message: `Duplicate value: ${show(value)}`,
    field,
  }),
  forbidden: (field: string, detail: string): StatusCause => ({
    reason: 'FieldValueForbidden',
    message: `Forbidden: ${detail}`,
    field,
  }),
};

export const DNS1123_LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
export const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
export const DNS1035_LABEL_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
export const QUALIFIED_NAME_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
export const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
export const IANA_SVC_NAME_MSG = 'must be no more than 15 characters, contain only lowercase alphanumerics and \'-\', contain at least one letter, and not start, end or contain \'--\'';

export function isDns1035Label(s: string): boolean {
  return isDns1123Label(s) && /^[a-z]/.test(s);
}

// ------------------------------------------------------------ JSON access

export function asObj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}

export function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

// ------------------------------------------------------------ IPs and CIDRs

export function checkIp(field: string, value: unknown): StatusCause[] {
  return isIp(value) ? [] : [cause.invalid(field, value, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)')];
}

export function checkCidr(field: string, value: unknown): StatusCause[] {
  return isCidr(value, { allowHostBits: true })
    ? []
    : [cause.invalid(field, value, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)')];
}

// ------------------------------------------------------------ shared field checks

export const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

export function checkProtocol(field: string, value: unknown): StatusCause[] {
  if (value === undefined) return [];
  return PROTOCOLS.includes(value as (typeof PROTOCOLS)[number]) ? [] : [cause.notSupported(field, value, PROTOCOLS)];
}

export function checkPortNumber(field: string, value: unknown, required = true): StatusCause[] {
  if (value === undefined || value === null) return required ? [cause.required(field)] : [];
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535
    ? []
    : [cause.invalid(field, value, 'must be between 1 and 65535, inclusive')];
}

/** An IntOrString port: a number 1–65535 or an IANA service name. */
export function checkPortOrName(field: string, value: unknown): StatusCause[] {
  if (typeof value === 'string') {
    if (/^\d+$/.test(value)) return checkPortNumber(field, Number(value));
    return isIanaSvcName(value) ? [] : [cause.invalid(field, value, IANA_SVC_NAME_MSG)];
  }
  return checkPortNumber(field, value);
}

export function checkEnum(field: string, value: unknown, allowed: readonly string[]): StatusCause[] {
  if (value === undefined) return [];
  return allowed.includes(value as string) ? [] : [cause.notSupported(field, value, allowed)];
}

export function checkNonNegative(field: string, value: unknown): StatusCause[] {
  if (value === undefined) return [];
  return Number.isInteger(value) && (value as number) >= 0 ? [] : [cause.invalid(field, value, 'must be greater than or equal to 0')];
}

/** An IntOrString that is an integer or "<n>%"; its value as given. */
export function checkIntOrPercent(field: string, v: unknown): StatusCause[] {
  if (v === undefined) return [];
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return [];
  if (typeof v === 'string' && /^\d+%$/.test(v)) return [];
  return [cause.invalid(field, v, 'a valid percent string must be a numeric string followed by an ending \'%\' (e.g. \'1%\',  or \'93%\')')];
}

export function checkLabels(field: string, labels: unknown): StatusCause[] {
  const out: StatusCause[] = [];
  for (const [key, value] of Object.entries(asObj(labels) ?? {})) {
    if (!isQualifiedName(key)) out.push(cause.invalid(field, key, QUALIFIED_NAME_MSG));
    if (typeof value !== 'string' || !isLabelValue(value)) {
      const tooLong = typeof value === 'string' && value.length > 63;
      out.push(cause.invalid(field, value, `${tooLong ? 'must be no more than 63 characters; ' : ''}${LABEL_VALUE_MSG}`));
    }
  }
  return out;
}

const ANNOTATIONS_MAX_BYTES = 256 * 1024;

export function checkAnnotations(field: string, annotations: unknown): StatusCause[] {
  const out: StatusCause[] = [];
  let size = 0;
  for (const [key, value] of Object.entries(asObj(annotations) ?? {})) {
    if (!isQualifiedName(key.toLowerCase())) out.push(cause.invalid(field, key, QUALIFIED_NAME_MSG));
    if (typeof value !== 'string') out.push(cause.invalid(field, value, 'annotation values must be strings'));
    size += key.length + (typeof value === 'string' ? value.length : 0);
  }
  if (size > ANNOTATIONS_MAX_BYTES) out.push({ reason: 'FieldValueTooLong', message: `Too long: must have at most ${ANNOTATIONS_MAX_BYTES} bytes`, field });
  return out;
}

export function checkSelector(field: string, sel: unknown): StatusCause[] {
  try {
    labelSelectorRequirements(sel as LabelSelector);
    return [...checkLabels(`${field}.matchLabels`, asObj(sel)?.matchLabels)];
  } catch (err) {
    if (isKubeError(err)) return [cause.invalid(field, sel, err.message)];
    throw err;
  }
}

export function uniqueNames(field: string, items: unknown[], key: string, check?: (name: string) => string | undefined): StatusCause[] {
  const out: StatusCause[] = [];
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const name = str(asObj(item)?.[key]);
    const f = `${field}[${i}].${key}`;
    if (!name) {
      out.push(cause.required(f));
      return;
    }
    const problem = check?.(name);
    if (problem) out.push(cause.invalid(f, name, problem));
    if (seen.has(name)) out.push(cause.duplicate(f, name));
    seen.add(name);
  });
  return out;
}

// ------------------------------------------------------------ defaulting

export function setDefault(o: Obj, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null) o[key] = value;
}

/** The object at o[key], created when absent. */
export function child(o: Obj, key: string): Obj {
  const existing = asObj(o[key]);
  if (existing) return existing;
  const created: Obj = {};
  o[key] = created;
  return created;
}

/** Sets protocol: TCP on every port of a list. */
export function defaultProtocols(list: unknown): void {
  for (const p of asList(list)) {
    const port = asObj(p);
    if (port) setDefault(port, 'protocol', 'TCP');
  }
}
