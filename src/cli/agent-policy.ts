// The agent's NetworkPolicy block: enforcement (src/policy/enforcer.ts), the
// NFLOG reader and the denial log, kept out of agent.ts so that the agent
// only says where it runs.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { InformerFactory } from '../client/informer-factory.ts';
import { DenialLog, denialRecord } from '../policy/denials.ts';
import { PolicyEnforcer } from '../policy/enforcer.ts';
import { NflogReader } from '../policy/nflog.ts';
import { DEFAULT_DENIAL_LOG, type DenialLogConfig } from '../policy/ruleset.ts';
import { booleanOption, integerOption, type RunCommand } from './args.ts';

export interface PolicyConfig {
  denials: DenialLogConfig;
  /** How long the agent waits for the first sync before it starts the kubelet anyway (ms). */
  firstSyncWaitMs: number;
}

/** The policy part's settings from the agent's options; undefined with --no-network-policy. */
export function policyConfig(cmd: RunCommand): PolicyConfig | undefined {
  if (booleanOption(cmd.options, 'no-network-policy')) return undefined;
  return {
    denials: {
      group: integerOption(cmd.options, 'policy-nflog-group', 1, 65535, DEFAULT_DENIAL_LOG.group),
      ratePerSecond: integerOption(cmd.options, 'policy-log-rate', 1, 100_000, DEFAULT_DENIAL_LOG.ratePerSecond),
      burst: DEFAULT_DENIAL_LOG.burst,
    },
    firstSyncWaitMs: 15_000,
  };
}

export interface RunningPolicy {
  denials: DenialLog;
  stop(): Promise<void>;
}

/** Start enforcement and denial records; resolves once the first sync is done (or the wait ran out). */
export async function startPolicy(opts: PolicyConfig & { informers: InformerFactory; nodeName: string; localSubnets: readonly string[]; logger: Logger; registry: Registry }): Promise<RunningPolicy> {
  const log = opts.logger.child({ part: 'policy' });
  const enforcer = new PolicyEnforcer({ informers: opts.informers, nodeName: opts.nodeName, localSubnets: opts.localSubnets, denials: opts.denials, logger: opts.logger, registry: opts.registry });
  const denials = new DenialLog({ registry: opts.registry });
  let reader: NflogReader | undefined;
  try {
    reader = await NflogReader.open(
      opts.denials.group,
      (p) => {
        const r = denialRecord(p, enforcer.attributionViews(), opts.nodeName, new Date());
        if (r) denials.add(r);
      },
      (err) => log.warn({ err }, 'policy: NFLOG socket error'),
    );
  } catch (err) {
    log.error({ err, group: opts.denials.group }, 'policy: cannot read NFLOG; enforcement goes on without denial records');
  }
  enforcer.start().catch((err: unknown) => log.error({ err }, 'policy enforcement failed to start'));
  const waited = await Promise.race([enforcer.programmedOnce().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), opts.firstSyncWaitMs).unref())]);
  if (waited) log.info({ nflogGroup: reader ? opts.denials.group : undefined }, 'network policy enforced');
  else log.warn({ waitedMs: opts.firstSyncWaitMs }, 'network policy not programmed yet; the kubelet starts anyway (new pods stay held until it is)');
  return {
    denials,
    async stop() {
      reader?.close();
      await enforcer.stop();
    },
  };
}
