// Policy test cases as data: the case-file format of `meshlet netpol run`,
// the upstream e2e topology, and the expected reachability matrices. Pure:
// parsing, applying a step to a cluster view, and computing the model's
// matrix (the real runner probes a lab instead; the unit tests compare the
// model with matrices written by hand).
//
// A case file is YAML, one case or `{ cases: [...] }`:
//   name: deny-ingress-x-a
//   description: …
//   steps:
//     - name: …
//       policies: [ <NetworkPolicy objects; `${ns/pod}` in a string is that pod's IP> ]
//       deletePolicies: [ "x/deny-all" ]
//       podLabels:       { "x/a": { app: web, pod: null } }   # null removes a label
//       namespaceLabels: { "y": { team: blue } }
//       expect:
//         - probes: [ 80/TCP, 81/UDP ]
//           target: pod                                      # or service: each pod's ClusterIP Service s-<pod>
//           matrix: |
//             # rows: from; columns: to; "." connects, "X" does not, "-" not compared (loopback)
//             from x/a x/b x/c y/a y/b y/c z/a z/b z/c
//             x/a  -   .   .   .   .   .   .   .   .
//             …
//       lookups:                                             # DNS through each pod's resolv.conf (lab only)
//         - name: kubernetes.default.svc.cluster.local
//           resolves: { x/a: true, y/a: true }
// Steps apply in order on top of each other; each step's expectations are
// checked after it is applied.
import { parse as parseYaml } from 'yaml';
import { compilePolicy, podId, type ClusterView, type NamespaceView, type PodView, type Protocol } from './model.ts';
import { evaluate } from './evaluate.ts';
import type { KubeObject } from '../core/types.ts';

export interface Probe {
  port: number;
  protocol: Protocol;
}

export interface Expectation {
  probes: Probe[];
  /** What a probe connects to: the destination pod's IP, or the ClusterIP of its Service s-<pod> (policy sees the pod after DNAT). */
  target: 'pod' | 'service';
  /** matrix[from][to]: true connects, false does not, undefined is not compared. */
  matrix: (boolean | undefined)[][];
}

/** A DNS name looked up from pods (through their resolv.conf); whether each listed pod resolves it. */
export interface Lookup {
  name: string;
  resolves: Record<string, boolean>;
}

export interface Step {
  name: string;
  policies: KubeObject[];
  deletePolicies: string[];
  podLabels: Record<string, Record<string, string | null>>;
  namespaceLabels: Record<string, Record<string, string | null>>;
  expect: Expectation[];
  lookups: Lookup[];
}

export interface PolicyCase {
  name: string;
  description?: string;
  steps: Step[];
}

export const TOPOLOGY_NAMESPACES = ['x', 'y', 'z'] as const;
export const TOPOLOGY_PODS = ['a', 'b', 'c'] as const;
/** Row and column order of every matrix. */
export const TOPOLOGY_ORDER: readonly string[] = TOPOLOGY_NAMESPACES.flatMap((ns) => TOPOLOGY_PODS.map((p) => `${ns}/${p}`));
export const SERVED_PORTS = [80, 81] as const;
export const SERVED_PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP'];

export class CaseFormatError extends Error {
  override name = 'CaseFormatError';
}

/** The 0-based node a topology pod runs on: the 9 pods spread round-robin over the nodes. */
export function topologyNodeIndex(ns: string, pod: string, nodes: number): number {
  return (TOPOLOGY_NAMESPACES.indexOf(ns as (typeof TOPOLOGY_NAMESPACES)[number]) * TOPOLOGY_PODS.length + TOPOLOGY_PODS.indexOf(pod as (typeof TOPOLOGY_PODS)[number])) % nodes;
}

/** The upstream topology as a cluster view: pods a, b, c spread over `nodes`, named ports serve-<port>-<proto>. */
export function topology(nodes = 3): ClusterView {
  const namespaces: NamespaceView[] = TOPOLOGY_NAMESPACES.map((ns) => ({ name: ns, labels: { ns, 'kubernetes.io/metadata.name': ns } }));
  const pods: PodView[] = [];
  TOPOLOGY_NAMESPACES.forEach((ns, i) =>
    TOPOLOGY_PODS.forEach((p, j) => {
      const n = topologyNodeIndex(ns, p, nodes);
      pods.push({
        namespace: ns,
        name: p,
        labels: { pod: p },
        ips: [`10.244.${n + 1}.${10 + i * 10 + j}`],
        node: `node-${n + 1}`,
        ports: SERVED_PORTS.flatMap((port) => SERVED_PROTOCOLS.map((protocol) => ({ name: `serve-${port}-${protocol.toLowerCase()}`, port, protocol }))),
      });
    }),
  );
  const nodeMap: Record<string, string[]> = {};
  for (let n = 0; n < nodes; n++) nodeMap[`node-${n + 1}`] = [`192.168.50.${n + 1}`];
  return { namespaces, pods, policies: [], nodes: nodeMap };
}

