// Names of the proxy's nftables objects, derived from what they stand for by
// a stable hash, so that the same Service port or endpoint always gets the
// same chain across syncs and agent restarts (a restarted agent finds its
// chains by name and adopts them). Pure. Every name is checked against the
// adapter's rules before it is returned.
import { createHash } from 'node:crypto';
import { assertObjectName } from '../nft/names.ts';

/** One Service port: namespace, name, protocol and the port's name (or number when unnamed). */
export interface ServicePortName {
  namespace: string;
  name: string;
  protocol: Protocol;
  /** spec.ports[].name, '' when the Service has one unnamed port. */
  portName: string;
}

export type Protocol = 'tcp' | 'udp' | 'sctp';

const MAX = 128;

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** `ns/name:port/proto`, the readable identity of a Service port (logs, comments). */
export function servicePortString(p: ServicePortName): string {
  return `${p.namespace}/${p.name}${p.portName ? `:${p.portName}` : ''}/${p.protocol}`;
}

/** A readable tail (namespace, name, port) cut so that the whole name fits. */
function named(prefix: string, identity: string, readable: string): string {
  const head = `${prefix}-${hash(identity)}-`;
  const tail = readable.replace(/[^a-zA-Z0-9_.-]/g, '.').slice(0, MAX - head.length);
  const out = head + tail;
  assertObjectName('chain', out);
  return out;
}

function readable(p: ServicePortName): string {
  return `${p.namespace}.${p.name}.${p.protocol}${p.portName ? `.${p.portName}` : ''}`;
}

/** The chain of one Service port (ClusterIP dispatch target). */
export function serviceChainName(p: ServicePortName): string {
  return named('svc', servicePortString(p), readable(p));
}

/** The chain of one endpoint of one Service port. */
export function endpointChainName(p: ServicePortName, ip: string, port: number): string {
  return named('ep', `${servicePortString(p)}@${ip}:${port}`, `${readable(p)}.${ip.replace(/:/g, '.')}.${port}`);
}

/**
 * The session-affinity set (client addresses, with a timeout) of one
 * endpoint. The timeout is part of the identity: a new timeout is a new set
 * (a set's declaration cannot change in place).
 */
export function affinitySetName(p: ServicePortName, ip: string, port: number, timeoutSeconds: number): string {
  const n = named('aff', `${servicePortString(p)}@${ip}:${port}/${timeoutSeconds}s`, `${readable(p)}.${ip.replace(/:/g, '.')}.${port}`);
  assertObjectName('set', n);
  return n;
}

/** The chain of one Service port's external traffic (NodePort, externalIPs, LoadBalancer ingress). */
export function externalChainName(p: ServicePortName): string {
  return named('ext', servicePortString(p), readable(p));
}

/** The chain of one Service port's loadBalancerSourceRanges check (traffic to its LoadBalancer ingress addresses). */
export function firewallChainName(p: ServicePortName): string {
  return named('fw', servicePortString(p), readable(p));
}
