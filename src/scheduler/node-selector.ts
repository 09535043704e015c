// core/v1 NodeSelector matching: nodeSelector maps, node affinity terms and
// taints against tolerations. Terms are compiled once per pod into the
// label-selector requirements of src/core/selectors.ts.

import type { NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration } from './api-types.ts';
import { matchesLabels, type Requirement } from '../core/selectors.ts';

export interface CompiledTerm {
  expressions: Requirement[];
  /** Requirements on metadata.name (the only field a node selector may name). */
  nameRequirements: Requirement[];
  /** Empty terms and unsupported fields match no node. */
  matchesNothing: boolean;
}

const INTEGER = /^-?\d+$/;

function compileRequirement(r: NodeSelectorRequirement): Requirement | undefined {
  const values = r.values ?? [];
  // Gt and Lt take exactly one integer.
  if ((r.operator === 'Gt' || r.operator === 'Lt') && (values.length !== 1 || !INTEGER.test(values[0]))) return undefined;
  return { key: r.key, operator: r.operator, values };
}

export function compileTerm(term: NodeSelectorTerm): CompiledTerm {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  let matchesNothing = exprs.length === 0 && fields.length === 0;
  const expressions: Requirement[] = [];
  for (const e of exprs) {
    const r = compileRequirement(e);
    if (r) expressions.push(r);
    else matchesNothing = true;
  }
  const nameRequirements: Requirement[] = [];
  for (const f of fields) {
    if (f.key !== 'metadata.name' || (f.operator !== 'In' && f.operator !== 'NotIn')) matchesNothing = true;
    else nameRequirements.push({ key: 'name', operator: f.operator, values: f.values ?? [] });
  }
  return { expressions, nameRequirements, matchesNothing };
}

/** A term matches when all its expressions and fields match. */
export function matchCompiledTerm(term: CompiledTerm, nodeName: string, labels: Record<string, string>): boolean {
  if (term.matchesNothing) return false;
  if (!matchesLabels(term.expressions, labels)) return false;
  return term.nameRequirements.length === 0 || matchesLabels(term.nameRequirements, { name: nodeName });
}

/** Terms are ORed; no terms match no node. */
export function matchAnyTerm(terms: readonly CompiledTerm[], nodeName: string, labels: Record<string, string>): boolean {
  for (const t of terms) if (matchCompiledTerm(t, nodeName, labels)) return true;
  return false;
}

export function matchNodeSelector(selector: Record<string, string>, labels: Record<string, string>): boolean {
  for (const key in selector) {
    if (!Object.hasOwn(labels, key) || labels[key] !== selector[key]) return false;
  }
  return true;
}

/** v1 Toleration.ToleratesTaint. */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator ?? 'Equal') {
    case 'Exists':
      return true;
    case 'Equal':
      // An empty key with Equal is invalid in the API; it tolerates nothing here.
      return !!t.key && (t.value ?? '') === (taint.value ?? '');
    default:
      return false;
  }
}

export function toleratedBy(tolerations: readonly Toleration[], taint: Taint): boolean {
  for (const t of tolerations) if (tolerates(t, taint)) return true;
  return false;
}
