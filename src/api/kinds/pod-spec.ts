// The pod spec rules shared by Pods and the pod templates of Deployments and
// ReplicaSets: validation, defaults and strategic-merge list keys. Pure.
import { isDns1123Label, isDns1123Subdomain, isIanaSvcName } from '../../core/names.ts';
import type { StatusCause } from '../../core/types.ts';
import {
  DNS1123_LABEL_MSG,
  DNS1123_SUBDOMAIN_MSG,
  IANA_SVC_NAME_MSG,
  asList,
  asObj,
  cause,
  checkEnum,
  checkNonNegative,
  checkPortNumber,
  checkProtocol,
  defaultProtocols,
  setDefault,
  str,
  uniqueNames,
  type Obj,
} from './checks.ts';
import { byKey, prefixed, type ListStrategies } from './strategy.ts';

export const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];

function validateContainer(field: string, c: Obj, requireImage: boolean): StatusCause[] {
  const out: StatusCause[] = [];
  if (requireImage && !c.image) out.push(cause.required(`${field}.image`));
  out.push(...checkEnum(`${field}.imagePullPolicy`, c.imagePullPolicy, PULL_POLICIES));
  const portNames = new Set<string>();
  asList(c.ports).forEach((p, i) => {
    const port = asObj(p) ?? {};
    const f = `${field}.ports[${i}]`;
    out.push(...checkPortNumber(`${f}.containerPort`, port.containerPort));
    if (port.hostPort !== undefined && port.hostPort !== 0) out.push(...checkPortNumber(`${f}.hostPort`, port.hostPort));
    out.push(...checkProtocol(`${f}.protocol`, port.protocol));
    if (port.name !== undefined) {
      const n = port.name;
      if (typeof n !== 'string' || !isIanaSvcName(n)) out.push(cause.invalid(`${f}.name`, n, IANA_SVC_NAME_MSG));
      else if (portNames.has(n)) out.push(cause.duplicate(`${f}.name`, n));
      else portNames.add(n);
    }
  });
  asList(c.env).forEach((e, i) => {
    if (!str(asObj(e)?.name)) out.push(cause.required(`${field}.env[${i}].name`));
  });
  asList(c.volumeMounts).forEach((m, i) => {
    const mount = asObj(m) ?? {};
    if (!str(mount.name)) out.push(cause.required(`${field}.volumeMounts[${i}].name`));
    if (!str(mount.mountPath)) out.push(cause.required(`${field}.volumeMounts[${i}].mountPath`));
  });
  return out;
}

export function validatePodSpec(field: string, spec: unknown, opts: { requireImage: boolean; restartPolicies: readonly string[] }): StatusCause[] {
  const s = asObj(spec);
  if (!s) return [cause.required(field)];
  const out: StatusCause[] = [];
  const containers = asList(s.containers);
  if (containers.length === 0) out.push(cause.required(`${field}.containers`));
  const init = asList(s.initContainers);
  const label = (n: string): string | undefined => (isDns1123Label(n) ? undefined : DNS1123_LABEL_MSG);
  out.push(...uniqueNames(`${field}.containers`, containers, 'name', label));
  out.push(...uniqueNames(`${field}.initContainers`, init, 'name', label));
  const mainNames = new Set(containers.map((c) => str(asObj(c)?.name)));
  init.forEach((c, i) => {
    const n = str(asObj(c)?.name);
    if (n && mainNames.has(n)) out.push(cause.duplicate(`${field}.initContainers[${i}].name`, n));
  });
  containers.forEach((c, i) => out.push(...validateContainer(`${field}.containers[${i}]`, asObj(c) ?? {}, opts.requireImage)));
  init.forEach((c, i) => out.push(...validateContainer(`${field}.initContainers[${i}]`, asObj(c) ?? {}, opts.requireImage)));
  out.push(...uniqueNames(`${field}.volumes`, asList(s.volumes), 'name', label));
  out.push(...checkEnum(`${field}.restartPolicy`, s.restartPolicy, opts.restartPolicies));
  out.push(...checkEnum(`${field}.dnsPolicy`, s.dnsPolicy, DNS_POLICIES));
  out.push(...checkNonNegative(`${field}.terminationGracePeriodSeconds`, s.terminationGracePeriodSeconds));
  if (s.activeDeadlineSeconds !== undefined && !(Number.isInteger(s.activeDeadlineSeconds) && (s.activeDeadlineSeconds as number) > 0)) {
    out.push(cause.invalid(`${field}.activeDeadlineSeconds`, s.activeDeadlineSeconds, 'must be between 1 and 2147483647, inclusive'));
  }
  if (s.nodeName !== undefined && s.nodeName !== '' && (typeof s.nodeName !== 'string' || !isDns1123Subdomain(s.nodeName))) {
    out.push(cause.invalid(`${field}.nodeName`, s.nodeName, DNS1123_SUBDOMAIN_MSG));
  }
  if (s.hostname !== undefined && (typeof s.hostname !== 'string' || !isDns1123Label(s.hostname))) {
    out.push(cause.invalid(`${field}.hostname`, s.hostname, DNS1123_LABEL_MSG));
  }
  if (s.subdomain !== undefined && (typeof s.subdomain !== 'string' || !isDns1123Label(s.subdomain))) {
    out.push(cause.invalid(`${field}.subdomain`, s.subdomain, DNS1123_LABEL_MSG));
  }
  return out;
}

export function defaultPodSpec(spec: Obj): void {
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'schedulerName', 'default-scheduler');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'enableServiceLinks', true);
  for (const list of ['containers', 'initContainers']) {
    for (const c of asList(spec[list])) {
      const container = asObj(c);
      if (!container) continue;
      setDefault(container, 'imagePullPolicy', 'IfNotPresent');
      setDefault(container, 'terminationMessagePath', '/dev/termination-log');
      setDefault(container, 'terminationMessagePolicy', 'File');
      defaultProtocols(container.ports);
    }
  }
}

const CONTAINER_LISTS: ListStrategies = {
  ports: byKey('containerPort'),
  env: byKey('name'),
  volumeMounts: byKey('mountPath'),
  volumeDevices: byKey('devicePath'),
};

/** The strategic-merge list keys of a PodSpec, relative to the spec. */
export const POD_SPEC_LISTS: ListStrategies = {
  ...prefixed('containers', { '': byKey('name'), ...CONTAINER_LISTS }),
  ...prefixed('initContainers', { '': byKey('name'), ...CONTAINER_LISTS }),
  ...prefixed('ephemeralContainers', { '': byKey('name'), ...CONTAINER_LISTS }),
  volumes: byKey('name'),
  imagePullSecrets: byKey('name'),
  hostAliases: byKey('ip'),
  topologySpreadConstraints: byKey('topologyKey'),
  resourceClaims: byKey('name'),
  schedulingGates: byKey('name'),
};
