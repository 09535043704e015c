// Leader election on a coordination.k8s.io/v1 Lease, as client-go's
// leaderelection does it: optimistic concurrency on the Lease's
// resourceVersion decides races; a holder that cannot renew within the renew
// deadline steps down; expiry is judged by the local clock from when this
// candidate last saw the record change (immune to skew between machines).
import type { Logger } from 'pino';
import { isKubeError } from '../core/errors.ts';
import { kubeMicroTime } from '../core/time.ts';
import type { KubeObject } from '../core/types.ts';
import type { ApiClient } from './types.ts';
import { LEASES } from '../core/well-known.ts';


export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export type LeaseDecision =
  /** No Lease exists: create it holding it. */
  | { action: 'create'; spec: LeaseSpec }
  /** We hold it: write this renewed spec. */
  | { action: 'renew'; spec: LeaseSpec }
  /** Free or expired: take it over with this spec. */
  | { action: 'acquire'; spec: LeaseSpec }
  /** Someone else holds a live lease. */
  | { action: 'wait'; holder: string; expiresAtMs: number };

export interface LeaseDecisionInput {
  /** The Lease's spec as read, or undefined when there is no Lease. */
  current: LeaseSpec | undefined;
  identity: string;
  nowMs: number;
  /** Local time at which this candidate first saw the current record (holder + renewTime). */
  observedAtMs: number;
  leaseDurationMs: number;
}

/** May `identity` take or renew the lease at `nowMs`, and with what spec? Pure. */
export function decideLease(input: LeaseDecisionInput): LeaseDecision {
  const { current, identity, nowMs, observedAtMs, leaseDurationMs } = input;
  const now = kubeMicroTime(nowMs);
  const durationSeconds = Math.max(1, Math.round(leaseDurationMs / 1000));
  if (!current) {
    return {
      action: 'create',
      spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
    };
  }
  const holder = current.holderIdentity ?? '';
  if (holder === identity) {
    return {
      action: 'renew',
      spec: { ...current, holderIdentity: identity, leaseDurationSeconds: durationSeconds, renewTime: now },
    };
  }
  const heldFor = (current.leaseDurationSeconds ?? durationSeconds) * 1000;
  const expiresAtMs = observedAtMs + heldFor;
  if (holder !== '' && nowMs < expiresAtMs) return { action: 'wait', holder, expiresAtMs };
  return {
    action: 'acquire',
    spec: {
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: (current.leaseTransitions ?? 0) + (holder !== '' ? 1 : 0),
    },
  };
}

export interface LeaderElectionOptions {
  client: ApiClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Called when this candidate becomes leader; signal aborts when it stops leading. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  onStoppedLeading?(): void | Promise<void>;
  onNewLeader?(identity: string): void;
  logger?: Logger;
  /** Clock, for tests. */
  now?: () => number;
}

/** Runs the candidate until the returned stop function is called; stop releases a held lease. */
export function runLeaderElection(opts: LeaderElectionOptions): () => Promise<void> {
  const leaseDurationMs = opts.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
  const retryPeriodMs = opts.retryPeriodMs ?? 2_000;
  const now = opts.now ?? Date.now;
  const log = opts.logger?.child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });

  let stopped = false;
  let leading: AbortController | undefined;
  let lastRenewMs = 0;
  let observed: { key: string; atMs: number } | undefined;
  let lastLease: KubeObject | undefined;
  let lastLeader = '';
  let wake: (() => void) | undefined;

  const stopLeading = async (): Promise<void> => {
    if (!leading) return;
    const ac = leading;
    leading = undefined;
    ac.abort();
    log?.info('stopped leading');
    try {
      await opts.onStoppedLeading?.();
    } catch (err) {
      log?.error({ err }, 'onStoppedLeading failed');
    }
  };

  const startLeading = (): void => {
    leading = new AbortController();
    log?.info('started leading');
    const signal = leading.signal;
    Promise.resolve()
      .then(() => opts.onStartedLeading(signal))
      .catch((err: unknown) => log?.error({ err }, 'onStartedLeading failed'));
  };

  const tryOnce = async (): Promise<boolean> => {
    const lease = await opts.client.get(LEASES, opts.namespace, opts.name);
    lastLease = lease;
    const spec = lease?.spec as LeaseSpec | undefined;
    const key = `${spec?.holderIdentity ?? ''}|${spec?.renewTime ?? ''}|${lease?.metadata.resourceVersion ?? ''}`;
    if (!observed || observed.key !== key) observed = { key, atMs: now() };
    const holder = spec?.holderIdentity ?? '';
    if (holder && holder !== lastLeader) {
      lastLeader = holder;
      opts.onNewLeader?.(holder);
    }
    const decision = decideLease({ current: spec, identity: opts.identity, nowMs: now(), observedAtMs: observed.atMs, leaseDurationMs });
    if (decision.action === 'wait') return false;
    try {
      if (decision.action === 'create') {
        lastLease = await opts.client.create(LEASES, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: opts.name, namespace: opts.namespace },
          spec: decision.spec,
        });
      } else {
        lastLease = await opts.client.update(LEASES, { ...lease!, spec: decision.spec });
      }
    } catch (err) {
      if (isKubeError(err, 'Conflict') || isKubeError(err, 'AlreadyExists')) return false; // lost the race
      throw err;
    }
    observed = undefined;
    return true;
  };

  const loop = async (): Promise<void> => {
    while (!stopped) {
      let ok = false;
      try {
        ok = await tryOnce();
      } catch (err) {
        log?.warn({ err }, 'lease read/write failed');
      }
      if (stopped) break;
      if (ok) {
        lastRenewMs = now();
        if (!leading) startLeading();
      } else if (leading && now() - lastRenewMs > renewDeadlineMs) {
        log?.warn('could not renew the lease within the renew deadline');
        await stopLeading();
      } else if (leading && lastLease && (lastLease.spec as LeaseSpec | undefined)?.holderIdentity !== opts.identity) {
        await stopLeading();
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, retryPeriodMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  };

  const running = loop();

  return async () => {
    if (stopped) return;
    stopped = true;
    wake?.();
    await running;
    const wasLeading = leading !== undefined;
    await stopLeading();
    if (!wasLeading) return;
    // Release: leave the lease free so another candidate takes over at once.
    try {
      const lease = await opts.client.get(LEASES, opts.namespace, opts.name);
      const spec = lease?.spec as LeaseSpec | undefined;
      if (lease && spec?.holderIdentity === opts.identity) {
        const at = kubeMicroTime(now());
        await opts.client.update(LEASES, {
          ...lease,
          spec: { ...spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: at, acquireTime: at },
        });
      }
    } catch (err) {
      log?.warn({ err }, 'could not release the lease');
    }
  };
}
