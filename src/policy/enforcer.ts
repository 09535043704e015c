// NetworkPolicy enforcement on one node: the shell around ruleset.ts. It reads
// NetworkPolicies, Pods and Namespaces from the agent's one informer factory
// (no watches of its own), rebuilds the cluster view (model.ts) when a field
// the semantics read changed, and applies the node's `inet meshlet-policy`
// table through the nftables adapter (O(changes) atomic transactions) from a
// bounded-frequency sync runner.
//
// A new pod is never briefly open: the table holds (drops) every address of
// the node's pod subnets that is not a programmed pod, so a pod's traffic
// passes only from the transaction that also writes its isolation state. The
// first sync is a full one against what the kernel holds (a restarted agent
// adopts the table; established connections keep flowing).
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { InformerFactory } from '../client/informer-factory.ts';
import { changedIn, type Informer } from '../client/informer.ts';
import type { SlimNamespace, SlimPod } from '../client/slim-objects.ts';
import { parseCidr } from '../core/cidr.ts';
import type { KubeObject } from '../core/types.ts';
import { NETWORKPOLICIES } from '../core/well-known.ts';
import type { TableOwners } from '../nft/owners.ts';
import { NftCommandRunner, type NftRunner } from '../nft/runner.ts';
import { DEFAULT_RESYNC_MS, partSyncRunner, type BoundedFrequencyRunner, type PartSyncSettings, type SyncResult } from '../nft/sync-runner.ts';
import { NftTable } from '../nft/table-sync.ts';
import { compilePolicy, namespaceView, podView, POLICY_MODE_ANNOTATION, type ClusterView, type PodView, type Policy } from './model.ts';
import { policyRuleset, POLICY_TABLE, POLICY_TABLE_OWNER, type DenialLogConfig } from './ruleset.ts';

/** minSyncIntervalMs defaults to 50 ms; resyncMs to DEFAULT_RESYNC_MS. */
export interface PolicyEnforcerOptions extends PartSyncSettings {
  informers: InformerFactory;
  nodeName: string;
  /** The node's pod subnets (addresses in them that are no programmed pod are held). */
  localSubnets: readonly string[];
  denials?: DenialLogConfig;
  runner?: NftRunner;
  owners?: TableOwners;
}

/** What of each kind the semantics read (anything else changing triggers no sync). */
const policyProjection = (o: KubeObject): unknown => [o.spec, o.metadata.annotations?.[POLICY_MODE_ANNOTATION]];
const podProjection = (o: KubeObject): unknown => podView(o as SlimPod);
const namespaceProjection = (o: KubeObject): unknown => o.metadata.labels;

export class PolicyEnforcer {
  private readonly policies: Informer;
  private readonly pods: Informer;
  private readonly namespaces: Informer;
  private readonly table: NftTable;
  private readonly sync: BoundedFrequencyRunner;
  private readonly log: Logger | undefined;
  private readonly gauges: { policies: Gauge; isolated: Gauge<'direction'> } | undefined;
  /** Compiled policies and pod views per cached object (informers replace objects on change). */
  private readonly compiled = new WeakMap<KubeObject, Policy | Error>();
  private readonly views = new WeakMap<KubeObject, PodView>();
  private lastFullAt = 0;
  private stopped = false;
  private programmed: (() => void) | undefined;
  private readonly firstSync: Promise<void>;
  /** The cluster view of the last successful sync (denial records, tests). */
  view: ClusterView = { namespaces: [], pods: [], policies: [] };
  /** The view of the sync being committed now, whose rules may already drop packets. */
  private committing: ClusterView | undefined;

  constructor(private readonly opts: PolicyEnforcerOptions) {
    for (const c of opts.localSubnets) parseCidr(c); // bad input: a clear error before anything runs
    this.log = opts.logger?.child({ part: 'policy' });
    this.policies = opts.informers.informer(NETWORKPOLICIES);
    this.pods = opts.informers.informer('pods');
    this.namespaces = opts.informers.informer('namespaces');
    this.table = new NftTable({
      owner: POLICY_TABLE_OWNER,
      table: POLICY_TABLE,
      runner: opts.runner ?? new NftCommandRunner(),
      ...(opts.owners ? { owners: opts.owners } : {}),
      ...(this.log ? { logger: this.log } : {}),
    });
    this.firstSync = new Promise((resolve) => (this.programmed = resolve));
    this.sync = partSyncRunner(POLICY_TABLE_OWNER, () => this.syncOnce(), 50, { ...opts, ...(this.log ? { logger: this.log } : {}) });
    if (opts.registry) {
      this.gauges = {
        policies: new Gauge({ name: 'meshlet_policy_policies', help: 'NetworkPolicies in the cluster view (enforced and audit)', registers: [opts.registry] }),
        isolated: new Gauge({ name: 'meshlet_policy_isolated_pods', help: "This node's pod addresses isolated by an enforced policy, by direction", labelNames: ['direction'], registers: [opts.registry] }),
      };
    }
  }

