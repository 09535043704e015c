// Expected connectivity matrices for netpol case files, written with the
// product's own formatter (src/policy/cases.ts) rather than by hand.
import { formatMatrix, TOPOLOGY_ORDER } from '../../src/policy/cases.ts';

/** The case-file matrix block where every ordered pair connects except the `closed` [from, to] pairs; each line indented by `indent`. */
export function openMatrixBut(closed: readonly (readonly [string, string])[], indent: string): string {
  const m = TOPOLOGY_ORDER.map((f) => TOPOLOGY_ORDER.map((t) => (f === t ? undefined : !closed.some(([a, b]) => a === f && b === t))));
  return formatMatrix(m).split('\n').map((l) => `${indent}${l}`).join('\n');
}
