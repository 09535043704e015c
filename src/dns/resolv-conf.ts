// The host's resolv.conf, as far as a forwarder needs it: nameservers and the
// search list. Pure: text in, data out.
import { isIP } from 'node:net';

export interface ResolvConf {
  nameservers: string[];
  search: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = [];
  let search: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (!line) continue;
    const [word, ...rest] = line.split(/\s+/);
    if (word === 'nameserver' && rest[0] && isIP(rest[0].replace(/%.*$/, ''))) nameservers.push(rest[0]);
    else if (word === 'search') search = rest.filter((d) => d !== '.');
    else if (word === 'domain' && rest[0] && search.length === 0) search = [rest[0]];
  }
  return { nameservers, search };
}
