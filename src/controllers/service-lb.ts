// LoadBalancer Services on bare metal (k3s ServiceLB / MetalLB layer-2
// model), in the server: addresses from the --lb-pool into
// status.loadBalancer.ingress, never one address twice, released when the
// Service goes or stops being a LoadBalancer; without a pool the Service stays
// pending. And the announcing node: among Ready nodes with a ready endpoint of
// the Service, one chosen deterministically (kept while it stays eligible,
// else a rendezvous hash of Service and node), recorded in the Service's
// meshlet.io/lb-announcer annotation. Nodes cannot write Services
// (NodeRestriction), so only the server decides. The agent on that node
// answers ARP for the address (src/agent/lb-announcer.ts).
import { createHash } from 'node:crypto';
import type { KubeObject } from '../core/types.ts';
import { deepEqual } from '../core/deep-equal.ts';
import { ENDPOINTSLICES, LB_ANNOUNCER_ANNOTATION } from '../core/well-known.ts';
import { SERVICE_NAME_INDEX } from '../client/indexers.ts';
import { applyActions, throwFirstError, type Action } from './actions.ts';
import { conditionOf, isBeingDeleted } from './objects.ts';
import { enqueueMapped, newController, type Controller, type ControllerDeps } from './runtime.ts';
import { firstFree, inPool, type LbPool } from './service-lb-pool.ts';

interface LbServiceSpec {
  type?: string;
  loadBalancerIP?: string;
  loadBalancerClass?: string;
}

interface LbStatus {
  loadBalancer?: { ingress?: { ip?: string }[] };
}

interface SliceEndpoint {
  conditions?: { ready?: boolean };
  nodeName?: string;
}

export interface LbInputs {
  services: readonly KubeObject[];
  pool: LbPool | undefined;
  /** Nodes whose Ready condition is True. */
  readyNodes: ReadonlySet<string>;
  /** Nodes with a ready endpoint of the Service `<ns>/<name>`. */
  endpointNodes: (serviceKey: string) => ReadonlySet<string>;
  /** Addresses this controller wrote that its cache does not show yet, by Service uid. */
  assumed?: ReadonlyMap<string, string>;
}

export interface LbDecision {
  namespace: string;
  name: string;
  /** The ingress address the Service should show; undefined: none. */
  ip?: string;
  /** The node that should announce it; undefined: none. */
  announcer?: string;
}

function keyOf(svc: KubeObject): string {
  return `${svc.metadata.namespace ?? ''}/${svc.metadata.name ?? ''}`;
}

/** A Service this controller serves: type LoadBalancer, no loadBalancerClass (another implementation's), not being deleted. */
export function isPoolLoadBalancer(svc: KubeObject): boolean {
  const spec = (svc.spec ?? {}) as LbServiceSpec;
  return spec.type === 'LoadBalancer' && !spec.loadBalancerClass && !isBeingDeleted(svc);
}

