// The feed protocol between the agent and `meshlet dns`: newline-delimited JSON
// over a unix socket. The agent sends, on connect, one `snapshot` (which replaces
// everything the DNS process holds), then `upsert`/`delete` deltas. Every message
// carries a sequence number, strictly increasing per connection (the snapshot sets
// the start). The DNS process answers each applied message with an `ack` of its
// sequence number, and an `error` (then closes) on bad input or a gap; it keeps
// serving its last data either way. Objects are slim: only what DNS reads.
//
//   → {"type":"snapshot","seq":1,"services":[…],"endpointSlices":[…],"pods":[…],"namespaces":[…]}
//   → {"type":"upsert","seq":2,"kind":"Service","object":{…}}
//   → {"type":"delete","seq":3,"kind":"Pod","namespace":"default","name":"web-0"}
//   ← {"type":"ack","seq":3}
//   ← {"type":"error","seq":4,"message":"…"}
// Pure: parsing and validation only.
import { isIP } from 'node:net';

export interface FeedPort {
  name?: string;
  port: number;
  /** TCP, UDP or SCTP. */
  protocol: string;
}

export interface FeedService {
  namespace: string;
  name: string;
  /** ClusterIP (default), NodePort, LoadBalancer or ExternalName. */
  type?: string;
  /** spec.clusterIPs (or [spec.clusterIP]); empty or ["None"] is headless. */
  clusterIPs?: string[];
  externalName?: string;
  ports?: FeedPort[];
  publishNotReadyAddresses?: boolean;
}

export interface FeedEndpoint {
  addresses: string[];
  /** conditions.ready; absent means ready (Kubernetes: nil is ready). */
  ready?: boolean;
  hostname?: string;
  /** The pod behind the endpoint (targetRef of kind Pod). */
  podName?: string;
}

export interface FeedEndpointSlice {
  namespace: string;
  name: string;
  /** The kubernetes.io/service-name label. */
  service: string;
  /** IPv4, IPv6 or FQDN (FQDN slices are ignored, as CoreDNS does). */
  addressType?: string;
  ports?: FeedPort[];
  endpoints: FeedEndpoint[];
}

export interface FeedPod {
  namespace: string;
  name: string;
  ips: string[];
  hostname?: string;
  subdomain?: string;
  /** Host-network pods share the node's IP: never used for autopath or pod records. */
  hostNetwork?: boolean;
}

export interface FeedNamespace {
  name: string;
}

export type FeedKind = 'Service' | 'EndpointSlice' | 'Pod' | 'Namespace';
export const FEED_KINDS: readonly FeedKind[] = ['Service', 'EndpointSlice', 'Pod', 'Namespace'];

export interface FeedSnapshot {
  type: 'snapshot';
  seq: number;
  services: FeedService[];
  endpointSlices: FeedEndpointSlice[];
  pods: FeedPod[];
  namespaces: FeedNamespace[];
}

export type FeedObject = FeedService | FeedEndpointSlice | FeedPod | FeedNamespace;

export type FeedUpsert =
  | { type: 'upsert'; seq: number; kind: 'Service'; object: FeedService }
  | { type: 'upsert'; seq: number; kind: 'EndpointSlice'; object: FeedEndpointSlice }
  | { type: 'upsert'; seq: number; kind: 'Pod'; object: FeedPod }
  | { type: 'upsert'; seq: number; kind: 'Namespace'; object: FeedNamespace };

export interface FeedDelete {
  type: 'delete';
  seq: number;
  kind: FeedKind;
  /** Absent for a Namespace. */
  namespace?: string;
  name: string;
}

export type FeedMessage = FeedSnapshot | FeedUpsert | FeedDelete;
export type FeedReply = { type: 'ack'; seq: number } | { type: 'error'; seq?: number; message: string };

/** Longest feed line accepted (a snapshot of a large cluster is one line). */
export const MAX_FEED_LINE = 256 * 1024 * 1024;

