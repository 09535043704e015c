// meta.k8s.io/v1 Table responses: what `kubectl get` prints. Column sets and
// cell formats follow the Kubernetes server-side printers
// (pkg/printers/internalversion); priority-1 columns show with `-o wide`.
// Kinds without a printer get NAME and AGE.

import { formatLabelSelector } from '../core/selectors.ts';
import type { ResourceInfo } from '../core/resources.ts';
import type { Json, KubeObject, LabelSelector } from '../core/types.ts';
import { NODE_ROLE_LABEL_PREFIX, ROLE_LABEL } from '../core/well-known.ts';

export interface TableColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface TableRow {
  cells: Json[];
  object?: Json;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string };
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}

export interface TableOptions {
  includeObject?: 'None' | 'Metadata' | 'Object';
  resourceVersion?: string;
  continue?: string;
  now?: Date;
  omitHeaders?: boolean;
}

type Obj = Record<string, unknown>;

// ------------------------------------------------------------ helpers

function asObj(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

const NONE = '<none>';

/** kubectl's duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${days}d` : `${days}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(days / 365);
  if (hours < 24 * 365 * 8) {
    const d = days % 365;
    return d === 0 ? `${years}y` : `${years}y${d}d`;
  }
  return `${years}y`;
}

/** The age of a timestamp as kubectl prints it; '<unknown>' when absent or unparsable. */
export function age(timestamp: unknown, now: Date): string {
  if (typeof timestamp !== 'string' || timestamp === '') return '<unknown>';
  const t = Date.parse(timestamp);
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now.getTime() - t);
}

function col(name: string, description: string, opts: { type?: string; format?: string; priority?: number } = {}): TableColumnDefinition {
  return { name, type: opts.type ?? 'string', format: opts.format ?? '', description, priority: opts.priority ?? 0 };
}

const NAME_COLUMN = col('Name', 'Name must be unique within a namespace. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names', {
  format: 'name',
});
const AGE_COLUMN = col('Age', 'CreationTimestamp is a timestamp representing the server time when this object was created.');

function selectorText(sel: unknown): string {
  if (sel === undefined || sel === null) return NONE;
  try {
    return formatLabelSelector(sel as LabelSelector) || NONE;
  } catch {
    return NONE;
  }
}

function mapSelectorText(sel: unknown): string {
  const entries = Object.entries(asObj(sel)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? NONE : entries.map(([k, v]) => `${k}=${String(v)}`).join(',');
}

function templateContainers(obj: KubeObject): Obj[] {
  return asList(asObj(asObj(asObj(obj.spec).template).spec).containers).map(asObj);
}

// ------------------------------------------------------------ pods

function podStatusText(pod: KubeObject): string {
  const status = asObj(pod.status);
  let reason = str(status.reason) || str(status.phase) || 'Unknown';
  const initStatuses = asList(status.initContainerStatuses).map(asObj);
  const initCount = asList(asObj(pod.spec).initContainers).length;
  let initializing = false;
  initStatuses.forEach((c, i) => {
    if (initializing) return;
    const state = asObj(c.state);
    const terminated = asObj(state.terminated);
    const waiting = asObj(state.waiting);
    if (state.terminated !== undefined && num(terminated.exitCode) === 0) return;
    initializing = true;
    if (state.terminated !== undefined) {
      if (str(terminated.reason)) reason = `Init:${str(terminated.reason)}`;
      else if (num(terminated.signal) !== 0) reason = `Init:Signal:${num(terminated.signal)}`;
      else reason = `Init:ExitCode:${num(terminated.exitCode)}`;
    } else if (str(waiting.reason) && waiting.reason !== 'PodInitializing') {
      reason = `Init:${str(waiting.reason)}`;
    } else {
      reason = `Init:${i}/${initCount || initStatuses.length}`;
    }
  });
  if (!initializing) {
    let hasRunning = false;
    const statuses = asList(status.containerStatuses).map(asObj);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i];
      const state = asObj(c.state);
      const waiting = asObj(state.waiting);
      const terminated = asObj(state.terminated);
      if (str(waiting.reason)) reason = str(waiting.reason);
      else if (state.terminated !== undefined) {
        if (str(terminated.reason)) reason = str(terminated.reason);
        else if (num(terminated.signal) !== 0) reason = `Signal:${num(terminated.signal)}`;
        else reason = `ExitCode:${num(terminated.exitCode)}`;
      } else if (c.ready === true && state.running !== undefined) hasRunning = true;
    }
    if (reason === 'Completed' && hasRunning) {
      const ready = asList(status.conditions).map(asObj).some((c) => c.type === 'Ready' && c.status === 'True');
      reason = ready ? 'Running' : 'NotReady';
    }
  }
  if (pod.metadata.deletionTimestamp) reason = status.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return reason;
}

