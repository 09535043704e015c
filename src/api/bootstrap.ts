// The namespaces every cluster starts with. Idempotent: existing ones are left alone.
import { randomUUID } from 'node:crypto';
import { isKubeError } from '../core/errors.ts';
import { resourceFor } from '../core/resources.ts';
import type { KubeObject } from '../core/types.ts';
import type { Store } from '../store/types.ts';
import { applyDefaults } from './validation.ts';
import { prepareForCreate } from './object-rules.ts';

export const DEFAULT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'] as const;

/** The Namespace object a bootstrap creates (defaults applied, label set). */
export function defaultNamespace(name: string, now: Date): KubeObject {
  const info = resourceFor('', 'v1', 'namespaces');
  if (!info) throw new Error('namespaces missing from RESOURCES');
  const base: KubeObject = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'kubernetes.io/metadata.name': name } },
    spec: { finalizers: ['kubernetes'] },
  };
  const obj = applyDefaults(info, prepareForCreate(info, base, { now, uid: randomUUID() }));
  obj.status = { phase: 'Active' };
  return obj;
}

/** Creates the default namespaces that are missing; returns the names created. */
export async function ensureDefaultNamespaces(store: Store, now: () => Date = () => new Date()): Promise<string[]> {
  const created: string[] = [];
  for (const name of DEFAULT_NAMESPACES) {
    if (await store.get('namespaces', '', name)) continue;
    try {
      await store.create('namespaces', defaultNamespace(name, now()));
      created.push(name);
    } catch (err) {
      if (!isKubeError(err, 'AlreadyExists')) throw err;
    }
  }
  return created;
}
