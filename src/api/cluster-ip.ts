// Service ClusterIP allocation. Each allocated address is a permanent
// reservation (reservations.ts: `svcip/<ip>` held by `<ns>/<name>`), so
// several API servers never hand out one address twice. A repair pass (at
// start) releases reservations whose Service is gone, as kube-apiserver's
// ClusterIP repair loop does.
//
// Addresses not asked for come from the upper band of the range first and
// from the static lower band only when the upper one is full (KEP-3070); the
// cluster DNS address is never handed out dynamically (src/core/service-cidr.ts).
import { KubeError } from '../core/errors.ts';
import { DEFAULT_SERVICE_CIDR, allocationBands, clusterDnsAddress, type Band } from '../core/service-cidr.ts';
import type { KubeObject } from '../core/types.ts';
import { addressAt, contains, hostRange, parseCidr, type Cidr } from '../core/cidr.ts';
import type { LeaseStore, Store } from '../store/types.ts';
import { Reservations, holderOf, liveHolders, type PreparedWrite } from './reservations.ts';

const KEY_PREFIX = 'svcip/';
const RANDOM_TRIES = 16;

interface ServiceSpecIps {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
}

function specOf(svc: KubeObject): ServiceSpecIps {
  return (svc.spec ?? {}) as ServiceSpecIps;
}

/** The address a Service holds, if any (not "None"). */
export function heldClusterIp(svc: KubeObject | undefined): string | undefined {
  const ip = svc ? specOf(svc).clusterIP : undefined;
  return ip && ip !== 'None' ? ip : undefined;
}

/** Pure: does this Service want an address allocated, and which one was asked for? */
export function clusterIpRequest(svc: KubeObject): { allocate: false } | { allocate: true; requested?: string } {
  const spec = specOf(svc);
  if (spec.type === 'ExternalName' || spec.clusterIP === 'None') return { allocate: false };
  const requested = spec.clusterIP || spec.clusterIPs?.[0] || undefined;
  return { allocate: true, requested };
}

/**
 * Pure: what an update of a Service does to addresses. `allocate` when the new
 * object needs an address it does not yet hold (an ExternalName Service turned
 * ClusterIP); `release` the old address when the new object no longer holds it
 * (a Service turned ExternalName).
 */
export function clusterIpChange(old: KubeObject, next: KubeObject): { allocate: boolean; release?: string } {
  const was = heldClusterIp(old);
  const req = clusterIpRequest(next);
  const allocate = req.allocate && (req.requested === undefined || req.requested !== was);
  const now = req.allocate ? (req.requested ?? undefined) : undefined;
  const release = was !== undefined && (allocate || now !== was) ? was : undefined;
  return { allocate, ...(release ? { release } : {}) };
}

export class ClusterIpAllocator {
  readonly cidr: Cidr;
  /** The cluster DNS address: only ever given to a Service that asks for it. */
  readonly dnsAddress: string;
  private readonly bands: { lower: Band; upper: Band };
  private readonly reservations: Reservations;

  constructor(
    leases: LeaseStore,
    serviceCidr: string = DEFAULT_SERVICE_CIDR,
    private readonly random: () => number = Math.random,
  ) {
    this.cidr = parseCidr(serviceCidr);
    this.dnsAddress = clusterDnsAddress(this.cidr);
    this.bands = allocationBands(this.cidr);
    this.reservations = new Reservations(leases, KEY_PREFIX);
  }

  /** Returns the Service with spec.clusterIP(s) set, reserving the address; unchanged when it needs none. */
  async allocate(svc: KubeObject): Promise<KubeObject> {
    const req = clusterIpRequest(svc);
    if (!req.allocate) return svc;
    const holder = holderOf(svc);
    const ip = req.requested ? await this.reserveRequested(req.requested, holder) : await this.reserveAny(holder);
    return { ...svc, spec: { ...(svc.spec as object), clusterIP: ip, clusterIPs: [ip] } };
  }

