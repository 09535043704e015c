// Validation of a NetworkPolicy as the API does it (networking/validation
// ValidateNetworkPolicy): pure, returning StatusCauses in the shape
// src/api/validation.ts returns (reason FieldValueRequired/Invalid/
// NotSupported/Forbidden/Duplicate, message "<Kind>: …", field path), so the
// registry can turn a non-empty list into a 422 Invalid. compilePolicy
// (model.ts) accepts exactly what this accepts.
import { contains, isCidr, parseCidr } from '../core/cidr.ts';
import { isIanaSvcName } from '../core/names.ts';
import { labelSelectorRequirements } from '../core/selectors.ts';
import { isKubeError } from '../core/errors.ts';
import type { KubeObject, LabelSelector, StatusCause } from '../core/types.ts';
import { POLICY_MODE_ANNOTATION, POLICY_MODE_AUDIT, PROTOCOLS } from './model.ts';

type Obj = Record<string, unknown>;

const show = (v: unknown): string => JSON.stringify(v) ?? String(v);
const required = (field: string, detail = ''): StatusCause => ({ reason: 'FieldValueRequired', message: detail ? `Required value: ${detail}` : 'Required value', field });
const invalid = (field: string, value: unknown, detail: string): StatusCause => ({ reason: 'FieldValueInvalid', message: `Invalid value: ${show(value)}: ${detail}`, field });
const notSupported = (field: string, value: unknown, supported: readonly string[]): StatusCause => ({
  reason: 'FieldValueNotSupported',
  message: `Unsupported value: ${show(value)}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`,
  field,
});
const forbidden = (field: string, detail: string): StatusCause => ({ reason: 'FieldValueForbidden', message: `Forbidden: ${detail}`, field });
const duplicate = (field: string, value: unknown): StatusCause => ({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${show(value)}`, field });

function asObj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}

function list(field: string, v: unknown, out: StatusCause[]): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    out.push(invalid(field, v, 'must be a list'));
    return [];
  }
  return v;
}

function selector(field: string, sel: unknown): StatusCause[] {
  if (asObj(sel) === undefined) return [invalid(field, sel, 'must be a label selector object')];
  try {
    labelSelectorRequirements(sel as LabelSelector);
    return [];
  } catch (err) {
    if (isKubeError(err)) return [invalid(field, sel, err.message)];
    throw err;
  }
}

const portNumber = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
const CIDR_MSG = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';

function ports(field: string, raw: unknown, out: StatusCause[]): void {
  list(field, raw, out).forEach((p, i) => {
    const f = `${field}[${i}]`;
    const port = asObj(p);
    if (!port) return void out.push(invalid(f, p, 'must be an object'));
    if (port.protocol !== undefined && !PROTOCOLS.includes(port.protocol as never)) out.push(notSupported(`${f}.protocol`, port.protocol, PROTOCOLS));
    const named = typeof port.port === 'string' && !/^\d+$/.test(port.port);
    if (port.port !== undefined && port.port !== null) {
      if (named) {
        if (!isIanaSvcName(port.port as string)) out.push(invalid(`${f}.port`, port.port, "must be no more than 15 characters, contain only lowercase alphanumerics and '-', contain at least one letter, and not start, end or contain '--'"));
      } else if (!portNumber(Number(port.port)) || (typeof port.port !== 'number' && typeof port.port !== 'string')) {
        out.push(invalid(`${f}.port`, port.port, 'must be between 1 and 65535, inclusive'));
      }
    }
    if (port.endPort !== undefined && port.endPort !== null) {
      if (port.port === undefined || port.port === null) out.push(required(`${f}.port`, 'must be specified when endPort is specified'));
      else if (named) out.push(forbidden(`${f}.endPort`, 'may not be specified when `port` is non-numeric'));
      else if (!portNumber(port.endPort)) out.push(invalid(`${f}.endPort`, port.endPort, 'must be between 1 and 65535, inclusive'));
      else if ((port.endPort as number) < Number(port.port)) out.push(invalid(`${f}.endPort`, port.endPort, 'must be greater than or equal to `port`'));
    }
  });
}

function ipBlock(f: string, raw: unknown, out: StatusCause[]): void {
  const block = asObj(raw);
  if (!block) return void out.push(invalid(f, raw, 'must be an object'));
  if (block.cidr === undefined || block.cidr === '') return void out.push(required(`${f}.cidr`));
  if (!isCidr(block.cidr, { allowHostBits: true })) return void out.push(invalid(`${f}.cidr`, block.cidr, CIDR_MSG));
  const outer = parseCidr(block.cidr, { allowHostBits: true });
  list(`${f}.except`, block.except, out).forEach((e, j) => {
    const ef = `${f}.except[${j}]`;
    if (!isCidr(e, { allowHostBits: true })) return void out.push(invalid(ef, e, CIDR_MSG));
    const inner = parseCidr(e, { allowHostBits: true });
    if (!(inner.prefix > outer.prefix && contains(outer, inner))) out.push(invalid(ef, e, 'must be a strict subset of `cidr`'));
  });
}

function peers(field: string, raw: unknown, out: StatusCause[]): void {
  list(field, raw, out).forEach((p, i) => {
    const f = `${field}[${i}]`;
    const peer = asObj(p);
    if (!peer) return void out.push(invalid(f, p, 'must be an object'));
    const kinds = ['podSelector', 'namespaceSelector', 'ipBlock'].filter((k) => peer[k] !== undefined && peer[k] !== null);
    if (kinds.length === 0) out.push(required(f, 'must specify a peer'));
    if (peer.ipBlock !== undefined && peer.ipBlock !== null && kinds.length > 1) out.push(forbidden(f, 'may not specify more than 1 peer type when ipBlock is set'));
    for (const k of ['podSelector', 'namespaceSelector']) if (peer[k] !== undefined && peer[k] !== null) out.push(...selector(`${f}.${k}`, peer[k]));
    if (peer.ipBlock !== undefined && peer.ipBlock !== null) ipBlock(`${f}.ipBlock`, peer.ipBlock, out);
  });
}

/** The field causes of an invalid NetworkPolicy ([] when valid). */
export function validateNetworkPolicy(obj: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const mode = obj.metadata?.annotations?.[POLICY_MODE_ANNOTATION];
  if (mode !== undefined && mode !== POLICY_MODE_AUDIT) out.push(notSupported(`metadata.annotations[${POLICY_MODE_ANNOTATION}]`, mode, [POLICY_MODE_AUDIT]));
  const spec = asObj(obj.spec);
  if (!spec) return [...out, required('spec')];
  if (spec.podSelector === undefined || spec.podSelector === null) out.push(required('spec.podSelector'));
  else out.push(...selector('spec.podSelector', spec.podSelector));
  const types = list('spec.policyTypes', spec.policyTypes, out);
  if (types.length > 2) out.push(invalid('spec.policyTypes', types, 'may not specify more than two policyTypes'));
  const seen = new Set<unknown>();
  types.forEach((t, i) => {
    if (t !== 'Ingress' && t !== 'Egress') out.push(notSupported(`spec.policyTypes[${i}]`, t, ['Ingress', 'Egress']));
    else if (seen.has(t)) out.push(duplicate(`spec.policyTypes[${i}]`, t));
    seen.add(t);
  });
  list('spec.ingress', spec.ingress, out).forEach((r, i) => {
    const rule = asObj(r) ?? {};
    ports(`spec.ingress[${i}].ports`, rule.ports, out);
    peers(`spec.ingress[${i}].from`, rule.from, out);
  });
  list('spec.egress', spec.egress, out).forEach((r, i) => {
    const rule = asObj(r) ?? {};
    ports(`spec.egress[${i}].ports`, rule.ports, out);
    peers(`spec.egress[${i}].to`, rule.to, out);
  });
  return out;
}
