// Names of the kernel objects a pod sandbox is made of, and the checks every
// name passes before it reaches `ip`. Pure.
import { createHash } from 'node:crypto';

export const DEFAULT_NETNS_PREFIX = 'ml-';
/** Host-side veths are "mlv" + 8 hex digits of the pod uid's hash (11 characters, under IFNAMSIZ). */
export const HOST_VETH_PREFIX = 'mlv';

const NETNS_NAME = /^[a-z0-9][a-z0-9-]*$/;
const NETNS_MAX = 48;
const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const IFNAME_MAX = 15;

/** 8 hex digits of sha256(uid): short, stable, collisions negligible for a node's pods. */
export function uidHash(uid: string): string {
  return createHash('sha256').update(uid).digest('hex').slice(0, 8);
}

export function isValidNetnsName(name: string): boolean {
  return name.length > 0 && name.length <= NETNS_MAX && NETNS_NAME.test(name);
}

export function isValidIfName(name: string): boolean {
  return name.length > 0 && name.length <= IFNAME_MAX && IFNAME.test(name) && name !== '.' && name !== '..';
}

/** A netns prefix: lower-case letters, digits and '-', ending in '-' (as "ml-" or "ml-lab1-"). */
export function isValidNetnsPrefix(prefix: string): boolean {
  return prefix.length <= 32 && /^[a-z0-9][a-z0-9-]*-$/.test(prefix);
}

export function checkNetnsName(name: string): string {
  if (!isValidNetnsName(name)) throw new Error(`invalid network namespace name ${JSON.stringify(name)}`);
  return name;
}

export function checkIfName(name: string): string {
  if (!isValidIfName(name)) throw new Error(`invalid interface name ${JSON.stringify(name)}`);
  return name;
}

export function podNetnsName(prefix: string, uid: string): string {
  if (!isValidNetnsPrefix(prefix)) throw new Error(`invalid netns prefix ${JSON.stringify(prefix)}`);
  return checkNetnsName(`${prefix}p-${uidHash(uid)}`);
}

export function hostVethName(uid: string): string {
  return checkIfName(`${HOST_VETH_PREFIX}${uidHash(uid)}`);
}

/** The uid hash a pod netns name carries, or undefined when the name is not one of this prefix's pod namespaces. */
export function hashOfNetns(prefix: string, netns: string): string | undefined {
  const m = netns.startsWith(`${prefix}p-`) ? /^([0-9a-f]{8})$/.exec(netns.slice(prefix.length + 2)) : null;
  return m ? m[1] : undefined;
}

/** The uid hash a host veth name carries, or undefined. */
export function hashOfHostVeth(ifname: string): string | undefined {
  const m = /^mlv([0-9a-f]{8})$/.exec(ifname);
  return m ? m[1] : undefined;
}

/** A container name as a path component: a DNS label (the API validates it; we check again before touching disk). */
export function checkContainerName(name: string): string {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63) throw new Error(`invalid container name ${JSON.stringify(name)}`);
  return name;
}

/** A pod uid as a path component. */
export function checkUid(uid: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/.test(uid)) throw new Error(`invalid pod uid ${JSON.stringify(uid)}`);
  return uid;
}
