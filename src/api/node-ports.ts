// Service node ports: spec.ports[*].nodePort of NodePort and LoadBalancer
// Services (unless allocateLoadBalancerNodePorts is false) and
// spec.healthCheckNodePort of those with externalTrafficPolicy Local. Each
// port a Service holds is a permanent reservation (reservations.ts:
// `svcport/<port>` held by `<ns>/<name>`), so concurrent creates on any
// number of API servers never hand out one port twice. Explicit values are
// accepted when free and in the range (--service-node-port-range, default
// 30000-32767); 422 with a field cause otherwise. Ports are kept on update,
// freed on delete and when the Service stops needing them (type ClusterIP).
import { KubeError, invalid } from '../core/errors.ts';
import type { KubeObject, StatusCause } from '../core/types.ts';
import type { LeaseStore, Store } from '../store/types.ts';
import { Reservations, holderOf, liveHolders, type PreparedWrite } from './reservations.ts';

const KEY_PREFIX = 'svcport/';
const RANDOM_TRIES = 16;

export const DEFAULT_NODE_PORT_RANGE = '30000-32767';

export interface PortRange {
  first: number;
  last: number;
}

/** "30000-32767" (or a single port) → a range; throws a clear Error otherwise. */
export function parsePortRange(text: string): PortRange {
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(text);
  const first = m ? Number(m[1]) : NaN;
  const last = m ? Number(m[2] ?? m[1]) : NaN;
  if (!m || first < 1 || last > 65535 || first > last) {
    throw new Error(`invalid port range "${text}": expected FIRST-LAST with 1 <= FIRST <= LAST <= 65535 (e.g. ${DEFAULT_NODE_PORT_RANGE})`);
  }
  return { first, last };
}

export function formatPortRange(r: PortRange): string {
  return `${r.first}-${r.last}`;
}

interface PortSpec {
  name?: string;
  port?: number;
  protocol?: string;
  nodePort?: number;
}

interface NodePortSpec {
  type?: string;
  ports?: PortSpec[];
  externalTrafficPolicy?: string;
  healthCheckNodePort?: number;
  allocateLoadBalancerNodePorts?: boolean;
}

function specOf(svc: KubeObject | undefined): NodePortSpec {
  return (svc?.spec ?? {}) as NodePortSpec;
}

function typeOf(spec: NodePortSpec): string {
  return spec.type ?? 'ClusterIP';
}

/** The type may carry node ports at all. */
function mayHaveNodePorts(spec: NodePortSpec): boolean {
  return typeOf(spec) === 'NodePort' || typeOf(spec) === 'LoadBalancer';
}

/** Ports without a nodePort get one allocated. */
export function needsNodePorts(spec: NodePortSpec): boolean {
  return typeOf(spec) === 'NodePort' || (typeOf(spec) === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false);
}

export function needsHealthCheckNodePort(spec: NodePortSpec): boolean {
  return mayHaveNodePorts(spec) && spec.externalTrafficPolicy === 'Local';
}

function isSet(port: number | undefined): port is number {
  return typeof port === 'number' && port !== 0;
}

/** The node ports a Service holds: its ports' nodePorts and its healthCheckNodePort, each once. */
export function heldNodePorts(svc: KubeObject | undefined): number[] {
  const spec = specOf(svc);
  const out = new Set<number>();
  for (const p of spec.ports ?? []) if (isSet(p.nodePort)) out.add(p.nodePort);
  if (isSet(spec.healthCheckNodePort)) out.add(spec.healthCheckNodePort);
  return [...out];
}

/**
 * Pure, on update (as upstream's patchAllocatedValues and
 * dropTypeDependentFields): a port left without a nodePort keeps the one the
 * old port of the same name had (unless another port now uses it), and the
 * healthCheckNodePort is kept; a Service that no longer needs node ports drops
 * the values it still carries from the old object, so that they are freed
 * (and allocateLoadBalancerNodePorts once it is no longer a LoadBalancer).
 */
export function nodePortsToCarry(old: KubeObject, next: KubeObject): KubeObject {
  const was = specOf(old);
  const spec: NodePortSpec = { ...specOf(next) };
  const oldByName = new Map((was.ports ?? []).map((p) => [p.name ?? '', p.nodePort]));
  if (spec.ports) spec.ports = spec.ports.map((p) => ({ ...p }));
  if (needsNodePorts(was) && needsNodePorts(spec)) {
    const used = new Set((spec.ports ?? []).map((p) => p.nodePort).filter(isSet));
    for (const p of spec.ports ?? []) {
      if (isSet(p.nodePort)) continue;
      const carried = oldByName.get(p.name ?? '');
      if (isSet(carried) && !used.has(carried)) p.nodePort = carried;
    }
  } else if (!mayHaveNodePorts(spec)) {
    for (const p of spec.ports ?? []) if (isSet(p.nodePort) && p.nodePort === oldByName.get(p.name ?? '')) delete p.nodePort;
  }
  if (needsHealthCheckNodePort(was) && needsHealthCheckNodePort(spec)) {
    if (!isSet(spec.healthCheckNodePort)) spec.healthCheckNodePort = was.healthCheckNodePort;
  } else if (!needsHealthCheckNodePort(spec) && spec.healthCheckNodePort === was.healthCheckNodePort) {
    delete spec.healthCheckNodePort;
  }
  if (typeOf(spec) !== 'LoadBalancer' && spec.allocateLoadBalancerNodePorts === was.allocateLoadBalancerNodePorts) delete spec.allocateLoadBalancerNodePorts;
  return { ...next, spec: spec as KubeObject['spec'] };
}

