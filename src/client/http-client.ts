// The ApiClient over node:http: one keep-alive agent for ordinary calls, one
// connection per watch. Errors come back as KubeError rebuilt from the Status.
import http from 'node:http';
import https from 'node:https';
import { KubeError, REASON_CODES, type Reason } from '../core/errors.ts';
import { resourceByGroupResource, apiVersionOf, type ResourceInfo } from '../core/resources.ts';
import { metricsResourceByGroupResource } from '../core/metrics-resources.ts';
import type { KubeObject, Status, WatchEvent } from '../core/types.ts';
import type {
  ApiClient,
  ClientConfig,
  ClientWatch,
  DeleteOpts,
  ListOptions,
  PatchType,
  WatchOpts,
} from './types.ts';
import { DEFAULT_NAMESPACE } from '../core/well-known.ts';

const REQUEST_TIMEOUT_MS = 30_000;

export const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
  json: 'application/json-patch+json',
};


/** Where requests go: a TCP host:port (http or https) or a unix socket. */
export interface Endpoint {
  host?: string;
  port?: number;
  socketPath?: string;
  secure?: boolean;
}

export function parseServer(server: string): Endpoint {
  if (server.startsWith('unix://')) return { socketPath: server.slice('unix://'.length) };
  const url = new URL(server);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`unsupported API server URL ${server} (http://, https:// or unix:// only)`);
  }
  const secure = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : secure ? 443 : 80;
  return secure ? { host, port, secure } : { host, port };
}

function infoFor(gr: string): ResourceInfo {
  const info = resourceByGroupResource(gr) ?? metricsResourceByGroupResource(gr);
  if (!info) throw new KubeError('NotFound', `the server doesn't have a resource type "${gr}"`);
  return info;
}

