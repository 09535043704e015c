// What `meshlet netpol run` probes in a round and what it concludes, as data:
// the probe requests of a step (grouped by client pod), the measured matrix
// of each (expectation, probe), its differing cells, and the text and JSON
// reports. Pure.
import { formatMatrix, TOPOLOGY_ORDER, type Expectation, type Lookup, type Probe, type Step } from '../policy/cases.ts';
import type { BatchRequest, ProbeOutcome } from './wire.ts';

/** One (expectation, probe) of a step: e.g. "0:80/TCP". */
export function checkKey(expectation: number, probe: Probe): string {
  return `${expectation}:${probe.port}/${probe.protocol}`;
}

export interface Addresses {
  /** "x/a" → pod IP. */
  pods: Record<string, string>;
  /** "x/a" → ClusterIP of its Service s-a in x (only when a case probes through Services). */
  services: Record<string, string>;
}

/**
 * The requests of one round, per client pod: every compared cell of the
 * (expectation, probe) checks still open, and the lookups still open.
 */
export function roundRequests(step: Step, open: ReadonlySet<string>, openLookups: ReadonlySet<number>, addr: Addresses, timeoutMs: number): Map<string, BatchRequest[]> {
  const out = new Map<string, BatchRequest[]>(TOPOLOGY_ORDER.map((p) => [p, []]));
  step.expect.forEach((ex, e) => {
    for (const probe of ex.probes) {
      const key = checkKey(e, probe);
      if (!open.has(key)) continue;
      TOPOLOGY_ORDER.forEach((from, i) =>
        TOPOLOGY_ORDER.forEach((to, j) => {
          if (ex.matrix[i][j] === undefined) return;
          const host = ex.target === 'service' ? addr.services[to] : addr.pods[to];
          if (!host) throw new Error(`no ${ex.target === 'service' ? 'ClusterIP' : 'IP'} for ${to}`);
          out.get(from)!.push({ id: `${key}|${from}|${to}`, target: { host, port: probe.port, protocol: probe.protocol, timeoutMs } });
        }),
      );
    }
  });
  step.lookups.forEach((lk, l) => {
    if (!openLookups.has(l)) return;
    for (const from of Object.keys(lk.resolves)) out.get(from)!.push({ id: `dns:${l}|${from}`, target: { lookup: lk.name, timeoutMs } });
  });
  return out;
}

export interface CellDiffReport {
  from: string;
  to: string;
  expected: boolean;
  actual: boolean;
  outcome: ProbeOutcome;
}

export interface ProbeCheck {
  key: string;
  probe: string;
  target: Expectation['target'];
  status: 'matched' | 'differs' | 'skipped';
  /** Why skipped (e.g. the kernel has no SCTP). */
  reason?: string;
  rounds: number;
  /** Measured: true connected, false not, undefined not compared. */
  matrix: (boolean | undefined)[][];
  diffs: CellDiffReport[];
}

/** Results of one check's cells ("from|to" → outcome) against its expectation. */
export function judgeProbe(key: string, ex: Expectation, probe: Probe, outcomes: ReadonlyMap<string, ProbeOutcome>, rounds: number): ProbeCheck {
  const base = { key, probe: `${probe.port}/${probe.protocol}`, target: ex.target, rounds };
  const matrix: (boolean | undefined)[][] = TOPOLOGY_ORDER.map((from, i) =>
    TOPOLOGY_ORDER.map((to, j) => (ex.matrix[i][j] === undefined ? undefined : outcomes.get(`${from}|${to}`) === 'connected')),
  );
  if ([...outcomes.values()].includes('unsupported')) {
    return { ...base, status: 'skipped', reason: `${probe.protocol} is not supported by this kernel (socket: EPROTONOSUPPORT)`, matrix, diffs: [] };
  }
  const diffs: CellDiffReport[] = [];
  TOPOLOGY_ORDER.forEach((from, i) =>
    TOPOLOGY_ORDER.forEach((to, j) => {
      const want = ex.matrix[i][j];
      if (want === undefined || want === matrix[i][j]) return;
      diffs.push({ from, to, expected: want, actual: matrix[i][j] === true, outcome: outcomes.get(`${from}|${to}`) ?? 'error' });
    }),
  );
  return { ...base, status: diffs.length ? 'differs' : 'matched', matrix, diffs };
}