export class FeedError extends Error {
  constructor(message: string, readonly seq?: number) {
    super(message);
    this.name = 'FeedError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

// DNS-1123 label (namespaces, service names) and subdomain (pod/slice names).
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/i;
const HOSTNAME = /^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$/;

function str(o: Obj, field: string, where: string, re?: RegExp): string {
  const v = o[field];
  if (typeof v !== 'string' || v === '') throw new FeedError(`${where}.${field}: a non-empty string is required`);
  if (re && !re.test(v)) throw new FeedError(`${where}.${field}: ${JSON.stringify(v)} is not a valid name`);
  return v;
}
function optStr(o: Obj, field: string, where: string, re?: RegExp): string | undefined {
  if (o[field] === undefined || o[field] === null || o[field] === '') return undefined;
  return str(o, field, where, re);
}
function optBool(o: Obj, field: string, where: string): boolean | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new FeedError(`${where}.${field}: a boolean is required`);
  return v;
}
function arr(o: Obj, field: string, where: string, required = false): unknown[] {
  const v = o[field];
  if (v === undefined || v === null) {
    if (required) throw new FeedError(`${where}.${field}: an array is required`);
    return [];
  }
  if (!Array.isArray(v)) throw new FeedError(`${where}.${field}: an array is required`);
  return v;
}
function ip(v: unknown, where: string): string {
  if (typeof v !== 'string' || isIP(v) === 0) throw new FeedError(`${where}: ${JSON.stringify(v)} is not an IP address`);
  return v;
}

function ports(o: Obj, where: string): FeedPort[] {
  return arr(o, 'ports', where).map((p, i) => {
    const w = `${where}.ports[${i}]`;
    if (!isObj(p)) throw new FeedError(`${w}: an object is required`);
    const port = p.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw new FeedError(`${w}.port: an integer 0..65535 is required`);
    const protocol = optStr(p, 'protocol', w) ?? 'TCP';
    if (!['TCP', 'UDP', 'SCTP'].includes(protocol)) throw new FeedError(`${w}.protocol: TCP, UDP or SCTP`);
    const name = optStr(p, 'name', w, PORT_NAME);
    return { ...(name ? { name } : {}), port, protocol };
  });
}

export function parseService(v: unknown, where = 'service'): FeedService {
  if (!isObj(v)) throw new FeedError(`${where}: an object is required`);
  const namespace = str(v, 'namespace', where, LABEL);
  const name = str(v, 'name', where, LABEL);
  const type = optStr(v, 'type', where) ?? 'ClusterIP';
  if (!['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'].includes(type)) throw new FeedError(`${where}.type: unknown Service type ${JSON.stringify(type)}`);
  const clusterIPs = arr(v, 'clusterIPs', where).map((x, i) => (x === 'None' ? 'None' : ip(x, `${where}.clusterIPs[${i}]`)));
  const externalName = optStr(v, 'externalName', where);
  if (type === 'ExternalName' && !externalName) throw new FeedError(`${where}.externalName: required for type ExternalName`);
  const pnra = optBool(v, 'publishNotReadyAddresses', where);
  return {
    namespace, name, type, clusterIPs, ports: ports(v, where),
    ...(externalName ? { externalName } : {}),
    ...(pnra ? { publishNotReadyAddresses: true } : {}),
  };
}

export function parseEndpointSlice(v: unknown, where = 'endpointSlice'): FeedEndpointSlice {
  if (!isObj(v)) throw new FeedError(`${where}: an object is required`);
  const namespace = str(v, 'namespace', where, LABEL);
  const name = str(v, 'name', where, SUBDOMAIN);
  const service = str(v, 'service', where, LABEL);
  const addressType = optStr(v, 'addressType', where) ?? 'IPv4';
  if (!['IPv4', 'IPv6', 'FQDN'].includes(addressType)) throw new FeedError(`${where}.addressType: IPv4, IPv6 or FQDN`);
  const endpoints = arr(v, 'endpoints', where).map((e, i): FeedEndpoint => {
    const w = `${where}.endpoints[${i}]`;
    if (!isObj(e)) throw new FeedError(`${w}: an object is required`);
    const addresses = arr(e, 'addresses', w, true).map((a, j) => (addressType === 'FQDN' ? String(a) : ip(a, `${w}.addresses[${j}]`)));
    const ready = optBool(e, 'ready', w);
    const hostname = optStr(e, 'hostname', w, HOSTNAME);
    const podName = optStr(e, 'podName', w, SUBDOMAIN);
    return { addresses, ...(ready === false ? { ready } : {}), ...(hostname ? { hostname } : {}), ...(podName ? { podName } : {}) };
  });
  return { namespace, name, service, addressType, ports: ports(v, where), endpoints };
}

export function parsePod(v: unknown, where = 'pod'): FeedPod {
  if (!isObj(v)) throw new FeedError(`${where}: an object is required`);
  const namespace = str(v, 'namespace', where, LABEL);
  const name = str(v, 'name', where, SUBDOMAIN);
  const ips = arr(v, 'ips', where).map((x, i) => ip(x, `${where}.ips[${i}]`));
  const hostname = optStr(v, 'hostname', where, HOSTNAME);
  const subdomain = optStr(v, 'subdomain', where, LABEL);
  const hostNetwork = optBool(v, 'hostNetwork', where);
  return { namespace, name, ips, ...(hostname ? { hostname } : {}), ...(subdomain ? { subdomain } : {}), ...(hostNetwork ? { hostNetwork } : {}) };
}

export function parseNamespace(v: unknown, where = 'namespace'): FeedNamespace {
  if (!isObj(v)) throw new FeedError(`${where}: an object is required`);
  return { name: str(v, 'name', where, LABEL) };
}

/** Parses and validates one feed line. Throws FeedError with the message's seq when it has one. */
export function parseFeedLine(line: string): FeedMessage {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new FeedError(`not JSON: ${(err as Error).message}`);
  }
  if (!isObj(v)) throw new FeedError('a JSON object is required');
  const seq = v.seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) throw new FeedError('seq: a non-negative integer is required');
  try {
    switch (v.type) {
      case 'snapshot':
        return {
          type: 'snapshot',
          seq,
          services: arr(v, 'services', 'snapshot').map((s, i) => parseService(s, `services[${i}]`)),
          endpointSlices: arr(v, 'endpointSlices', 'snapshot').map((s, i) => parseEndpointSlice(s, `endpointSlices[${i}]`)),
          pods: arr(v, 'pods', 'snapshot').map((s, i) => parsePod(s, `pods[${i}]`)),
          namespaces: arr(v, 'namespaces', 'snapshot').map((s, i) => parseNamespace(s, `namespaces[${i}]`)),
        };
      case 'upsert': {
        const o = v.object;
        switch (v.kind) {
          case 'Service': return { type: 'upsert', seq, kind: 'Service', object: parseService(o) };
          case 'EndpointSlice': return { type: 'upsert', seq, kind: 'EndpointSlice', object: parseEndpointSlice(o) };
          case 'Pod': return { type: 'upsert', seq, kind: 'Pod', object: parsePod(o) };
          case 'Namespace': return { type: 'upsert', seq, kind: 'Namespace', object: parseNamespace(o) };
          default: throw new FeedError(`kind: one of ${FEED_KINDS.join(', ')}`);
        }
      }
      case 'delete': {
        const kind = v.kind as FeedKind;
        if (!FEED_KINDS.includes(kind)) throw new FeedError(`kind: one of ${FEED_KINDS.join(', ')}`);
        const name = str(v, 'name', 'delete');
        if (kind === 'Namespace') return { type: 'delete', seq, kind, name };
        return { type: 'delete', seq, kind, namespace: str(v, 'namespace', 'delete'), name };
      }
      default:
        throw new FeedError('type: snapshot, upsert or delete');
    }
  } catch (err) {
    if (err instanceof FeedError) throw new FeedError(err.message, seq);
    throw err;
  }
}