/** The URL path of a collection, an object or an object's subresource. */
export function resourcePath(info: ResourceInfo, namespace?: string, name?: string, subresource?: string): string {
  let path = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
  if (info.namespaced && namespace) path += `/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${info.resource}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  if (subresource) path += `/${subresource}`;
  return path;
}

function withQuery(path: string, query: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

function isStatus(body: unknown): body is Status {
  return typeof body === 'object' && body !== null && (body as { kind?: unknown }).kind === 'Status';
}

const REASON_BY_CODE = new Map<number, Reason>();
for (const [reason, code] of Object.entries(REASON_CODES) as [Reason, number][]) {
  if (!REASON_BY_CODE.has(code)) REASON_BY_CODE.set(code, reason);
}

/** Rebuilds the KubeError a server's Status (or bare HTTP code) describes. */
export function errorFromStatus(code: number, body: unknown): KubeError {
  if (isStatus(body)) {
    const known = (body.reason in REASON_CODES ? body.reason : undefined) as Reason | undefined;
    const reason = known ?? REASON_BY_CODE.get(body.code || code) ?? 'InternalError';
    const d = body.details;
    const details = d ? { name: d.name, group: d.group, kind: d.kind, causes: d.causes } : undefined;
    return new KubeError(reason, body.message || `${reason} (${code})`, details);
  }
  const reason = REASON_BY_CODE.get(code) ?? (code >= 500 ? 'InternalError' : 'BadRequest');
  const text = typeof body === 'string' && body ? body.slice(0, 500) : `the server responded with HTTP ${code}`;
  return new KubeError(reason, text);
}

interface Response {
  status: number;
  body: unknown;
}

/** Splits a byte stream into lines, however chunks cut it. */
export class LineSplitter {
  private buffer = '';
  private decoder = new TextDecoder();

  push(chunk: Uint8Array | string): string[] {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const lines = this.buffer.split('\n');
    this.buffer = lines.pop() ?? '';
    return lines.filter((l) => l.trim() !== '');
  }

  /** What is left when the stream ends (a last line without newline). */
  flush(): string[] {
    const rest = (this.buffer + this.decoder.decode()).trim();
    this.buffer = '';
    return rest ? [rest] : [];
  }
}

class HttpApiClient implements ApiClient {
  private readonly endpoint: Endpoint;
  private readonly tls: https.AgentOptions;
  private readonly agent: http.Agent;
  private readonly watches = new Set<ClientWatch>();

  constructor(private readonly config: ClientConfig) {
    this.endpoint = parseServer(config.server);
    this.tls = {};
    if (config.caCert) this.tls.ca = config.caCert;
    if (config.insecureSkipTlsVerify) this.tls.rejectUnauthorized = false;
    this.agent = this.endpoint.secure
      ? new https.Agent({ keepAlive: true, maxSockets: 32, ...this.tls })
      : new http.Agent({ keepAlive: true, maxSockets: 32 });
  }

  /** http.request or https.request, to our endpoint. */
  private send(options: http.RequestOptions, onResponse: (res: http.IncomingMessage) => void): http.ClientRequest {
    const { secure, ...where } = this.endpoint;
    if (secure) return https.request({ ...where, ...this.tls, ...options }, onResponse);
    return http.request({ ...where, ...options }, onResponse);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { Accept: 'application/json', ...extra };
    if (this.config.token) h.Authorization = `Bearer ${this.config.token}`;
    h['User-Agent'] = this.config.userAgent ?? 'meshlet-client';
    return h;
  }

  private request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Response> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers = this.headers(payload ? { 'Content-Type': contentType, 'Content-Length': String(payload.length) } : {});
    return new Promise<Response>((resolve, reject) => {
      const req = this.send({ method, path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          if (text && (res.headers['content-type'] ?? '').includes('json')) {
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = text;
            }
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => {
        req.destroy(new KubeError('Timeout', `${method} ${path}: no answer within ${REQUEST_TIMEOUT_MS / 1000}s`));
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Sends and returns the body of a 2xx answer; throws KubeError otherwise. */
  private async call(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown> {
    const res = await this.request(method, path, body, contentType);
    if (res.status < 200 || res.status >= 300) throw errorFromStatus(res.status, res.body);
    return res.body;
  }

  private asObject(body: unknown, what: string): KubeObject {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new KubeError('InternalError', `${what}: the server answered with something that is not an object`);
    }
    return body as KubeObject;
  }

  async get(gr: string, namespace: string, name: string): Promise<KubeObject | undefined> {
    const info = infoFor(gr);
    const res = await this.request('GET', resourcePath(info, namespace, name));
    if (res.status === 404) return undefined;
    if (res.status < 200 || res.status >= 300) throw errorFromStatus(res.status, res.body);
    return this.asObject(res.body, `get ${gr}`);
  }

  async list(gr: string, opts: ListOptions = {}): Promise<{ items: KubeObject[]; resourceVersion: string; continue?: string }> {
    const info = infoFor(gr);
    const path = withQuery(resourcePath(info, opts.namespace), {
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      limit: opts.limit,
      continue: opts.continue,
    });
    const body = (await this.call('GET', path)) as { items?: KubeObject[]; metadata?: { resourceVersion?: string; continue?: string } };
    const apiVersion = apiVersionOf(info);
    // Lists carry items without apiVersion/kind on the wire; fill them in so every object names its type.
    const items = (body.items ?? []).map((item) => ({ ...item, apiVersion: item.apiVersion || apiVersion, kind: item.kind || info.kind }));
    const result: { items: KubeObject[]; resourceVersion: string; continue?: string } = {
      items,
      resourceVersion: body.metadata?.resourceVersion ?? '',
    };
    if (body.metadata?.continue) result.continue = body.metadata.continue;
    return result;
  }

  private namespaceOf(info: ResourceInfo, obj: KubeObject): string | undefined {
    return info.namespaced ? obj.metadata.namespace || DEFAULT_NAMESPACE : undefined;
  }

  async create(gr: string, obj: KubeObject, subresource?: string): Promise<KubeObject> {
    const info = infoFor(gr);
    const ns = this.namespaceOf(info, obj);
    const path = subresource ? resourcePath(info, ns, obj.metadata.name ?? '', subresource) : resourcePath(info, ns);
    return this.asObject(await this.call('POST', path, obj), `create ${gr}`);
  }

  async update(gr: string, obj: KubeObject, subresource?: 'status' | 'scale' | 'finalize'): Promise<KubeObject> {
    const info = infoFor(gr);
    const name = obj.metadata.name;
    if (!name) throw new KubeError('BadRequest', `update ${gr}: metadata.name is required`);
    const path = resourcePath(info, this.namespaceOf(info, obj), name, subresource);
    return this.asObject(await this.call('PUT', path, obj), `update ${gr}`);
  }

  async patch(
    gr: string,
    namespace: string,
    name: string,
    patch: unknown,
    type: PatchType,
    opts: { subresource?: 'status' | 'scale'; fieldManager?: string; force?: boolean } = {},
  ): Promise<KubeObject> {
    const info = infoFor(gr);
    const path = withQuery(resourcePath(info, namespace, name, opts.subresource), {
      fieldManager: opts.fieldManager ?? (type === 'apply' ? 'meshlet' : undefined),
      force: opts.force,
    });
    return this.asObject(await this.call('PATCH', path, patch, PATCH_CONTENT_TYPES[type]), `patch ${gr}`);
  }

  async delete(gr: string, namespace: string, name: string, opts: DeleteOpts = {}): Promise<KubeObject | undefined> {
    const info = infoFor(gr);
    const body = { kind: 'DeleteOptions', apiVersion: 'v1', ...opts };
    const res = await this.call('DELETE', resourcePath(info, namespace, name), body);
    // A server may answer a finished delete with a Success Status instead of the object.
    if (isStatus(res) || typeof res !== 'object' || res === null) return undefined;
    return res as KubeObject;
  }

  async watch(gr: string, opts: WatchOpts, handler: (event: WatchEvent) => void): Promise<ClientWatch> {
    const info = infoFor(gr);
    const path = withQuery(resourcePath(info, opts.namespace), {
      watch: true,
      resourceVersion: opts.resourceVersion,
      allowWatchBookmarks: opts.allowWatchBookmarks,
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
    });
    let closed = false;
    let settled = false;
    let settle!: { resolve: () => void; reject: (err: unknown) => void };
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    // Nobody may be awaiting done yet; never let it become an unhandled rejection.
    done.catch(() => undefined);
    const finish = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      this.watches.delete(watch);
      if (err && !closed) settle.reject(err);
      else settle.resolve();
    };

    // One connection per watch: a long-lived stream must not hold a pooled socket.
    const req = this.send({ method: 'GET', path, headers: this.headers(), agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* plain text error */
          }
          finish(errorFromStatus(status, body));
        });
        return;
      }
      const lines = new LineSplitter();
      const deliver = (line: string): void => {
        if (settled) return;
        let event: WatchEvent;
        try {
          event = JSON.parse(line) as WatchEvent;
        } catch {
          finish(new KubeError('InternalError', `watch ${gr}: undecodable event: ${line.slice(0, 200)}`));
          req.destroy();
          return;
        }
        if (event.type === 'ERROR') {
          finish(errorFromStatus(isStatus(event.object) ? event.object.code : 500, event.object));
          req.destroy();
          return;
        }
        try {
          handler(event);
        } catch (err) {
          finish(err);
          req.destroy();
        }
      };
      res.on('data', (chunk: Buffer) => {
        for (const line of lines.push(chunk)) deliver(line);
      });
      res.on('end', () => {
        for (const line of lines.flush()) deliver(line);
        finish();
      });
      res.on('error', (err) => finish(err));
      res.on('close', () => finish(closed ? undefined : new KubeError('InternalError', `watch ${gr}: connection closed`)));
    });
    req.on('error', (err) => finish(err));
    req.end();
    // The watch is live from resourceVersion whether or not the server has sent headers yet
    // (some servers send them with the first event), so hand it back at once; failures reject done.
    const watch: ClientWatch = {
      close: () => {
        if (closed) return;
        closed = true;
        req.destroy();
        finish();
      },
      done,
    };
    this.watches.add(watch);
    return watch;
  }

  close(): void {
    for (const w of [...this.watches]) w.close();
    this.agent.destroy();
  }
}

export function createClient(config: ClientConfig): ApiClient {
  return new HttpApiClient(config);
}
