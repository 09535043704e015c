// Bytes in and out of the API server: bounded body reading, JSON/YAML/protobuf
// decoding, content negotiation (Table, JSON or protobuf), writing replies.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { KubeError, isKubeError } from '../core/errors.ts';
import type { Json, JsonObject, Status } from '../core/types.ts';
import { PROTOBUF_MEDIA_TYPE, canEncodeProtobuf, decodeKubeProtobuf, encodeKubeProtobuf } from './protobuf/codec.ts';

export const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;

function tooLarge(limit: number): KubeError {
  return new KubeError('RequestEntityTooLarge', `the request body is larger than ${limit} bytes`);
}

/**
 * Reads the request body, at most maxBytes. Beyond that it stops collecting and
 * rejects with 413 (the rest of the upload is discarded, not buffered).
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    return Promise.reject(tooLarge(maxBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const onData = (chunk: Buffer): void => {
      if (failed) return;
      size += chunk.length;
      if (size > maxBytes) {
        failed = true;
        chunks.length = 0;
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.once('error', (err) => {
      if (!failed) reject(new KubeError('BadRequest', `reading the request body: ${err.message}`));
      failed = true;
    });
  });
}

/** The media type without parameters, lower case ("application/json"). */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

export function isYamlMediaType(type: string): boolean {
  return type === 'application/yaml' || type === 'application/x-yaml' || type === 'text/yaml' || type === 'application/apply-patch+yaml';
}

export interface DecodeOptions {
  /** Whether a protobuf body is acceptable (not for patches, whose types are JSON). Default true. */
  protobuf?: boolean;
}

/**
 * Decodes a body: JSON; YAML when the media type says so; Kubernetes protobuf
 * (`application/vnd.kubernetes.protobuf`, which typed client-go clients such as
 * `kubectl create configmap` send) into the JSON the same object would have
 * been. Malformed → 400. Empty → undefined. Other media types → 415.
 */
export function decodeBody(body: Buffer, contentType: string | undefined, opts: DecodeOptions = {}): Json | undefined {
  const type = mediaType(contentType);
  if (type === PROTOBUF_MEDIA_TYPE && opts.protobuf !== false) {
    if (body.length === 0) return undefined;
    return decodeKubeProtobuf(body);
  }
  if (type.includes('protobuf') || type === 'application/cbor') {
    throw new KubeError(
      'UnsupportedMediaType',
      `the body of the request was in an unknown format (${type}) - accepted media types include: application/json, application/yaml${opts.protobuf !== false ? `, ${PROTOBUF_MEDIA_TYPE}` : ''}`,
    );
  }
  const text = body.toString('utf8');
  if (text.trim() === '') return undefined;
  if (isYamlMediaType(type)) {
    try {
      return parseYaml(text, { prettyErrors: false, uniqueKeys: false }) as Json;
    } catch (err) {
      throw new KubeError('BadRequest', `error decoding YAML: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new KubeError('BadRequest', `error decoding JSON: ${(err as Error).message}`);
  }
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** Whether the Accept header asks for a meta.k8s.io Table (kubectl get). */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const params = part.split(';').map((p) => p.trim().toLowerCase());
    return params.includes('as=table') && (params.includes('g=meta.k8s.io') || !params.some((p) => p.startsWith('g=')));
  });
}

export function includeObjectParam(query: URLSearchParams): IncludeObject {
  const v = query.get('includeObject');
  if (v === 'None' || v === 'Object' || v === 'Metadata') return v;
  if (v) throw new KubeError('BadRequest', `includeObject: unsupported value "${v}": use None, Metadata or Object`);
  return 'Metadata';
}

/**
 * Whether the client accepts protobuf but not JSON (e.g. `application/vnd.kubernetes.protobuf`
 * alone). kubectl and client-go list JSON too and get JSON.
 */
export function acceptsOnlyProtobuf(accept: string | undefined): boolean {
  if (!accept) return false;
  const types = accept.split(',').map((part) => mediaType(part));
  return types.includes(PROTOBUF_MEDIA_TYPE) && !types.some((t) => t === 'application/json' || t === '*/*' || t === 'application/*' || isYamlMediaType(t));
}

/** Responses whose client asked for protobuf only (set once per request by the server). */
const protobufReplies = new WeakSet<ServerResponse>();

export function negotiateReply(req: IncomingMessage, res: ServerResponse): void {
  if (acceptsOnlyProtobuf(req.headers.accept)) protobufReplies.add(res);
}

/** Writes an API object: protobuf when that is all the client accepts and the kind has a message, else JSON. */
export function writeObject(res: ServerResponse, code: number, body: unknown): void {
  if (protobufReplies.has(res) && canEncodeProtobuf(body as Json)) {
    const bytes = encodeKubeProtobuf(body as JsonObject);
    res.writeHead(code, { 'Content-Type': PROTOBUF_MEDIA_TYPE, 'Content-Length': bytes.length });
    res.end(bytes);
    return;
  }
  writeJson(res, code, body);
}

export function writeJson(res: ServerResponse, code: number, body: unknown, contentType = 'application/json'): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function writeText(res: ServerResponse, code: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Any error as a Status; non-KubeErrors become 500 InternalError. */
export function toStatus(err: unknown): Status {
  if (isKubeError(err)) return err.toStatus();
  return new KubeError('InternalError', `Internal error occurred: ${(err as Error)?.message ?? String(err)}`).toStatus();
}

export function writeStatus(res: ServerResponse, status: Status): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // As kube-apiserver does: a Status that says when to retry says it in the header too.
  const retryAfter = status.details?.retryAfterSeconds;
  if (retryAfter !== undefined && retryAfter > 0) res.setHeader('Retry-After', String(retryAfter));
  writeObject(res, status.code, status);
}

/** A Success Status (e.g. the reply to pods/binding). */
export function successStatus(code: number): { kind: 'Status'; apiVersion: 'v1'; metadata: Record<string, never>; status: 'Success'; code: number } {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code };
}