function podRestarts(pod: KubeObject, now: Date): string {
  let restarts = 0;
  let last = 0;
  for (const c of asList(asObj(pod.status).containerStatuses).map(asObj)) {
    restarts += num(c.restartCount);
    const finished = Date.parse(str(asObj(asObj(c.lastState).terminated).finishedAt));
    if (!Number.isNaN(finished) && finished > last) last = finished;
  }
  return restarts > 0 && last > 0 ? `${restarts} (${humanDuration(now.getTime() - last)} ago)` : String(restarts);
}

function podReadinessGates(pod: KubeObject): string {
  const gates = asList(asObj(pod.spec).readinessGates).map((g) => str(asObj(g).conditionType));
  if (gates.length === 0) return NONE;
  const conditions = asList(asObj(pod.status).conditions).map(asObj);
  const ready = gates.filter((g) => conditions.some((c) => c.type === g && c.status === 'True')).length;
  return `${ready}/${gates.length}`;
}

// ------------------------------------------------------------ services, endpoints

function serviceExternalIp(svc: KubeObject): string {
  const spec = asObj(svc.spec);
  const external = asList(spec.externalIPs).map(str);
  const ingress = asList(asObj(asObj(svc.status).loadBalancer).ingress)
    .map(asObj)
    .map((i) => str(i.ip) || str(i.hostname))
    .filter(Boolean);
  switch (str(spec.type) || 'ClusterIP') {
    case 'ExternalName':
      return str(spec.externalName);
    case 'LoadBalancer': {
      const all = [...ingress, ...external];
      return all.length > 0 ? all.join(',') : '<pending>';
    }
    default:
      return external.length > 0 ? external.join(',') : NONE;
  }
}

function servicePorts(svc: KubeObject): string {
  const ports = asList(asObj(svc.spec).ports).map(asObj);
  if (ports.length === 0) return NONE;
  return ports
    .map((p) => {
      const proto = str(p.protocol) || 'TCP';
      return num(p.nodePort) > 0 ? `${num(p.port)}:${num(p.nodePort)}/${proto}` : `${num(p.port)}/${proto}`;
    })
    .join(',');
}

const MAX_ENDPOINTS_SHOWN = 3;

function endpointsText(ep: KubeObject): string {
  const all: string[] = [];
  for (const s of asList(ep.subsets).map(asObj)) {
    const addrs = asList(s.addresses).map((a) => str(asObj(a).ip));
    const ports = asList(s.ports).map(asObj);
    if (ports.length === 0) all.push(...addrs);
    else for (const p of ports) for (const a of addrs) all.push(a.includes(':') ? `[${a}]:${num(p.port)}` : `${a}:${num(p.port)}`);
  }
  if (all.length === 0) return NONE;
  const shown = all.slice(0, MAX_ENDPOINTS_SHOWN).join(',');
  return all.length > MAX_ENDPOINTS_SHOWN ? `${shown} + ${all.length - MAX_ENDPOINTS_SHOWN} more...` : shown;
}

function sliceEndpoints(slice: KubeObject): string {
  const addrs = asList(slice.endpoints).flatMap((e) => asList(asObj(e).addresses).map(str));
  if (addrs.length === 0) return NONE;
  const shown = addrs.slice(0, MAX_ENDPOINTS_SHOWN).join(',');
  return addrs.length > MAX_ENDPOINTS_SHOWN ? `${shown} + ${addrs.length - MAX_ENDPOINTS_SHOWN} more...` : shown;
}

function slicePorts(slice: KubeObject): string {
  const ports = asList(slice.ports).map(asObj);
  if (ports.length === 0) return NONE;
  const nums = ports.map((p) => (p.port === undefined || p.port === null ? '<unset>' : String(num(p.port))));
  return nums.join(',');
}

// ------------------------------------------------------------ nodes

function nodeStatusText(node: KubeObject): string {
  const ready = asList(asObj(node.status).conditions)
    .map(asObj)
    .find((c) => c.type === 'Ready');
  const parts = [ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown'];
  if (asObj(node.spec).unschedulable === true) parts.push('SchedulingDisabled');
  return parts.join(',');
}

function nodeRoles(node: KubeObject): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
    if (k.startsWith(NODE_ROLE_LABEL_PREFIX) && k.length > NODE_ROLE_LABEL_PREFIX.length) roles.add(k.slice(NODE_ROLE_LABEL_PREFIX.length));
    else if (k === ROLE_LABEL && v) roles.add(v);
  }
  return roles.size > 0 ? [...roles].sort().join(',') : NONE;
}