export interface LookupCheck {
  name: string;
  from: string;
  expected: boolean;
  actual: boolean;
  outcome: ProbeOutcome;
  error?: string;
}

export function judgeLookups(lk: Lookup, results: ReadonlyMap<string, { outcome: ProbeOutcome; error?: string }>): LookupCheck[] {
  return Object.entries(lk.resolves).map(([from, expected]) => {
    const r = results.get(from) ?? { outcome: 'error' as const, error: 'no result' };
    return { name: lk.name, from, expected, actual: r.outcome === 'connected', outcome: r.outcome, ...(r.error ? { error: r.error } : {}) };
  });
}

export interface StepReport {
  name: string;
  status: 'matched' | 'differs' | 'error';
  ms: number;
  rounds: number;
  probes: ProbeCheck[];
  lookups: LookupCheck[];
  error?: string;
}

export interface CaseReport {
  file: string;
  name: string;
  status: 'passed' | 'failed';
  ms: number;
  steps: StepReport[];
}

export interface RunReport {
  lab: string;
  nodes: number;
  ms: number;
  passed: number;
  failed: number;
  /** Checks skipped (unsupported protocol), over all cases. */
  skippedChecks: number;
  cases: CaseReport[];
}

export function caseStatus(steps: readonly StepReport[]): CaseReport['status'] {
  return steps.length > 0 && steps.every((s) => s.status === 'matched') ? 'passed' : 'failed';
}

export function stepStatus(probes: readonly ProbeCheck[], lookups: readonly LookupCheck[]): StepReport['status'] {
  return probes.some((p) => p.status === 'differs') || lookups.some((l) => l.expected !== l.actual) ? 'differs' : 'matched';
}

const mark = (b: boolean): string => (b ? '.' : 'X');

/** The text of one step: each measured matrix (identical ones of an expectation once), its differing cells, the lookups. */
export function formatStep(c: { name: string }, s: StepReport): string {
  const lines = [`${s.status === 'matched' ? 'ok  ' : 'FAIL'} ${c.name} / ${s.name} (${(s.ms / 1000).toFixed(1)} s, ${s.rounds} round${s.rounds === 1 ? '' : 's'})`];
  if (s.error) lines.push(`     error: ${s.error}`);
  const groups = new Map<string, ProbeCheck[]>();
  for (const p of s.probes) {
    const k = `${p.key.split(':')[0]}|${p.target}|${p.status}|${formatMatrix(p.matrix)}`;
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  for (const ps of groups.values()) {
    const p0 = ps[0];
    const head = `     ${ps.map((p) => p.probe).join(' ')}${p0.target === 'service' ? ' via ClusterIP' : ''}: ${p0.status}${p0.reason ? ` (${p0.reason})` : ''}`;
    lines.push(head);
    if (p0.status === 'skipped') continue;
    lines.push(...formatMatrix(p0.matrix).split('\n').map((l) => `       ${l}`));
    for (const p of ps) {
      for (const d of p.diffs) lines.push(`       differs: ${d.from} → ${d.to} ${p.probe}: expected ${mark(d.expected)}, got ${mark(d.actual)} (${d.outcome})`);
    }
  }
  for (const l of s.lookups) {
    lines.push(`     lookup ${l.name} from ${l.from}: ${l.actual ? 'resolves' : `fails (${l.outcome}${l.error ? ` ${l.error}` : ''})`}${l.expected === l.actual ? '' : ` — expected it to ${l.expected ? 'resolve' : 'fail'}`}`);
  }
  return lines.join('\n');
}

export function formatSummary(r: RunReport): string {
  const failed = r.cases.filter((c) => c.status === 'failed').map((c) => c.name);
  return [
    `${r.passed} of ${r.cases.length} case(s) passed, ${r.failed} failed${r.skippedChecks ? `, ${r.skippedChecks} check(s) skipped (unsupported protocol)` : ''}, in ${(r.ms / 1000).toFixed(1)} s on lab "${r.lab}" (${r.nodes} nodes)`,
    ...(failed.length ? [`failed: ${failed.join(', ')}`] : []),
  ].join('\n');
}
