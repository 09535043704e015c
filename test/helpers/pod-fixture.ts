// Pods as controllers see them, for the controllers' unit tests: one builder,
// each test file keeping its own defaults (owner, labels, phase) around it.
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