function nodeAddress(node: KubeObject, type: string): string {
  const a = asList(asObj(node.status).addresses)
    .map(asObj)
    .find((x) => x.type === type);
  return a ? str(a.address) : NONE;
}

function nodeInfo(node: KubeObject, field: string): string {
  return str(asObj(asObj(node.status).nodeInfo)[field]) || '<unknown>';
}

// ------------------------------------------------------------ events

function eventObject(ev: KubeObject): string {
  const o = asObj(ev.involvedObject);
  return `${str(o.kind).toLowerCase()}/${str(o.name)}`;
}

function eventLastSeen(ev: KubeObject, now: Date): string {
  const ts = str(ev.lastTimestamp) || str(ev.eventTime) || str(ev.firstTimestamp) || ev.metadata.creationTimestamp;
  return age(ts, now);
}

// ------------------------------------------------------------ the printers

interface Printer {
  columns: TableColumnDefinition[];
  /** The cells after Name, one per column. */
  cells(obj: KubeObject, now: Date): Json[];
}

type CellFn = (obj: KubeObject, now: Date) => Json;

/** A printer from (column, cell) pairs; the Name column is prepended. */
function printer(columns: [TableColumnDefinition, CellFn][]): Printer {
  return {
    columns: [NAME_COLUMN, ...columns.map(([c]) => c)],
    cells: (obj, now) => columns.map(([, f]) => f(obj, now)),
  };
}

const ageCell: [TableColumnDefinition, CellFn] = [AGE_COLUMN, (o, now) => age(o.metadata.creationTimestamp, now)];

const workloadWide = (): [TableColumnDefinition, CellFn][] => [
  [col('Containers', 'Names of each container in the template.', { priority: 1 }), (o) => templateContainers(o).map((c) => str(c.name)).join(',')],
  [col('Images', 'Images referenced by each container in the template.', { priority: 1 }), (o) => templateContainers(o).map((c) => str(c.image)).join(',')],
  [col('Selector', 'Label selector for pods.', { priority: 1 }), (o) => selectorText(asObj(o.spec).selector)],
];

