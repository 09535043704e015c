// What the pod benchmarks share: a private lab (its own root under /tmp, a
// lab name starting with "mlt"), its admin client, pod helpers, and teardown.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { labUp } from '../src/lab/up.ts';
import { labDown } from '../src/lab/down.ts';
import { labAdminClient } from '../src/lab/api.ts';
import { Progress } from '../src/lab/progress.ts';
import type { LabNetworkOptions, LabNodeLossOptions, LabPlan } from '../src/lab/plan.ts';
import { podNetnsName } from '../src/kubelet/names.ts';
import type { ApiClient } from '../src/client/types.ts';
import type { KubeObject } from '../src/core/types.ts';

export interface BenchLab {
  name: string;
  root: string;
  plan: LabPlan;
  client: ApiClient;
  /** The pod's network namespace (named by the kubelet from the pod's uid). */
  podNetns(pod: KubeObject): string;
  down(): Promise<void>;
}

/**
 * `namePrefix` (at most 8 characters) replaces the default "mlt…<tag>" lab name with "<namePrefix><4 hex>";
 * `nodeLoss` shortens the server's node grace and tolerations for a run that loses a node on purpose.
 */
export async function startBenchLab(tag: string, nodes: number, network: LabNetworkOptions = {}, namePrefix?: string, nodeLoss: LabNodeLossOptions = {}): Promise<BenchLab> {
  const root = mkdtempSync(join(tmpdir(), `mlt-bench-${tag}-`));
  const name = namePrefix ? `${namePrefix}${randomBytes(2).toString('hex')}` : `mlt${randomBytes(2).toString('hex')}${tag.slice(0, 3)}`;
  const progress = new Progress(process.stderr);
  let plan: LabPlan;
  try {
    ({ plan } = await labUp({ name, nodes, root, network, nodeLoss }, progress));
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  const client = labAdminClient(plan);
  return {
    name,
    root,
    plan,
    client,
    podNetns: (pod) => podNetnsName(`ml-${name}-`, pod.metadata.uid!),
    async down() {
      client.close();
      await labDown({ name, root }, progress);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export function podStatus(pod: KubeObject | undefined): { phase?: string; podIP?: string } {
  return (pod?.status ?? {}) as { phase?: string; podIP?: string };
}

/** Polls until the pod is Running with an IP. */
export async function waitRunning(client: ApiClient, namespace: string, name: string, timeoutMs = 60_000): Promise<KubeObject> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const p = await client.get('pods', namespace, name);
    if (p && podStatus(p).phase === 'Running' && podStatus(p).podIP) return p;
    if (Date.now() > end) throw new Error(`pod ${namespace}/${name} not Running within ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}

export function podObject(name: string, node: string, command: string[], labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels },
    spec: { nodeSelector: { 'kubernetes.io/hostname': node }, terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: 'host', command }] },
  };
}