export function ingressIps(svc: KubeObject): string[] {
  return (((svc.status ?? {}) as LbStatus).loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter(Boolean);
}

/** Rendezvous (highest random weight) choice: stable per Service, spreads Services over nodes, moves only what it must. */
export function rendezvous(serviceKey: string, nodes: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = '';
  for (const n of nodes) {
    const score = createHash('sha256').update(`${serviceKey}\n${n}`).digest('hex');
    if (best === undefined || score > bestScore || (score === bestScore && n < best)) {
      best = n;
      bestScore = score;
    }
  }
  return best;
}

/**
 * What every Service should show, pure. Older Services keep their addresses first (a collision
 * left by an earlier writer goes to the older one); a Service asking for spec.loadBalancerIP gets
 * it when it is in the pool and free, else stays pending; others get the first free address.
 * Returns a decision for every LoadBalancer Service and for every other Service still showing an
 * address of the pool or an announcer (to clear).
 */
export function planLoadBalancers(inp: LbInputs): LbDecision[] {
  const lbs = inp.services.filter(isPoolLoadBalancer).sort((a, b) => {
    const ta = a.metadata.creationTimestamp ?? '';
    const tb = b.metadata.creationTimestamp ?? '';
    return ta < tb ? -1 : ta > tb ? 1 : keyOf(a) < keyOf(b) ? -1 : 1;
  });
  const taken = new Set<string>();
  const ipOf = new Map<string, string>();
  if (inp.pool) {
    const pool = inp.pool;
    for (const svc of lbs) {
      const current = [...ingressIps(svc), inp.assumed?.get(svc.metadata.uid ?? '') ?? ''].find((ip) => ip && inPool(pool, ip) && !taken.has(ip));
      const wanted = ((svc.spec ?? {}) as LbServiceSpec).loadBalancerIP;
      if (current && (!wanted || wanted === current)) {
        taken.add(current);
        ipOf.set(keyOf(svc), current);
      }
    }
    for (const svc of lbs) {
      if (ipOf.has(keyOf(svc))) continue;
      const wanted = ((svc.spec ?? {}) as LbServiceSpec).loadBalancerIP;
      const ip = wanted ? (inPool(pool, wanted) && !taken.has(wanted) ? wanted : undefined) : firstFree(pool, taken);
      if (ip) {
        taken.add(ip);
        ipOf.set(keyOf(svc), ip);
      }
    }
  }
  const out: LbDecision[] = [];
  for (const svc of lbs) {
    const key = keyOf(svc);
    const ip = ipOf.get(key);
    let announcer: string | undefined;
    if (ip) {
      const eligible = [...inp.endpointNodes(key)].filter((n) => inp.readyNodes.has(n));
      const current = svc.metadata.annotations?.[LB_ANNOUNCER_ANNOTATION];
      announcer = current && eligible.includes(current) ? current : rendezvous(key, eligible);
    }
    out.push({ namespace: svc.metadata.namespace ?? '', name: svc.metadata.name ?? '', ...(ip ? { ip } : {}), ...(announcer ? { announcer } : {}) });
  }
  for (const svc of inp.services) {
    if (isPoolLoadBalancer(svc) || isBeingDeleted(svc)) continue;
    const stale = inp.pool ? ingressIps(svc).some((ip) => inPool(inp.pool!, ip)) : false;
    if (stale || svc.metadata.annotations?.[LB_ANNOUNCER_ANNOTATION] !== undefined) out.push({ namespace: svc.metadata.namespace ?? '', name: svc.metadata.name ?? '' });
  }
  return out;
}

/** The writes that bring one Service to its decision: a status patch (ingress) and an annotation patch (announcer). Pure. */
export function lbActions(svc: KubeObject, d: LbDecision, pool: LbPool | undefined): Action[] {
  const actions: Action[] = [];
  const have = ingressIps(svc);
  // Addresses outside the pool (written by someone else) are left alone unless the pool's is to replace them.
  const ours = pool ? have.filter((ip) => inPool(pool, ip)) : [];
  const others = have.filter((ip) => !ours.includes(ip));
  const want = d.ip ? [d.ip] : others;
  if (!deepEqual(have, want)) {
    const ingress = want.length ? want.map((ip) => ({ ip, ipMode: 'VIP' })) : null;
    actions.push({ op: 'patch', gr: 'services', namespace: d.namespace, name: d.name, patch: { status: { loadBalancer: { ingress } } }, patchType: 'merge', subresource: 'status' });
  }
  const current = svc.metadata.annotations?.[LB_ANNOUNCER_ANNOTATION];
  if (current !== d.announcer) {
    actions.push({
      op: 'patch', gr: 'services', namespace: d.namespace, name: d.name,
      patch: { metadata: { annotations: { [LB_ANNOUNCER_ANNOTATION]: d.announcer ?? null } } }, patchType: 'merge',
    });
  }
  return actions;
}

const ALL = 'all';

export function serviceLbController(deps: ControllerDeps, opts: { pool: LbPool | undefined }): Controller {
  const services = deps.informers.informer('services');
  const slices = deps.informers.informer(ENDPOINTSLICES);
  const nodes = deps.informers.informer('nodes');
  const log = deps.logger.child({ controller: 'service-lb' });
  const assumed = new Map<string, string>();

  const endpointNodes = (key: string): Set<string> => {
    const out = new Set<string>();
    for (const sl of slices.byIndex(SERVICE_NAME_INDEX, key)) {
      for (const ep of ((sl as { endpoints?: SliceEndpoint[] }).endpoints ?? [])) {
        if (ep.conditions?.ready !== false && ep.nodeName) out.add(ep.nodeName);
      }
    }
    return out;
  };

  const sync = async (): Promise<void> => {
    const all = services.list();
    // Forget what the cache now shows (or what is gone).
    const byUid = new Map(all.map((s) => [s.metadata.uid ?? '', s]));
    for (const [uid, ip] of assumed) {
      const s = byUid.get(uid);
      if (!s || ingressIps(s).includes(ip)) assumed.delete(uid);
    }
    const readyNodes = new Set(nodes.list().filter((n) => conditionOf(n, 'Ready')?.status === 'True').map((n) => n.metadata.name ?? ''));
    const decisions = planLoadBalancers({ services: all, pool: opts.pool, readyNodes, endpointNodes, assumed });
    const actions: Action[] = [];
    for (const d of decisions) {
      const svc = services.getByName(d.namespace, d.name);
      if (!svc) continue;
      const mine = lbActions(svc, d, opts.pool);
      if (mine.length) log.info({ service: `${d.namespace}/${d.name}`, ip: d.ip, announcer: d.announcer }, 'LoadBalancer address or announcer changes');
      if (d.ip && !ingressIps(svc).includes(d.ip)) assumed.set(svc.metadata.uid ?? '', d.ip);
      actions.push(...mine);
    }
    const results = await applyActions(deps.client, actions, { logger: log, component: 'service-lb-controller' });
    // A failed status write did not take its address: do not assume it.
    for (const r of results) {
      if (r.error === undefined || r.action.op !== 'patch' || r.action.subresource !== 'status') continue;
      const svc = services.getByName(r.action.namespace, r.action.name);
      if (svc) assumed.delete(svc.metadata.uid ?? '');
    }
    throwFirstError(results);
  };

  const controller = newController('service-lb', deps, sync, { workers: 1 });
  const all = (): string[] => [ALL];
  enqueueMapped(services, controller.queue, all);
  enqueueMapped(slices, controller.queue, all);
  enqueueMapped(nodes, controller.queue, all);
  return controller;
}