/** Printers by kind. */
const PRINTERS: Readonly<Record<string, Printer>> = {
  Pod: printer([
    [
      col('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
      (o) => {
        const statuses = asList(asObj(o.status).containerStatuses).map(asObj);
        const total = asList(asObj(o.spec).containers).length;
        return `${statuses.filter((c) => c.ready === true).length}/${total}`;
      },
    ],
    [col('Status', 'The aggregate status of the containers in this pod.'), (o) => podStatusText(o)],
    [col('Restarts', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'), (o, now) => podRestarts(o, now)],
    ageCell,
    [col('IP', 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', { priority: 1 }), (o) => str(asObj(o.status).podIP) || NONE],
    [col('Node', "NodeName is a request to schedule this pod onto a specific node.", { priority: 1 }), (o) => str(asObj(o.spec).nodeName) || NONE],
    [col('Nominated Node', 'nominatedNodeName is set only when this pod preempts other pods on the node.', { priority: 1 }), (o) => str(asObj(o.status).nominatedNodeName) || NONE],
    [col('Readiness Gates', 'If specified, all readiness gates will be evaluated for pod readiness.', { priority: 1 }), (o) => podReadinessGates(o)],
  ]),
  Service: printer([
    [col('Type', 'type determines how the Service is exposed.'), (o) => str(asObj(o.spec).type) || 'ClusterIP'],
    [col('Cluster-IP', 'clusterIP is the IP address of the service.'), (o) => str(asObj(o.spec).clusterIP) || NONE],
    [col('External-IP', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'), (o) => serviceExternalIp(o)],
    [col('Port(s)', 'The list of ports that are exposed by this service.'), (o) => servicePorts(o)],
    ageCell,
    [col('Selector', 'Route service traffic to pods with label keys and values matching this selector.', { priority: 1 }), (o) => mapSelectorText(asObj(o.spec).selector)],
  ]),
  Node: printer([
    [col('Status', 'The status of the node'), (o) => nodeStatusText(o)],
    [col('Roles', 'The roles of the node'), (o) => nodeRoles(o)],
    ageCell,
    [col('Version', 'Kubelet Version reported by the node.'), (o) => str(asObj(asObj(o.status).nodeInfo).kubeletVersion)],
    [col('Internal-IP', 'List of addresses reachable to the node.', { priority: 1 }), (o) => nodeAddress(o, 'InternalIP')],
    [col('External-IP', 'List of addresses reachable to the node.', { priority: 1 }), (o) => nodeAddress(o, 'ExternalIP')],
    [col('OS-Image', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', { priority: 1 }), (o) => nodeInfo(o, 'osImage')],
    [col('Kernel-Version', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", { priority: 1 }), (o) => nodeInfo(o, 'kernelVersion')],
    [col('Container-Runtime', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', { priority: 1 }), (o) => nodeInfo(o, 'containerRuntimeVersion')],
  ]),
  Endpoints: printer([[col('Endpoints', 'Endpoints of the service.'), (o) => endpointsText(o)], ageCell]),
  EndpointSlice: printer([
    [col('AddressType', 'addressType specifies the type of address carried by this EndpointSlice.'), (o) => str(o.addressType)],
    [col('Ports', 'ports specifies the list of network ports exposed by each endpoint in this slice.'), (o) => slicePorts(o)],
    [col('Endpoints', 'endpoints is a list of unique endpoints in this slice.'), (o) => sliceEndpoints(o)],
    ageCell,
  ]),
  NetworkPolicy: printer([[col('Pod-Selector', 'podSelector selects the pods to which this NetworkPolicy object applies.'), (o) => selectorText(asObj(o.spec).podSelector)], ageCell]),
  Deployment: printer([
    [col('Ready', 'Number of the pod with ready state'), (o) => `${num(asObj(o.status).readyReplicas)}/${num(asObj(o.spec).replicas)}`],
    [col('Up-to-date', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.', { type: 'integer' }), (o) => num(asObj(o.status).updatedReplicas)],
    [col('Available', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.', { type: 'integer' }), (o) => num(asObj(o.status).availableReplicas)],
    ageCell,
    ...workloadWide(),
  ]),
  ReplicaSet: printer([
    [col('Desired', 'Replicas is the number of desired replicas.', { type: 'integer' }), (o) => num(asObj(o.spec).replicas)],
    [col('Current', 'Replicas is the most recently observed number of replicas.', { type: 'integer' }), (o) => num(asObj(o.status).replicas)],
    [col('Ready', 'The number of ready replicas for this replica set.', { type: 'integer' }), (o) => num(asObj(o.status).readyReplicas)],
    ageCell,
    ...workloadWide(),
  ]),
  Namespace: printer([[col('Status', 'The status of the namespace'), (o) => str(asObj(o.status).phase)], ageCell]),
  Lease: printer([[col('Holder', 'holderIdentity contains the identity of the holder of a current lease.'), (o) => str(asObj(o.spec).holderIdentity)], ageCell]),
  ConfigMap: printer([
    [col('Data', 'Data contains the configuration data.', { type: 'integer' }), (o) => Object.keys(asObj(o.data)).length + Object.keys(asObj(o.binaryData)).length],
    ageCell,
  ]),
  Event: printer([
    [col('Last Seen', 'The time at which the most recent occurrence of this event was recorded.'), (o, now) => eventLastSeen(o, now)],
    [col('Type', 'Type of this event (Normal, Warning), new types could be added in the future.'), (o) => str(o.type)],
    [col('Reason', 'This should be a short, machine understandable string that gives the reason for the transition into the object\'s current status.'), (o) => str(o.reason)],
    [col('Object', 'The object that this event is about.'), (o) => eventObject(o)],
    [col('Message', 'A human-readable description of the status of this operation.'), (o) => str(o.message)],
    ageCell,
  ]),
};

const DEFAULT_PRINTER = printer([ageCell]);

/** The column definitions for a resource (Name first; wide columns have priority 1). */
export function tableColumns(info: ResourceInfo): TableColumnDefinition[] {
  return (PRINTERS[info.kind] ?? DEFAULT_PRINTER).columns.map((c) => ({ ...c }));
}

function rowObject(obj: KubeObject, mode: 'None' | 'Metadata' | 'Object'): Json | undefined {
  if (mode === 'None') return undefined;
  if (mode === 'Object') return obj as unknown as Json;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata as unknown as Json };
}

/** A Table of the given objects of one resource. */
export function tableFor(info: ResourceInfo, items: readonly KubeObject[], opts: TableOptions): Table {
  const p = PRINTERS[info.kind] ?? DEFAULT_PRINTER;
  const now = opts.now ?? new Date();
  const mode = opts.includeObject ?? 'Metadata';
  const metadata: Table['metadata'] = {};
  if (opts.resourceVersion !== undefined) metadata.resourceVersion = opts.resourceVersion;
  if (opts.continue) metadata.continue = opts.continue;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: opts.omitHeaders ? [] : tableColumns(info),
    rows: items.map((obj) => {
      const row: TableRow = { cells: [obj.metadata.name ?? '', ...p.cells(obj, now)] };
      const object = rowObject(obj, mode);
      if (object !== undefined) row.object = object;
      return row;
    }),
  };
}
