import type { KubeObject, WatchEvent } from '../core/types.ts';

/** Where and as whom a client talks to the meshlet API server. */
export interface ClientConfig {
  /** http://127.0.0.1:6443 or unix:///path/to/api.sock */
  server: string;
  token?: string;
  /** User-Agent, shows in logs and metrics. */
  userAgent?: string;
  /** PEM of the CA that signed the server's certificate (https only). */
  caCert?: string;
  /** Skip verifying the server's certificate (https only). */
  insecureSkipTlsVerify?: boolean;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

export interface WatchOpts {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Events after this version. */
  resourceVersion: string;
  allowWatchBookmarks?: boolean;
}

export type PatchType = 'merge' | 'strategic' | 'apply' | 'json';

export interface DeleteOpts {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  preconditions?: { resourceVersion?: string; uid?: string };
}

export interface ClientWatch {
  close(): void;
  /** Settles when the stream ends; rejects with KubeError (e.g. Gone) if the server ended it with an ERROR event. */
  done: Promise<void>;
}

/**
 * The typed client every meshlet component uses to reach the API server
 * (agents, controllers, scheduler, CLI). gr is a group-resource string as in
 * src/core/resources.ts ("pods", "deployments.apps"). Errors are KubeError,
 * rebuilt from the server's Status.
 */
export interface ApiClient {
  get(gr: string, namespace: string, name: string): Promise<KubeObject | undefined>;
  list(gr: string, opts?: ListOptions): Promise<{ items: KubeObject[]; resourceVersion: string; continue?: string }>;
  create(gr: string, obj: KubeObject, subresource?: string): Promise<KubeObject>;
  update(gr: string, obj: KubeObject, subresource?: 'status' | 'scale' | 'finalize'): Promise<KubeObject>;
  patch(
    gr: string,
    namespace: string,
    name: string,
    patch: unknown,
    type: PatchType,
    opts?: { subresource?: 'status' | 'scale'; fieldManager?: string; force?: boolean },
  ): Promise<KubeObject>;
  /** Returns the object as deleted, or as marked for deletion when finalizers or a grace period hold it. */
  delete(gr: string, namespace: string, name: string, opts?: DeleteOpts): Promise<KubeObject | undefined>;
  watch(gr: string, opts: WatchOpts, handler: (event: WatchEvent) => void): Promise<ClientWatch>;
  close(): void;
}
