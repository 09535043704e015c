// Endpoints and EndpointSlices: address and port checks, protocol defaults and
// printers. Endpoints may be created by a PUT (as upstream allows).
import { ipFamily } from '../../core/cidr.ts';
import { isDns1123Label, isDns1123Subdomain } from '../../core/names.ts';
import type { KubeObject, StatusCause } from '../../core/types.ts';
import { DNS1123_LABEL_MSG, DNS1123_SUBDOMAIN_MSG, asList, asObj, cause, checkEnum, checkIp, checkPortNumber, checkProtocol, defaultProtocols } from './checks.ts';
import { NONE, ageCell, col, list, num, printer, record, text } from './printer.ts';
import type { KindStrategy } from './strategy.ts';

function validateEndpointPorts(field: string, ports: unknown[], portRequired: boolean): StatusCause[] {
  const out: StatusCause[] = [];
  ports.forEach((p, i) => {
    const port = asObj(p) ?? {};
    out.push(...checkPortNumber(`${field}[${i}].port`, port.port, portRequired));
    out.push(...checkProtocol(`${field}[${i}].protocol`, port.protocol));
    if (port.name !== undefined && port.name !== '' && (typeof port.name !== 'string' || !isDns1123Label(port.name))) {
      out.push(cause.invalid(`${field}[${i}].name`, port.name, DNS1123_LABEL_MSG));
    }
  });
  return out;
}

function validateEndpoints(obj: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  asList(obj.subsets).forEach((s, i) => {
    const subset = asObj(s) ?? {};
    for (const kind of ['addresses', 'notReadyAddresses']) {
      asList(subset[kind]).forEach((a, j) => out.push(...checkIp(`subsets[${i}].${kind}[${j}].ip`, asObj(a)?.ip)));
    }
    out.push(...validateEndpointPorts(`subsets[${i}].ports`, asList(subset.ports), true));
  });
  return out;
}

function validateEndpointSlice(obj: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const type = obj.addressType;
  if (type === undefined) out.push(cause.required('addressType'));
  else out.push(...checkEnum('addressType', type, ['IPv4', 'IPv6', 'FQDN']));
  asList(obj.endpoints).forEach((e, i) => {
    const addrs = asList(asObj(e)?.addresses);
    if (addrs.length === 0) out.push(cause.required(`endpoints[${i}].addresses`, 'must contain at least 1 address'));
    if (addrs.length > 100) out.push(cause.invalid(`endpoints[${i}].addresses`, addrs.length, 'must have at most 100 items'));
    addrs.forEach((a, j) => {
      const f = `endpoints[${i}].addresses[${j}]`;
      const family = ipFamily(a);
      if (type === 'IPv4' && family !== 4) out.push(cause.invalid(f, a, 'must be a valid IPv4 address'));
      if (type === 'IPv6' && family !== 6) out.push(cause.invalid(f, a, 'must be a valid IPv6 address'));
      if (type === 'FQDN' && (typeof a !== 'string' || !isDns1123Subdomain(a))) out.push(cause.invalid(f, a, DNS1123_SUBDOMAIN_MSG));
    });
  });
  out.push(...validateEndpointPorts('ports', asList(obj.ports), false));
  return out;
}

const MAX_ENDPOINTS_SHOWN = 3;

function endpointsText(ep: KubeObject): string {
  const all: string[] = [];
  for (const s of list(ep.subsets).map(record)) {
    const addrs = list(s.addresses).map((a) => text(record(a).ip));
    const ports = list(s.ports).map(record);
    if (ports.length === 0) all.push(...addrs);
    else for (const p of ports) for (const a of addrs) all.push(a.includes(':') ? `[${a}]:${num(p.port)}` : `${a}:${num(p.port)}`);
  }
  if (all.length === 0) return NONE;
  const shown = all.slice(0, MAX_ENDPOINTS_SHOWN).join(',');
  return all.length > MAX_ENDPOINTS_SHOWN ? `${shown} + ${all.length - MAX_ENDPOINTS_SHOWN} more...` : shown;
}

function sliceEndpoints(slice: KubeObject): string {
  const addrs = list(slice.endpoints).flatMap((e) => list(record(e).addresses).map(text));
  if (addrs.length === 0) return NONE;
  const shown = addrs.slice(0, MAX_ENDPOINTS_SHOWN).join(',');
  return addrs.length > MAX_ENDPOINTS_SHOWN ? `${shown} + ${addrs.length - MAX_ENDPOINTS_SHOWN} more...` : shown;
}

function slicePorts(slice: KubeObject): string {
  const ports = list(slice.ports).map(record);
  if (ports.length === 0) return NONE;
  const nums = ports.map((p) => (p.port === undefined || p.port === null ? '<unset>' : String(num(p.port))));
  return nums.join(',');
}

export const endpointsStrategy: KindStrategy = {
  groupResource: 'endpoints',
  topLevelFields: ['subsets'],
  validate: validateEndpoints,
  defaults(o) {
    for (const s of asList(o.subsets)) defaultProtocols(asObj(s)?.ports);
  },
  printer: printer([[col('Endpoints', 'Endpoints of the service.'), (o) => endpointsText(o)], ageCell]),
  createOnUpdate: true,
};

export const endpointSliceStrategy: KindStrategy = {
  groupResource: 'endpointslices.discovery.k8s.io',
  topLevelFields: ['addressType', 'endpoints', 'ports'],
  validate: validateEndpointSlice,
  defaults: (o) => defaultProtocols(o.ports),
  printer: printer([
    [col('AddressType', 'addressType specifies the type of address carried by this EndpointSlice.'), (o) => text(o.addressType)],
    [col('Ports', 'ports specifies the list of network ports exposed by each endpoint in this slice.'), (o) => slicePorts(o)],
    [col('Endpoints', 'endpoints is a list of unique endpoints in this slice.'), (o) => sliceEndpoints(o)],
    ageCell,
  ]),
};