function parseProbe(text: unknown): Probe {
  const m = /^(\d{1,5})\/(TCP|UDP|SCTP)$/.exec(String(text));
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw new CaseFormatError(`probe ${JSON.stringify(text)}: want PORT/TCP|UDP|SCTP`);
  return { port: Number(m[1]), protocol: m[2] as Protocol };
}

/** Parse a matrix block: a header `from` and the 9 pods, then a row per pod of ".", "X" or "-". */
export function parseMatrix(text: string, order: readonly string[] = TOPOLOGY_ORDER): (boolean | undefined)[][] {
  const lines = text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
  const header = lines.shift()?.split(/\s+/) ?? [];
  if (header.join(' ') !== `from ${order.join(' ')}`) throw new CaseFormatError(`matrix header must be "from ${order.join(' ')}", got "${header.join(' ')}"`);
  const rows = new Map<string, (boolean | undefined)[]>();
  for (const line of lines) {
    const [from, ...cells] = line.split(/\s+/);
    if (!order.includes(from)) throw new CaseFormatError(`matrix row ${JSON.stringify(from)} is not a pod of the topology`);
    if (rows.has(from)) throw new CaseFormatError(`matrix row ${from} appears twice`);
    if (cells.length !== order.length) throw new CaseFormatError(`matrix row ${from} has ${cells.length} cells, want ${order.length}`);
    rows.set(
      from,
      cells.map((c) => {
        if (c === '.') return true;
        if (c === 'X') return false;
        if (c === '-') return undefined;
        throw new CaseFormatError(`matrix row ${from}: cell ${JSON.stringify(c)} is not ".", "X" or "-"`);
      }),
    );
  }
  return order.map((p) => {
    const row = rows.get(p);
    if (!row) throw new CaseFormatError(`matrix has no row for ${p}`);
    return row;
  });
}

function labelsPatch(v: unknown, what: string): Record<string, Record<string, string | null>> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new CaseFormatError(`${what}: a map of name to labels`);
  return v as Record<string, Record<string, string | null>>;
}

function parseStep(raw: unknown, i: number): Step {
  const s = (raw ?? {}) as Record<string, unknown>;
  const expect = (Array.isArray(s.expect) ? s.expect : []).map((e: unknown): Expectation => {
    const ex = (e ?? {}) as Record<string, unknown>;
    if (!Array.isArray(ex.probes) || ex.probes.length === 0) throw new CaseFormatError(`step ${i}: an expectation names its probes`);
    if (typeof ex.matrix !== 'string') throw new CaseFormatError(`step ${i}: an expectation has a matrix`);
    if (ex.target !== undefined && ex.target !== 'pod' && ex.target !== 'service') throw new CaseFormatError(`step ${i}: target is pod or service`);
    return { probes: ex.probes.map(parseProbe), target: (ex.target ?? 'pod') as Expectation['target'], matrix: parseMatrix(ex.matrix) };
  });
  const lookups = (Array.isArray(s.lookups) ? s.lookups : []).map((l: unknown) => {
    const lk = (l ?? {}) as Record<string, unknown>;
    if (typeof lk.name !== 'string' || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\.?$/i.test(lk.name)) throw new CaseFormatError(`step ${i}: a lookup has a DNS name`);
    const r = lk.resolves;
    if (!r || typeof r !== 'object' || Array.isArray(r)) throw new CaseFormatError(`step ${i}: lookup ${lk.name}: resolves is a map of pod to true/false`);
    for (const [pod, v] of Object.entries(r)) {
      if (!TOPOLOGY_ORDER.includes(pod) || typeof v !== 'boolean') throw new CaseFormatError(`step ${i}: lookup ${lk.name}: ${pod}: want a topology pod and true or false`);
    }
    return { name: lk.name, resolves: r as Record<string, boolean> };
  });
  return {
    name: typeof s.name === 'string' ? s.name : `step ${i}`,
    policies: (Array.isArray(s.policies) ? s.policies : []) as KubeObject[],
    deletePolicies: (Array.isArray(s.deletePolicies) ? s.deletePolicies : []).map(String),
    podLabels: labelsPatch(s.podLabels, `step ${i} podLabels`),
    namespaceLabels: labelsPatch(s.namespaceLabels, `step ${i} namespaceLabels`),
    expect,
    lookups,
  };
}

