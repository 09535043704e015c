// Zone-aware eviction rates, as upstream's node lifecycle controller computes
// them: nodes are grouped by zone (region + zone labels); a zone is Normal,
// PartialDisruption (more than 2 not-Ready nodes and at least the unhealthy
// threshold of them) or FullDisruption (no Ready node). The rate at which lost
// nodes of a zone get their NoExecute taint (and so their pods evicted) is:
//   Normal → nodeEvictionRate; FullDisruption → nodeEvictionRate (the zone is
//   really gone: move its pods); PartialDisruption → secondaryNodeEvictionRate
//   in zones larger than largeClusterSizeThreshold, otherwise 0 (stop);
//   every zone FullDisruption → 0 everywhere and no NoExecute taints at all
//   (the control plane is more likely cut off than every node dead).
// Pure, with a token bucket that is given the time.
import type { KubeObject } from '../core/types.ts';
import { conditionOf } from './objects.ts';

export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const REGION_LABEL = 'topology.kubernetes.io/region';

export type ZoneState = 'Normal' | 'PartialDisruption' | 'FullDisruption';

export interface EvictionRateOptions {
  /** Nodes tainted per second in a healthy zone (upstream --node-eviction-rate, 0.1). */
  nodeEvictionRate: number;
  /** Nodes tainted per second in a partially disrupted large zone (--secondary-node-eviction-rate, 0.01). */
  secondaryNodeEvictionRate: number;
  /** Share of not-Ready nodes (with more than 2 of them) that makes a zone partially disrupted (--unhealthy-zone-threshold, 0.55). */
  unhealthyZoneThreshold: number;
  /** Zones with more nodes than this keep evicting at the secondary rate when partially disrupted (--large-cluster-size-threshold, 50). */
  largeClusterSizeThreshold: number;
}

export const DEFAULT_EVICTION_RATES: EvictionRateOptions = Object.freeze({
  nodeEvictionRate: 0.1,
  secondaryNodeEvictionRate: 0.01,
  unhealthyZoneThreshold: 0.55,
  largeClusterSizeThreshold: 50,
});

/** The zone a node is in: its region and zone labels ('' when it has neither), as upstream's GetZoneKey. */
export function zoneOf(node: KubeObject): string {
  const labels = node.metadata.labels ?? {};
  const region = labels[REGION_LABEL] ?? '';
  const zone = labels[ZONE_LABEL] ?? '';
  return region === '' && zone === '' ? '' : `${region}:\u0000:${zone}`;
}

/** A zone's state from its nodes' Ready condition statuses (anything but True counts as not Ready). */
export function zoneState(readyStatuses: readonly (string | undefined)[], unhealthyZoneThreshold: number): { notReady: number; state: ZoneState } {
  const ready = readyStatuses.filter((s) => s === 'True').length;
  const notReady = readyStatuses.length - ready;
  if (ready === 0 && notReady > 0) return { notReady, state: 'FullDisruption' };
  if (notReady > 2 && notReady / (notReady + ready) >= unhealthyZoneThreshold) return { notReady, state: 'PartialDisruption' };
  return { notReady, state: 'Normal' };
}

export interface ZoneRate {
  zone: string;
  size: number;
  notReady: number;
  state: ZoneState;
  /** Nodes per second that may be tainted for eviction; 0 stops eviction in the zone. */
  rate: number;
}

export interface DisruptionView {
  zones: Map<string, ZoneRate>;
  /** Every zone is fully disrupted: no node is tainted for eviction, and existing NoExecute taints of the controller are lifted. */
  allFullyDisrupted: boolean;
}

/** The per-zone state and eviction rate for a set of nodes (zone and Ready status each). */
export function disruptionView(nodes: readonly { zone: string; ready: string | undefined }[], opts: EvictionRateOptions = DEFAULT_EVICTION_RATES): DisruptionView {
  const byZone = new Map<string, (string | undefined)[]>();
  for (const n of nodes) {
    const list = byZone.get(n.zone);
    if (list) list.push(n.ready);
    else byZone.set(n.zone, [n.ready]);
  }
  const zones = new Map<string, ZoneRate>();
  for (const [zone, statuses] of byZone) {
    const { notReady, state } = zoneState(statuses, opts.unhealthyZoneThreshold);
    const size = statuses.length;
    const rate =
      state === 'PartialDisruption' ? (size > opts.largeClusterSizeThreshold ? opts.secondaryNodeEvictionRate : 0) : opts.nodeEvictionRate;
    zones.set(zone, { zone, size, notReady, state, rate });
  }
  const allFullyDisrupted = zones.size > 0 && [...zones.values()].every((z) => z.state === 'FullDisruption');
  if (allFullyDisrupted) for (const z of zones.values()) z.rate = 0;
  return { zones, allFullyDisrupted };
}

/** The nodes a disruption view is computed from: each Node's zone and Ready status. */
export function disruptionInputs(nodes: readonly KubeObject[]): { zone: string; ready: string | undefined }[] {
  return nodes.map((n) => ({ zone: zoneOf(n), ready: conditionOf(n, 'Ready')?.status }));
}

/**
 * A token bucket (burst 1, as upstream's eviction limiter): one node may be
 * tainted at once, then one per 1/rate seconds. Rate 0 admits nothing. Time is
 * always given, so it is pure apart from its own state.
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    private rate: number,
    nowMs: number,
    private readonly burst = 1,
  ) {
    this.tokens = burst;
    this.lastMs = nowMs;
  }

  private refill(nowMs: number): void {
    if (nowMs > this.lastMs) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.lastMs) / 1000) * this.rate);
      this.lastMs = nowMs;
    }
  }

  /** Changes the rate, keeping the tokens saved up so far. */
  setRate(rate: number, nowMs: number): void {
    this.refill(nowMs);
    this.rate = rate;
  }

  get currentRate(): number {
    return this.rate;
  }

  /** Takes a token if there is one. */
  tryTake(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.rate <= 0 || this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** How long until a token is there (Infinity at rate 0). */
  waitMs(nowMs: number): number {
    this.refill(nowMs);
    if (this.rate <= 0) return Infinity;
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }
}
