// Service ClusterIP allocation. Each allocated address is a permanent
// reservation in the store's lease space (`svcip/<ip>` held by `<ns>/<name>`),
// so several API servers never hand out one address twice. A repair pass
// (at start) releases reservations whose Service is gone, as kube-apiserver's
// ClusterIP repair loop does.
import { KubeError } from '../core/errors.ts';
import type { KubeObject } from '../core/types.ts';
import { addressAt, contains, hostRange, parseCidr, type Cidr } from '../overlay/cidr.ts';
import type { LeaseStore, Store } from '../store/types.ts';

export const DEFAULT_SERVICE_CIDR = '10.96.0.0/16';
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

/** Pure: does this Service want an address allocated, and which one was asked for? */
export function clusterIpRequest(svc: KubeObject): { allocate: false } | { allocate: true; requested?: string } {
  const spec = specOf(svc);
  if (spec.type === 'ExternalName' || spec.clusterIP === 'None') return { allocate: false };
  const requested = spec.clusterIP || spec.clusterIPs?.[0] || undefined;
  return { allocate: true, requested };
}

export class ClusterIpAllocator {
  readonly cidr: Cidr;

  constructor(
    private readonly leases: LeaseStore,
    serviceCidr: string = DEFAULT_SERVICE_CIDR,
    private readonly random: () => number = Math.random,
  ) {
    this.cidr = parseCidr(serviceCidr);
  }

  private holderOf(svc: KubeObject): string {
    return `${svc.metadata.namespace ?? ''}/${svc.metadata.name ?? ''}`;
  }

  /** Returns the Service with spec.clusterIP(s) set, reserving the address; unchanged when it needs none. */
  async allocate(svc: KubeObject): Promise<KubeObject> {
    const req = clusterIpRequest(svc);
    if (!req.allocate) return svc;
    const holder = this.holderOf(svc);
    const ip = req.requested ? await this.reserveRequested(req.requested, holder) : await this.reserveAny(holder);
    return { ...svc, spec: { ...(svc.spec as object), clusterIP: ip, clusterIPs: [ip] } };
  }

  private async reserveRequested(ip: string, holder: string): Promise<string> {
    if (!contains(this.cidr, ip)) {
      throw new KubeError('Invalid', `Service "${holder}" is invalid: spec.clusterIP: Invalid value: "${ip}": provided IP is not in the valid range. The range of valid IPs is ${formatRange(this.cidr)}`, {
        causes: [{ reason: 'FieldValueInvalid', field: 'spec.clusterIP', message: `provided IP is not in the valid range ${formatRange(this.cidr)}` }],
      });
    }
    if (!(await this.leases.reserve(KEY_PREFIX + ip, holder))) {
      throw new KubeError('Invalid', `Service "${holder}" is invalid: spec.clusterIP: Invalid value: "${ip}": provided IP is already allocated`, {
        causes: [{ reason: 'FieldValueInvalid', field: 'spec.clusterIP', message: 'provided IP is already allocated' }],
      });
    }
    return ip;
  }

  private async reserveAny(holder: string): Promise<string> {
    const { first, count } = hostRange(this.cidr);
    const offsetOfFirst = first - this.cidr.network;
    for (let i = 0; i < RANDOM_TRIES; i++) {
      const ip = addressAt(this.cidr, offsetOfFirst + BigInt(Math.floor(this.random() * Number(count))));
      if (await this.leases.reserve(KEY_PREFIX + ip, holder)) return ip;
    }
    // A crowded range: walk it once from a random start.
    const taken = new Set((await this.leases.list(KEY_PREFIX)).keys());
    const start = BigInt(Math.floor(this.random() * Number(count)));
    for (let k = 0n; k < count; k++) {
      const ip = addressAt(this.cidr, offsetOfFirst + ((start + k) % count));
      if (taken.has(KEY_PREFIX + ip)) continue;
      if (await this.leases.reserve(KEY_PREFIX + ip, holder)) return ip;
    }
    throw new KubeError('InternalError', `failed to allocate a serviceIP: range is full (${formatRange(this.cidr)})`);
  }

  /** Frees the Service's address (only if it still holds it). */
  async release(svc: KubeObject): Promise<void> {
    const ip = specOf(svc).clusterIP;
    if (!ip || ip === 'None') return;
    await this.leases.release(KEY_PREFIX + ip, this.holderOf(svc));
  }

  /** Releases reservations whose Service no longer exists or holds another address. Returns how many. */
  async repair(store: Store): Promise<number> {
    const services = await store.list('services');
    const live = new Set(services.items.map((s) => `${KEY_PREFIX}${specOf(s).clusterIP ?? ''}|${this.holderOf(s)}`));
    let released = 0;
    for (const [key, holder] of await this.leases.list(KEY_PREFIX)) {
      if (live.has(`${key}|${holder}`)) continue;
      if (await this.leases.release(key, holder)) released++;
    }
    return released;
  }
}

function formatRange(c: Cidr): string {
  const { first, last } = hostRange(c);
  return `${addressAt(c, first - c.network)}-${addressAt(c, last - c.network)}`;
}