  private async reserveRequested(ip: string, holder: string): Promise<string> {
    if (!contains(this.cidr, ip)) {
      throw new KubeError('Invalid', `Service "${holder}" is invalid: spec.clusterIP: Invalid value: "${ip}": provided IP is not in the valid range. The range of valid IPs is ${formatRange(this.cidr)}`, {
        causes: [{ reason: 'FieldValueInvalid', field: 'spec.clusterIP', message: `provided IP is not in the valid range ${formatRange(this.cidr)}` }],
      });
    }
    if (!(await this.reservations.reserve(ip, holder))) {
      throw new KubeError('Invalid', `Service "${holder}" is invalid: spec.clusterIP: Invalid value: "${ip}": provided IP is already allocated`, {
        causes: [{ reason: 'FieldValueInvalid', field: 'spec.clusterIP', message: 'provided IP is already allocated' }],
      });
    }
    return ip;
  }

  /** A free address: the upper band first (random tries, then a walk), then the lower band. */
  private async reserveAny(holder: string): Promise<string> {
    const { upper, lower } = this.bands;
    if (upper.count > 0n) {
      for (let i = 0; i < RANDOM_TRIES; i++) {
        const ip = addressAt(this.cidr, upper.first + this.randomBelow(upper.count));
        if (ip !== this.dnsAddress && (await this.reservations.reserve(ip, holder))) return ip;
      }
    }
    // A crowded band: walk it once from a random start; then the lower band.
    const taken = await this.reservations.taken();
    for (const band of [upper, lower]) {
      const start = this.randomBelow(band.count);
      for (let k = 0n; k < band.count; k++) {
        const ip = addressAt(this.cidr, band.first + ((start + k) % band.count));
        if (ip === this.dnsAddress || taken.has(ip)) continue;
        if (await this.reservations.reserve(ip, holder)) return ip;
      }
    }
    throw new KubeError('InternalError', `failed to allocate a serviceIP: range is full (${formatRange(this.cidr)})`);
  }

  private randomBelow(n: bigint): bigint {
    return n <= 0n ? 0n : BigInt(Math.floor(this.random() * Number(n))) % n;
  }

  /** Frees the Service's address (only if it still holds it). */
  async release(svc: KubeObject): Promise<void> {
    const ip = heldClusterIp(svc);
    if (ip) await this.releaseIp(ip, svc);
  }

  private async releaseIp(ip: string, svc: KubeObject): Promise<void> {
    await this.reservations.release(ip, holderOf(svc));
  }

  /**
   * After a failed create: frees the address unless the stored Service of that
   * name holds it (a create that lost to an existing Service, or to another
   * server creating the same one, must not free the winner's address).
   */
  async releaseUnlessStored(store: Store, svc: KubeObject): Promise<void> {
    const ip = heldClusterIp(svc);
    if (!ip) return;
    const stored = await store.get('services', svc.metadata.namespace ?? '', svc.metadata.name ?? '');
    if (heldClusterIp(stored) === ip) return;
    await this.releaseIp(ip, svc);
  }

  /** For a create: the Service with its address; `undo` frees it after a failed write. */
  async prepareCreate(store: Store, svc: KubeObject): Promise<PreparedWrite> {
    const object = await this.allocate(svc);
    return { object, commit: async () => {}, undo: () => this.releaseUnlessStored(store, object) };
  }

  /**
   * For an update: allocates what `next` needs (see clusterIpChange) and
   * returns it with `commit` (after the store write: frees the address the
   * Service no longer holds) and `undo` (after a failed write: frees what was
   * allocated here).
   */
  async prepareUpdate(store: Store, old: KubeObject, next: KubeObject): Promise<PreparedWrite> {
    const change = clusterIpChange(old, next);
    const object = change.allocate ? await this.allocate(next) : next;
    return {
      object,
      commit: async () => {
        if (change.release) await this.releaseIp(change.release, old);
      },
      undo: async () => {
        if (change.allocate) await this.releaseUnlessStored(store, object);
      },
    };
  }

  /** Releases reservations whose Service no longer exists or holds another address. Returns how many. */
  async repair(store: Store): Promise<number> {
    const services = await store.list('services');
    const live = services.items.flatMap((s): [string, string][] => {
      const ip = heldClusterIp(s);
      return ip ? [[ip, holderOf(s)]] : [];
    });
    return this.reservations.repair(liveHolders(live));
  }
}

function formatRange(c: Cidr): string {
  const { first, last } = hostRange(c);
  return `${addressAt(c, first - c.network)}-${addressAt(c, last - c.network)}`;
}
