// Objects as tests write them: pods as controllers see them (each unit test
// file keeps its own defaults around the builder), a plain Deployment, the
// DNS lab tests' pods and Services.
import type { KubeObject } from '../../src/core/types.ts';

export interface PodFixture {
  labels: Record<string, string>;
  /** The controlling owner (apps/v1). */
  owner?: { kind: string; name: string; uid: string };
  node?: string;
  phase: string;
  ready: boolean;
  /** The Ready condition's lastTransitionTime, if any. */
  readySince?: string;
  created?: string;
  deleting?: boolean;
}

export function podFixture(name: string, f: PodFixture): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      creationTimestamp: f.created ?? '2025-01-01T00:00:00Z',
      labels: f.labels,
      ...(f.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', ...f.owner, controller: true }] } : {}),
      ...(f.deleting ? { deletionTimestamp: '2025-01-01T00:09:00Z' } : {}),
    },
    spec: f.node ? { nodeName: f.node } : {},
    status: { phase: f.phase, conditions: [{ type: 'Ready', status: f.ready ? 'True' : 'False', ...(f.readySince ? { lastTransitionTime: f.readySince } : {}) }] },
  };
}

/** A Deployment in default of `replicas` pods labelled app=<name>, one container `container` running `image`. */
export function deploymentFixture(name: string, opts: { replicas: number; container: string; image: string }, extraSpec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas: opts.replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: opts.container, image: opts.image }] } },
      ...extraSpec,
    },
  };
}

/** A lab pod in default pinned to `node` by nodeSelector, running `sleep 3600` on the host image; `extra` merges into its spec, `container` into its container. */
export function hostPod(name: string, node: string, labels: Record<string, string> = {}, extra: Record<string, unknown> = {}, container: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels },
    spec: { nodeSelector: { 'kubernetes.io/hostname': node }, terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: 'host', command: ['sleep', '3600'], ...container }], ...extra },
  };
}

/** A Service in default with this spec. */
export function serviceFixture(name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec };
}