/** Parse a case file's text (one case or `{ cases: [...] }`). */
export function parseCaseFile(text: string): PolicyCase[] {
  const doc = parseYaml(text) as unknown;
  const list = doc && typeof doc === 'object' && 'cases' in doc ? (doc as { cases: unknown }).cases : [doc];
  if (!Array.isArray(list)) throw new CaseFormatError('cases: a list');
  return list.map((c: unknown) => {
    const raw = (c ?? {}) as Record<string, unknown>;
    if (typeof raw.name !== 'string' || !raw.name) throw new CaseFormatError('a case has a name');
    if (!Array.isArray(raw.steps) || raw.steps.length === 0) throw new CaseFormatError(`case ${raw.name}: at least one step`);
    return { name: raw.name, ...(typeof raw.description === 'string' ? { description: raw.description } : {}), steps: raw.steps.map(parseStep) };
  });
}

/** Replace `${ns/pod}` in every string of a policy with that pod's first IP. */
export function substitutePodIps<T>(value: T, cluster: ClusterView): T {
  const ips = new Map(cluster.pods.map((p) => [podId(p), p.ips[0]]));
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      return v.replace(/\$\{([a-z0-9-]+\/[a-z0-9-]+)\}/g, (_, id: string) => {
        const ip = ips.get(id);
        if (!ip) throw new CaseFormatError(`\${${id}}: no such pod`);
        return ip;
      });
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

function patchLabels(labels: Record<string, string>, patch: Record<string, string | null>): Record<string, string> {
  const out = { ...labels };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** The cluster after a step (policies replaced by namespace/name, labels patched). */
export function applyStep(cluster: ClusterView, step: Step): ClusterView {
  const policies = new Map(cluster.policies.map((p) => [`${p.namespace}/${p.name}`, p]));
  for (const id of step.deletePolicies) policies.delete(id);
  for (const obj of substitutePodIps(step.policies, cluster)) {
    const p = compilePolicy({ ...obj, metadata: { namespace: 'default', ...obj.metadata } });
    policies.set(`${p.namespace}/${p.name}`, p);
  }
  return {
    ...cluster,
    policies: [...policies.values()],
    pods: cluster.pods.map((p) => (step.podLabels[podId(p)] ? { ...p, labels: patchLabels(p.labels, step.podLabels[podId(p)]) } : p)),
    namespaces: cluster.namespaces.map((n) => (step.namespaceLabels[n.name] ? { ...n, labels: patchLabels(n.labels, step.namespaceLabels[n.name]) } : n)),
  };
}

/** The model's matrix for one probe (rows from, columns to, in TOPOLOGY_ORDER). */
export function modelMatrix(cluster: ClusterView, probe: Probe, order: readonly string[] = TOPOLOGY_ORDER): boolean[][] {
  return order.map((from) => order.map((to) => evaluate(cluster, { pod: from }, { pod: to }, probe.port, probe.protocol).allowed));
}

export interface CellDiff {
  from: string;
  to: string;
  probe: string;
  expected: boolean;
  actual: boolean;
}

/** Cells where `actual` differs from the expectation (cells marked "-" are skipped). */
export function diffMatrix(expected: (boolean | undefined)[][], actual: boolean[][], probe: Probe, order: readonly string[] = TOPOLOGY_ORDER): CellDiff[] {
  const out: CellDiff[] = [];
  order.forEach((from, i) =>
    order.forEach((to, j) => {
      const want = expected[i][j];
      if (want !== undefined && want !== actual[i][j]) out.push({ from, to, probe: `${probe.port}/${probe.protocol}`, expected: want, actual: actual[i][j] });
    }),
  );
  return out;
}

/** Render a matrix in the case-file form. */
export function formatMatrix(m: (boolean | undefined)[][], order: readonly string[] = TOPOLOGY_ORDER): string {
  const rows = [`from ${order.join(' ')}`];
  order.forEach((from, i) => rows.push(`${from}  ${m[i].map((c) => (c === undefined ? '-' : c ? '.' : 'X')).join('   ')}`));
  return rows.join('\n');
}