  /** Handlers on the shared caches, then the first (full) sync once all three have listed. */
  async start(): Promise<void> {
    const trigger = (): void => this.sync.trigger();
    this.policies.addHandlers({ onAdd: trigger, onUpdate: trigger, onDelete: trigger, relevant: changedIn(policyProjection) });
    this.pods.addHandlers({ onAdd: trigger, onUpdate: trigger, onDelete: trigger, relevant: changedIn(podProjection) });
    this.namespaces.addHandlers({ onAdd: trigger, onUpdate: trigger, onDelete: trigger, relevant: changedIn(namespaceProjection) });
    for (const i of [this.policies, this.pods, this.namespaces]) i.start();
    await Promise.all([this.policies.synced(), this.pods.synced(), this.namespaces.synced()]);
    if (this.stopped) return;
    this.sync.start();
  }

  /** Resolves after the first successful sync: from then on new pods are held until programmed. */
  programmedOnce(): Promise<void> {
    return this.firstSync;
  }

  get syncs(): number {
    return this.sync.runs;
  }

  idle(): Promise<void> {
    return this.sync.whenIdle();
  }

  /** Stop syncing; the table stays (a new agent adopts it). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.sync.stop();
    await this.sync.whenIdle();
    await Promise.all([this.policies.stop(), this.pods.stop(), this.namespaces.stop()]);
  }

  /** Remove the table (only when policy enforcement is turned off for good). */
  async remove(): Promise<void> {
    await this.table.delete();
  }

  /** The cluster view from the caches now. Policies that do not compile (validation lets none through) are logged and left out. */
  clusterView(): ClusterView {
    const policies: Policy[] = [];
    for (const o of this.policies.list()) {
      let p = this.compiled.get(o);
      if (!p) {
        try {
          p = compilePolicy(o);
        } catch (err) {
          p = err as Error;
          this.log?.warn({ err, policy: `${o.metadata.namespace}/${o.metadata.name}` }, 'policy: cannot compile, left out');
        }
        this.compiled.set(o, p);
      }
      if (!(p instanceof Error)) policies.push(p);
    }
    const pods: PodView[] = [];
    for (const o of this.pods.list()) {
      let v = this.views.get(o);
      if (!v) {
        v = podView(o as SlimPod);
        this.views.set(o, v);
      }
      pods.push(v);
    }
    return { namespaces: (this.namespaces.list() as SlimNamespace[]).map(namespaceView), pods, policies };
  }

  /** The views a logged packet may have been judged by, newest first (see denialRecord). */
  attributionViews(): ClusterView[] {
    return this.committing ? [this.committing, this.view] : [this.view];
  }

  private async syncOnce(): Promise<SyncResult> {
    const now = Date.now();
    const resync = this.opts.resyncMs ?? DEFAULT_RESYNC_MS;
    if (resync && this.lastFullAt && now - this.lastFullAt >= resync) this.table.invalidate();
    const cluster = this.clusterView();
    const desired = policyRuleset({ cluster, node: this.opts.nodeName, localSubnets: this.opts.localSubnets, ...(this.opts.denials ? { denials: this.opts.denials } : {}) });
    this.committing = cluster;
    let out: Awaited<ReturnType<typeof this.table.sync>>;
    try {
      out = await this.table.sync(desired);
    } finally {
      this.committing = undefined;
    }
    if (out.mode !== 'incremental') this.lastFullAt = now;
    this.view = cluster;
    if (this.gauges) {
      this.gauges.policies.set(cluster.policies.length);
      for (const d of ['ingress', 'egress'] as const) this.gauges.isolated.set({ direction: d }, desired.sets?.find((s) => s.name === `${d}-isolated`)?.elements?.length ?? 0);
    }
    if (out.ops) this.log?.debug({ mode: out.mode, ops: out.ops }, 'policy: synced');
    this.programmed?.();
    this.programmed = undefined;
    return out.staleDueAt !== undefined ? { againInMs: Math.max(0, out.staleDueAt - Date.now()) } : undefined;
  }
}
