// A control plane for workload-controller tests (no nodes really run pods): a
// real API server (Redis + server), its admin client, the controller manager,
// a namespace, the real kubectl, and fake kubelets that play the kubelets'
// part for the pods of that namespace so that rollouts can progress.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { startTestApiServer, type TestApiServer } from './api-server.ts';
import { kubectlFor, type Kubectl } from './kubectl.ts';
import { createClient } from '../../src/client/http-client.ts';
import { startControllers } from '../../src/controllers/index.ts';
import type { ApiClient } from '../../src/client/types.ts';
import type { KubeObject } from '../../src/core/types.ts';

export interface ControllerCluster {
  api: TestApiServer;
  client: ApiClient;
  /** A temp dir of the test's own (kubectl's cache and HOME, manifests). */
  work: string;
  kubectl: Kubectl;
  /** Stops the fake kubelets, the controllers, the client and the server; removes the work dir. */
  stop(): Promise<void>;
}

export interface FakeKubeletOptions {
  /** Pods left as they are (not made Ready): to see a controller wait. */
  hold?: (name: string) => boolean;
  /** Called with every pod each round, before it is acted on. */
  onPod?: (pod: KubeObject) => void;
}

/** Marks the namespace's pods Running and Ready, and finishes terminating ones (the kubelet's final delete), every 100 ms. */
function fakeKubelets(client: ApiClient, namespace: string, opts: FakeKubeletOptions): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        for (const p of (await client.list('pods', { namespace })).items) {
          const name = p.metadata.name ?? '';
          opts.onPod?.(p);
          if (p.metadata.deletionTimestamp) await client.delete('pods', namespace, name, { gracePeriodSeconds: 0 });
          else if (!opts.hold?.(name) && (p.status as { phase?: string } | undefined)?.phase !== 'Running') {
            await client.patch('pods', namespace, name, { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() }] } }, 'merge', { subresource: 'status' });
          }
        }
      } catch {
        // a pod went between list and write: next round
      }
      await sleep(100);
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

export async function startControllerCluster(opts: { tag: string; namespace: string; kubelets?: FakeKubeletOptions }): Promise<ControllerCluster> {
  const work = mkdtempSync(join(tmpdir(), `${opts.tag}-`));
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(work, { recursive: true, force: true })];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => undefined);
  };
  try {
    const api = await startTestApiServer();
    cleanups.push(() => api.stop());
    const client = createClient({ server: api.url, token: api.token });
    cleanups.push(() => client.close());
    // A long grace: these nodes have no heartbeat, and must stay Ready for the test.
    const manager = await startControllers(client, { logger: pino({ level: 'silent' }), identity: opts.tag, retryPeriodMs: 200, nodeGraceMs: 600_000 });
    cleanups.push(() => manager.stop());
    await client.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: opts.namespace } });
    cleanups.push(fakeKubelets(client, opts.namespace, opts.kubelets ?? {}));
    return { api, client, work, kubectl: kubectlFor(api.kubeconfigPath, work), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
