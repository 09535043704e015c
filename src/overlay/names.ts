// Validation of the names and addresses that reach the kernel. Pure.

const IFNAME = /^[a-zA-Z0-9_.-]{1,15}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Throws unless `name` is a valid Linux interface name (1-15 chars of [a-zA-Z0-9_.-], not "." or ".."). */
export function validateIfName(name: string): string {
  if (typeof name !== 'string' || !IFNAME.test(name) || name === '.' || name === '..') {
    throw new Error(`invalid interface name ${JSON.stringify(name)}: 1-15 characters of [a-zA-Z0-9_.-]`);
  }
  return name;
}

/** Lower-cased "aa:bb:cc:dd:ee:ff", or throws. */
export function validateMac(mac: string): string {
  const m = typeof mac === 'string' ? mac.toLowerCase() : '';
  if (!MAC.test(m)) throw new Error(`invalid MAC address ${JSON.stringify(mac)}`);
  return m;
}
