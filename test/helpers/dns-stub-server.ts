// A stub upstream DNS server as its own process, so a test can run it inside a
// lab's network namespace (`ip netns exec <ns> node --import tsx <this> ...`).
// It answers A queries for the names it is given (TTL 300), NXDOMAIN with an SOA
// for everything else, and prints one JSON line per query received on stdout
// ({"name": "...", "type": "A"}) after a first line {"listening": port}, so the
// test counts exactly what reached the upstream.
//
//   node --import tsx test/helpers/dns-stub-server.ts HOST PORT '{"www.example.com":"192.0.2.7"}'
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import dnsPacket from 'dns-packet';

const [host, portText, recordsJson] = process.argv.slice(2);
const port = Number(portText);
if (!host || !isIP(host) || !Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write('usage: dns-stub-server.ts HOST PORT [RECORDS_JSON]\n');
  process.exit(2);
}
const records = new Map<string, string>(Object.entries(JSON.parse(recordsJson ?? '{}') as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));

const sock = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
sock.on('message', (msg, r) => {
  let q: dnsPacket.Packet;
  try {
    q = dnsPacket.decode(msg);
  } catch {
    return;
  }
  const question = q.questions?.[0];
  if (!question) return;
  const name = question.name.toLowerCase().replace(/\.$/, '');
  process.stdout.write(`${JSON.stringify({ name, type: question.type })}\n`);
  const ip = records.get(name);
  const answers: dnsPacket.Answer[] = ip && question.type === 'A' ? [{ name, type: 'A', ttl: 300, class: 'IN', data: ip }] : [];
  const rcode = ip ? 0 : 3;
  sock.send(dnsPacket.encode({
    type: 'response', id: q.id, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode,
    questions: [question], answers,
    authorities: answers.length ? [] : [{ name: 'example.com', type: 'SOA', ttl: 60, class: 'IN', data: { mname: 'ns.example.com', rname: 'h.example.com', serial: 1, refresh: 60, retry: 60, expire: 60, minimum: 30 } }],
  }), r.port, r.address);
});
sock.bind(port, host, () => process.stdout.write(`${JSON.stringify({ listening: sock.address().port })}\n`));
process.on('SIGTERM', () => sock.close(() => process.exit(0)));