export class NodePortAllocator {
  readonly range: PortRange;
  private readonly reservations: Reservations;

  constructor(
    leases: LeaseStore,
    range: PortRange | string = DEFAULT_NODE_PORT_RANGE,
    private readonly random: () => number = Math.random,
  ) {
    this.range = typeof range === 'string' ? parsePortRange(range) : range;
    this.reservations = new Reservations(leases, KEY_PREFIX);
  }

  /**
   * The Service with every node port it needs, reserving what it does not hold
   * in `held` already. Returns the ports reserved here. Throws 422 (freeing
   * what it reserved) for an explicit port out of range or taken.
   */
  async allocate(svc: KubeObject, held: ReadonlySet<number> = new Set()): Promise<{ object: KubeObject; reserved: number[] }> {
    const spec: NodePortSpec = { ...specOf(svc) };
    if (!mayHaveNodePorts(spec)) return { object: svc, reserved: [] };
    const holder = holderOf(svc);
    const reserved: number[] = [];
    const claim = async (port: number, field: string): Promise<void> => {
      if (held.has(port) || reserved.includes(port)) return;
      const problem = port < this.range.first || port > this.range.last
        ? `provided port is not in the valid range. The range of valid ports is ${formatPortRange(this.range)}`
        : (await this.reservations.reserve(String(port), holder)) ? undefined : 'provided port is already allocated';
      if (problem) throw this.refusal(svc, { reason: 'FieldValueInvalid', field, message: `Invalid value: ${port}: ${problem}` });
      reserved.push(port);
    };
    try {
      spec.ports = (spec.ports ?? []).map((p) => ({ ...p }));
      for (const [i, p] of spec.ports.entries()) if (isSet(p.nodePort)) await claim(p.nodePort, `spec.ports[${i}].nodePort`);
      if (needsHealthCheckNodePort(spec) && isSet(spec.healthCheckNodePort)) await claim(spec.healthCheckNodePort, 'spec.healthCheckNodePort');
      if (needsNodePorts(spec)) {
        for (const p of spec.ports) {
          if (isSet(p.nodePort)) continue;
          p.nodePort = await this.reserveAny(holder);
          reserved.push(p.nodePort);
        }
      }
      if (needsHealthCheckNodePort(spec) && !isSet(spec.healthCheckNodePort)) {
        spec.healthCheckNodePort = await this.reserveAny(holder);
        reserved.push(spec.healthCheckNodePort);
      }
    } catch (err) {
      for (const port of reserved) await this.reservations.release(String(port), holder);
      throw err;
    }
    return { object: { ...svc, spec: spec as KubeObject['spec'] }, reserved };
  }

  private refusal(svc: KubeObject, c: StatusCause): KubeError {
    return invalid('Service', '', svc.metadata.name ?? '', [c]);
  }

  /** A free port of the range: random tries, then one walk from a random start. */
  private async reserveAny(holder: string): Promise<number> {
    const size = this.range.last - this.range.first + 1;
    for (let i = 0; i < RANDOM_TRIES; i++) {
      const port = this.range.first + Math.floor(this.random() * size);
      if (await this.reservations.reserve(String(port), holder)) return port;
    }
    const taken = await this.reservations.taken();
    const start = Math.floor(this.random() * size);
    for (let k = 0; k < size; k++) {
      const port = this.range.first + ((start + k) % size);
      if (taken.has(String(port))) continue;
      if (await this.reservations.reserve(String(port), holder)) return port;
    }
    throw new KubeError('InternalError', `failed to allocate a nodePort: range is full (${formatPortRange(this.range)})`);
  }

  /** Frees every node port the Service holds. */
  async release(svc: KubeObject): Promise<void> {
    for (const port of heldNodePorts(svc)) await this.reservations.release(String(port), holderOf(svc));
  }

  /** Frees `ports` unless the stored Service of that name holds them (a lost create must not free the winner's ports). */
  private async releaseUnlessStored(store: Store, svc: KubeObject, ports: readonly number[]): Promise<void> {
    if (ports.length === 0) return;
    const stored = new Set(heldNodePorts(await store.get('services', svc.metadata.namespace ?? '', svc.metadata.name ?? '')));
    for (const port of ports) if (!stored.has(port)) await this.reservations.release(String(port), holderOf(svc));
  }

  async prepareCreate(store: Store, svc: KubeObject): Promise<PreparedWrite> {
    const { object, reserved } = await this.allocate(svc);
    return { object, commit: async () => {}, undo: () => this.releaseUnlessStored(store, object, reserved) };
  }

  /** For an update: reserves what `next` newly holds; `commit` frees what `old` held and `next` does not. */
  async prepareUpdate(store: Store, old: KubeObject, next: KubeObject): Promise<PreparedWrite> {
    const before = new Set(heldNodePorts(old));
    const { object, reserved } = await this.allocate(next, before);
    const after = new Set(heldNodePorts(object));
    return {
      object,
      commit: async () => {
        for (const port of before) if (!after.has(port)) await this.reservations.release(String(port), holderOf(old));
      },
      undo: () => this.releaseUnlessStored(store, object, reserved),
    };
  }

  /** Frees reservations whose Service is gone or no longer holds the port. Returns how many. */
  async repair(store: Store): Promise<number> {
    const services = await store.list('services');
    return this.reservations.repair(liveHolders(services.items.flatMap((s) => heldNodePorts(s).map((p): [string, string] => [String(p), holderOf(s)]))));
  }
}
