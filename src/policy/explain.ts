// The text of `meshlet netpol explain`: a Verdict of evaluate.ts as lines a
// user reads. Pure. Per side: which policies isolate it, which policy and
// rule admit the connection, or "denied by default: … isolated by P1, P2 and
// no rule matches"; audit-mode policies said apart ("audit: would deny").
import type { RuleRef, SideVerdict, Verdict } from './evaluate.ts';
import { parseIp } from '../core/cidr.ts';
import type { Protocol } from './model.ts';
import { PROTOCOLS } from './model.ts';

function list(names: readonly string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

const ref = (r: RuleRef, d: string): string => `${r.policy} ${d}[${r.rule}]`;

function sideLines(s: SideVerdict, self: string): string[] {
  const where = s.direction === 'egress' ? `egress at ${self}` : `ingress at ${self}`;
  if (!s.pod) return [`${where}: allowed (${s.reason.replace(/^[a-z]+: /, '')})`];
  const out: string[] = [];
  const enforcedAllow = s.allowedBy.filter((r) => !r.audit);
  const auditAllow = s.allowedBy.filter((r) => r.audit);
  if (s.ownNode) out.push(`${where}: allowed: the pod's own node always reaches it`);
  else if (s.isolatedBy.length === 0) out.push(`${where}: allowed: not isolated (no policy selects ${s.pod} for ${s.direction})`);
  else if (s.allowed) out.push(`${where}: allowed by ${list(enforcedAllow.map((r) => ref(r, s.direction)))}`, `  isolated by ${list(s.isolatedBy)}`);
  else out.push(`${where}: denied by default: ${s.pod} isolated by ${list(s.isolatedBy)} and no rule matches`);
  if (s.auditIsolatedBy.length) {
    if (!s.allowedWithAudit) out.push(`  audit: would be denied (isolated by ${list(s.auditIsolatedBy)} in audit mode and no rule matches)`);
    else out.push(`  audit: ${list(s.auditIsolatedBy)} (audit mode) would allow it${auditAllow.length ? ` by ${list(auditAllow.map((r) => ref(r, s.direction)))}` : ''}`);
  }
  return out;
}

export interface ExplainNames {
  from: string;
  to: string;
}

/** The explanation of one verdict (names: how the user named both ends). */
export function formatExplanation(v: Verdict, names: ExplainNames, port: number, protocol: Protocol): string {
  const head = `${names.from} -> ${names.to} ${port}/${protocol}: ${v.allowed ? 'ALLOWED' : 'DENIED'}${v.allowed && !v.allowedWithAudit ? ' (audit mode would deny it)' : ''}`;
  return [head, ...sideLines(v.egress, v.egress.pod ?? names.from), ...sideLines(v.ingress, v.ingress.pod ?? names.to)].join('\n') + '\n';
}

/** `80`, `80/TCP`, `53/udp` → port and protocol (TCP by default). Throws a clear error otherwise. */
export function parsePortArg(text: string): { port: number; protocol: Protocol } {
  const m = /^(\d{1,5})(?:\/([A-Za-z]+))?$/.exec(text.trim());
  const port = m ? Number(m[1]) : NaN;
  const protocol = (m?.[2] ?? 'TCP').toUpperCase() as Protocol;
  if (!m || port < 1 || port > 65535) throw new Error(`--port "${text}": PORT or PORT/PROTOCOL, PORT 1-65535`);
  if (!PROTOCOLS.includes(protocol)) throw new Error(`--port "${text}": protocol must be TCP, UDP or SCTP`);
  return { port, protocol };
}

/** `ns/pod` → its parts (both must be DNS labels/subdomains). */
export function parsePodArg(what: string, text: string): { namespace: string; name: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(text);
  if (!m) throw new Error(`${what} "${text}": NAMESPACE/POD`);
  return { namespace: m[1], name: m[3] };
}

export function parseIpArg(what: string, text: string): string {
  try {
    parseIp(text);
  } catch {
    throw new Error(`${what} "${text}": not an IP address`);
  }
  return text;
}
