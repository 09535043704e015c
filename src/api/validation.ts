// Validation and defaulting of API objects, in the manner of the Kubernetes
// validators and defaulters, for the kinds in RESOURCES. Pure functions:
// validateObject returns StatusCauses (the registry turns a non-empty list
// into a 422 Invalid), applyDefaults returns a new object.
//
// Table-driven: per-kind validators/defaulters are looked up by kind in
// VALIDATORS / DEFAULTERS; the pod-spec rules are shared by Pods and the pod
// templates of Deployments and ReplicaSets. Only what meshlet acts on is
// checked; unknown fields inside a spec are not (see unknownTopLevelFields for
// fieldValidation=Strict at the top level and in metadata).

import { ipFamily, isCidr, isIp } from '../core/cidr.ts';
import { validateNetworkPolicy } from '../policy/validation.ts';
import { deepEqual } from '../core/deep-equal.ts';
import { isDns1123Label, isDns1123Subdomain, isIanaSvcName, isLabelValue, isQualifiedName } from '../core/names.ts';
import { labelSelectorRequirements, matchesLabels } from '../core/selectors.ts';
import { isKubeError } from '../core/errors.ts';
import type { ResourceInfo } from '../core/resources.ts';
import type { KubeObject, LabelSelector, StatusCause } from '../core/types.ts';
import { METADATA_NAME_LABEL } from '../core/well-known.ts';

export { isDns1123Label, isDns1123Subdomain } from '../core/names.ts';

type Obj = Record<string, unknown>;

// ------------------------------------------------------------ causes

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
}

const cause = {
  required: (field: string, detail = ''): StatusCause => ({
    reason: 'FieldValueRequired',
    message: detail ? `Required value: ${detail}` : 'Required value',
    field,
  }),
  invalid: (field: string, value: unknown, detail: string): StatusCause => ({
    reason: 'FieldValueInvalid',
    message: `Invalid value: ${show(value)}: ${detail}`,
    field,
  }),
  notSupported: (field: string, value: unknown, supported: readonly string[]): StatusCause => ({
    reason: 'FieldValueNotSupported',
    message: `Unsupported value: ${show(value)}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`,
    field,
  }),
  duplicate: (field: string, value: unknown): StatusCause => ({
    reason: 'FieldValueDuplicate',
    message: `Duplicate value: ${show(value)}`,
    field,
  }),
  forbidden: (field: string, detail: string): StatusCause => ({
    reason: 'FieldValueForbidden',
    message: `Forbidden: ${detail}`,
    field,
  }),
};

const DNS1123_LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_LABEL_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED_NAME_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const IANA_SVC_NAME_MSG = 'must be no more than 15 characters, contain only lowercase alphanumerics and \'-\', contain at least one letter, and not start, end or contain \'--\'';

function isDns1035Label(s: string): boolean {
  return isDns1123Label(s) && /^[a-z]/.test(s);
}

// ------------------------------------------------------------ JSON access

function asObj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

// ------------------------------------------------------------ IPs and CIDRs

function checkIp(field: string, value: unknown): StatusCause[] {
  return isIp(value) ? [] : [cause.invalid(field, value, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)')];
}

function checkCidr(field: string, value: unknown): StatusCause[] {
  return isCidr(value, { allowHostBits: true })
    ? []
    : [cause.invalid(field, value, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)')];
}

// ------------------------------------------------------------ shared field checks

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

function checkProtocol(field: string, value: unknown): StatusCause[] {
  if (value === undefined) return [];
  return PROTOCOLS.includes(value as (typeof PROTOCOLS)[number]) ? [] : [cause.notSupported(field, value, PROTOCOLS)];
}

function checkPortNumber(field: string, value: unknown, required = true): StatusCause[] {
  if (value === undefined || value === null) return required ? [cause.required(field)] : [];
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535
    ? []
    : [cause.invalid(field, value, 'must be between 1 and 65535, inclusive')];
}

/** An IntOrString port: a number 1–65535 or an IANA service name. */
function checkPortOrName(field: string, value: unknown): StatusCause[] {
  if (typeof value === 'string') {
    if (/^\d+$/.test(value)) return checkPortNumber(field, Number(value));
    return isIanaSvcName(value) ? [] : [cause.invalid(field, value, IANA_SVC_NAME_MSG)];
  }
  return checkPortNumber(field, value);
}

function checkEnum(field: string, value: unknown, allowed: readonly string[]): StatusCause[] {
  if (value === undefined) return [];
  return allowed.includes(value as string) ? [] : [cause.notSupported(field, value, allowed)];
}

function checkNonNegative(field: string, value: unknown): StatusCause[] {
  if (value === undefined) return [];
  return Number.isInteger(value) && (value as number) >= 0 ? [] : [cause.invalid(field, value, 'must be greater than or equal to 0')];
}

function checkLabels(field: string, labels: unknown): StatusCause[] {
  const out: StatusCause[] = [];
  for (const [key, value] of Object.entries(asObj(labels) ?? {})) {
    if (!isQualifiedName(key)) out.push(cause.invalid(field, key, QUALIFIED_NAME_MSG));
    if (typeof value !== 'string' || !isLabelValue(value)) {
      const tooLong = typeof value === 'string' && value.length > 63;
      out.push(cause.invalid(field, value, `${tooLong ? 'must be no more than 63 characters; ' : ''}${LABEL_VALUE_MSG}`));
    }
  }
  return out;
}

const ANNOTATIONS_MAX_BYTES = 256 * 1024;

function checkAnnotations(field: string, annotations: unknown): StatusCause[] {
  const out: StatusCause[] = [];
  let size = 0;
  for (const [key, value] of Object.entries(asObj(annotations) ?? {})) {
    if (!isQualifiedName(key.toLowerCase())) out.push(cause.invalid(field, key, QUALIFIED_NAME_MSG));
    if (typeof value !== 'string') out.push(cause.invalid(field, value, 'annotation values must be strings'));
    size += key.length + (typeof value === 'string' ? value.length : 0);
  }
  if (size > ANNOTATIONS_MAX_BYTES) out.push({ reason: 'FieldValueTooLong', message: `Too long: must have at most ${ANNOTATIONS_MAX_BYTES} bytes`, field });
  return out;
}

function checkSelector(field: string, sel: unknown): StatusCause[] {
  try {
    labelSelectorRequirements(sel as LabelSelector);
    return [...checkLabels(`${field}.matchLabels`, asObj(sel)?.matchLabels)];
  } catch (err) {
    if (isKubeError(err)) return [cause.invalid(field, sel, err.message)];
    throw err;
  }
}

function uniqueNames(field: string, items: unknown[], key: string, check?: (name: string) => string | undefined): StatusCause[] {
  const out: StatusCause[] = [];
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const name = str(asObj(item)?.[key]);
    const f = `${field}[${i}].${key}`;
    if (!name) {
      out.push(cause.required(f));
      return;
    }
    const problem = check?.(name);
    if (problem) out.push(cause.invalid(f, name, problem));
    if (seen.has(name)) out.push(cause.duplicate(f, name));
    seen.add(name);
  });
  return out;
}

// ------------------------------------------------------------ metadata

/** How metadata.name is checked, by group-resource; default: DNS-1123 subdomain. */
const NAME_RULES: Readonly<Record<string, { test: (s: string) => boolean; message: string }>> = {
  namespaces: { test: isDns1123Label, message: DNS1123_LABEL_MSG },
  services: { test: isDns1035Label, message: DNS1035_LABEL_MSG },
};

const SUBDOMAIN_RULE = { test: isDns1123Subdomain, message: DNS1123_SUBDOMAIN_MSG };

function groupResourceOf(info: ResourceInfo): string {
  return info.group ? `${info.resource}.${info.group}` : info.resource;
}

function validateMetadata(info: ResourceInfo, obj: KubeObject, old?: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const meta = asObj(obj.metadata);
  if (!meta) return [cause.required('metadata')];
  const name = meta.name;
  const rule = NAME_RULES[groupResourceOf(info)] ?? SUBDOMAIN_RULE;
  if (name === undefined || name === '') {
    if (!meta.generateName) out.push(cause.required('metadata.name', 'name or generateName is required'));
  } else if (typeof name !== 'string' || !rule.test(name)) {
    out.push(cause.invalid('metadata.name', name, rule.message));
  }
  const ns = meta.namespace;
  if (info.namespaced) {
    if (ns === undefined || ns === '') out.push(cause.required('metadata.namespace'));
    else if (typeof ns !== 'string' || !isDns1123Label(ns)) out.push(cause.invalid('metadata.namespace', ns, DNS1123_LABEL_MSG));
  } else if (ns) {
    out.push(cause.forbidden('metadata.namespace', 'not allowed on this type'));
  }
  out.push(...checkLabels('metadata.labels', meta.labels));
  out.push(...checkAnnotations('metadata.annotations', meta.annotations));
  asList(meta.finalizers).forEach((f, i) => {
    if (typeof f !== 'string' || !isQualifiedName(f)) out.push(cause.invalid(`metadata.finalizers[${i}]`, f, QUALIFIED_NAME_MSG));
  });
  if (old) {
    if (old.metadata.name !== meta.name) out.push(cause.invalid('metadata.name', meta.name, 'field is immutable'));
    if ((old.metadata.namespace ?? '') !== (meta.namespace ?? '')) {
      out.push(cause.invalid('metadata.namespace', meta.namespace, 'field is immutable'));
    }
    if (old.metadata.uid && meta.uid && old.metadata.uid !== meta.uid) out.push(cause.invalid('metadata.uid', meta.uid, 'field is immutable'));
  }
  return out;
}

// ------------------------------------------------------------ pods and pod templates

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
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

function validatePodSpec(field: string, spec: unknown, opts: { requireImage: boolean; restartPolicies: readonly string[] }): StatusCause[] {
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

/** Pod spec fields an update may change; everything else in spec is immutable. */
const POD_MUTABLE_SPEC_FIELDS = ['activeDeadlineSeconds', 'tolerations', 'nodeName', 'schedulingGates', 'terminationGracePeriodSeconds'];

function podSpecForComparison(spec: unknown): Obj {
  const s: Obj = { ...(asObj(spec) ?? {}) };
  for (const f of POD_MUTABLE_SPEC_FIELDS) delete s[f];
  for (const list of ['containers', 'initContainers']) {
    if (Array.isArray(s[list])) s[list] = (s[list] as unknown[]).map((c) => ({ ...(asObj(c) ?? {}), image: undefined }));
  }
  return s;
}

function validatePod(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const out = validatePodSpec('spec', obj.spec, { requireImage: true, restartPolicies: RESTART_POLICIES });
  if (old && !deepEqual(podSpecForComparison(obj.spec), podSpecForComparison(old.spec))) {
    out.push(
      cause.forbidden(
        'spec',
        'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
      ),
    );
  }
  const status = asObj(obj.status);
  if (status?.podIP !== undefined && status.podIP !== '') out.push(...checkIp('status.podIP', status.podIP));
  return out;
}

// ------------------------------------------------------------ deployments and replicasets

function validateWorkload(obj: KubeObject, old: KubeObject | undefined, withStrategy: boolean): StatusCause[] {
  const out: StatusCause[] = [];
  const spec = asObj(obj.spec);
  if (!spec) return [cause.required('spec')];
  out.push(...checkNonNegative('spec.replicas', spec.replicas));
  out.push(...checkNonNegative('spec.minReadySeconds', spec.minReadySeconds));
  out.push(...checkNonNegative('spec.revisionHistoryLimit', spec.revisionHistoryLimit));
  const selector = asObj(spec.selector);
  const template = asObj(spec.template);
  if (!selector) out.push(cause.required('spec.selector'));
  else {
    const selCauses = checkSelector('spec.selector', selector);
    out.push(...selCauses);
    const empty = Object.keys(asObj(selector.matchLabels) ?? {}).length === 0 && asList(selector.matchExpressions).length === 0;
    if (empty) out.push(cause.invalid('spec.selector', selector, 'empty selector is invalid for deployment'));
    else if (selCauses.length === 0 && template) {
      const labels = asObj(asObj(template.metadata)?.labels) as Record<string, string> | undefined;
      if (!matchesLabels(labelSelectorRequirements(selector as LabelSelector), labels)) {
        out.push(cause.invalid('spec.template.metadata.labels', labels ?? {}, '`selector` does not match template `labels`'));
      }
    }
  }
  if (!template) out.push(cause.required('spec.template'));
  else {
    out.push(...checkLabels('spec.template.metadata.labels', asObj(template.metadata)?.labels));
    out.push(...validatePodSpec('spec.template.spec', template.spec, { requireImage: false, restartPolicies: ['Always'] }));
  }
  if (withStrategy) {
    const strategy = asObj(spec.strategy);
    if (strategy) {
      out.push(...checkEnum('spec.strategy.type', strategy.type, ['Recreate', 'RollingUpdate']));
      if (strategy.type === 'Recreate' && strategy.rollingUpdate !== undefined) {
        out.push(cause.forbidden('spec.strategy.rollingUpdate', 'may not be specified when strategy `type` is \'Recreate\''));
      }
    }
    if (spec.progressDeadlineSeconds !== undefined && spec.minReadySeconds !== undefined) {
      if ((spec.progressDeadlineSeconds as number) <= (spec.minReadySeconds as number)) {
        out.push(cause.invalid('spec.progressDeadlineSeconds', spec.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
      }
    }
  }
  if (old && !deepEqual(asObj(old.spec)?.selector, spec.selector)) {
    out.push(cause.invalid('spec.selector', spec.selector, 'field is immutable'));
  }
  return out;
}

// ------------------------------------------------------------ services

const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];

function validateService(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const spec = asObj(obj.spec);
  if (!spec) return [cause.required('spec')];
  out.push(...checkEnum('spec.type', spec.type, SERVICE_TYPES));
  out.push(...checkEnum('spec.sessionAffinity', spec.sessionAffinity, ['None', 'ClientIP']));
  const type = spec.type ?? 'ClusterIP';
  const headless = spec.clusterIP === 'None';
  const ports = asList(spec.ports);
  if (ports.length === 0 && type !== 'ExternalName' && !headless) out.push(cause.required('spec.ports'));
  const names = new Set<string>();
  const keys = new Set<string>();
  ports.forEach((p, i) => {
    const port = asObj(p) ?? {};
    const f = `spec.ports[${i}]`;
    if (ports.length > 1 && !port.name) out.push(cause.required(`${f}.name`));
    if (port.name !== undefined && port.name !== '') {
      const n = port.name;
      if (typeof n !== 'string' || !isDns1123Label(n)) out.push(cause.invalid(`${f}.name`, n, DNS1123_LABEL_MSG));
      else if (names.has(n)) out.push(cause.duplicate(`${f}.name`, n));
      else names.add(n);
    }
    out.push(...checkPortNumber(`${f}.port`, port.port));
    out.push(...checkProtocol(`${f}.protocol`, port.protocol));
    if (port.targetPort !== undefined && port.targetPort !== 0) out.push(...checkPortOrName(`${f}.targetPort`, port.targetPort));
    if (port.nodePort !== undefined && port.nodePort !== 0) {
      const np = port.nodePort;
      if (!Number.isInteger(np) || (np as number) < 30000 || (np as number) > 32767) {
        out.push(cause.invalid(`${f}.nodePort`, np, 'provided port is not in the valid range. The range of valid ports is 30000-32767'));
      } else if (type === 'ClusterIP') {
        out.push(cause.forbidden(`${f}.nodePort`, 'may not be used when `type` is \'ClusterIP\''));
      }
    }
    const key = `${String(port.port)}/${String(port.protocol ?? 'TCP')}`;
    if (keys.has(key)) out.push(cause.duplicate(f, { port: port.port, protocol: port.protocol ?? 'TCP' }));
    keys.add(key);
  });
  if (spec.clusterIP !== undefined && spec.clusterIP !== '' && spec.clusterIP !== 'None') {
    out.push(...checkIp('spec.clusterIP', spec.clusterIP));
  }
  const ips = asList(spec.clusterIPs);
  ips.forEach((ip, i) => {
    if (ip !== 'None') out.push(...checkIp(`spec.clusterIPs[${i}]`, ip));
  });
  if (ips.length > 0 && spec.clusterIP !== undefined && spec.clusterIP !== '' && ips[0] !== spec.clusterIP) {
    out.push(cause.invalid('spec.clusterIPs', ips, 'element [0] must match clusterIP'));
  }
  if (type === 'ExternalName') {
    if (spec.clusterIP !== undefined && spec.clusterIP !== '') out.push(cause.forbidden('spec.clusterIP', 'may not be set for ExternalName services'));
    const en = spec.externalName;
    if (!en) out.push(cause.required('spec.externalName'));
    else if (typeof en !== 'string' || !isDns1123Subdomain(en.replace(/\.$/, ''))) out.push(cause.invalid('spec.externalName', en, DNS1123_SUBDOMAIN_MSG));
  }
  const selector = asObj(spec.selector);
  if (selector) out.push(...checkLabels('spec.selector', selector));
  asList(spec.externalIPs).forEach((ip, i) => out.push(...checkIp(`spec.externalIPs[${i}]`, ip)));
  if (old) {
    const was = asObj(old.spec)?.clusterIP;
    if (typeof was === 'string' && was !== '' && spec.clusterIP !== undefined && spec.clusterIP !== '' && spec.clusterIP !== was) {
      out.push(cause.invalid('spec.clusterIP', spec.clusterIP, 'field is immutable'));
    }
  }
  return out;
}

// ------------------------------------------------------------ nodes

function validateNode(obj: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const spec = asObj(obj.spec) ?? {};
  if (spec.podCIDR !== undefined && spec.podCIDR !== '') out.push(...checkCidr('spec.podCIDR', spec.podCIDR));
  const cidrs = asList(spec.podCIDRs);
  cidrs.forEach((c, i) => out.push(...checkCidr(`spec.podCIDRs[${i}]`, c)));
  if (cidrs.length > 0 && spec.podCIDR && cidrs[0] !== spec.podCIDR) {
    out.push(cause.invalid('spec.podCIDRs', cidrs, 'element [0] must match spec.podCIDR'));
  }
  if (cidrs.length > 2) out.push(cause.invalid('spec.podCIDRs', cidrs, 'may specify no more than one CIDR for each IP family'));
  asList(spec.taints).forEach((t, i) => {
    const taint = asObj(t) ?? {};
    if (!str(taint.key)) out.push(cause.required(`spec.taints[${i}].key`));
    else if (!isQualifiedName(taint.key as string)) out.push(cause.invalid(`spec.taints[${i}].key`, taint.key, QUALIFIED_NAME_MSG));
    if (taint.effect === undefined) out.push(cause.required(`spec.taints[${i}].effect`));
    else out.push(...checkEnum(`spec.taints[${i}].effect`, taint.effect, ['NoSchedule', 'PreferNoSchedule', 'NoExecute']));
  });
  asList(asObj(obj.status)?.addresses).forEach((a, i) => {
    const addr = asObj(a) ?? {};
    if (addr.type === 'InternalIP' || addr.type === 'ExternalIP') out.push(...checkIp(`status.addresses[${i}].address`, addr.address));
  });
  return out;
}

// ------------------------------------------------------------ network policies




// ------------------------------------------------------------ the rest

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

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

function validateConfigMap(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const data = asObj(obj.data) ?? {};
  const binary = asObj(obj.binaryData) ?? {};
  for (const [field, map] of [['data', data], ['binaryData', binary]] as const) {
    for (const [key, value] of Object.entries(map)) {
      if (key.length > 253 || !CONFIG_KEY.test(key)) {
        out.push(cause.invalid(field, key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
      }
      if (typeof value !== 'string') out.push(cause.invalid(`${field}[${key}]`, value, 'must be a string'));
    }
  }
  for (const key of Object.keys(binary)) if (key in data) out.push(cause.duplicate('data', key));
  if (old?.immutable === true && (!deepEqual(old.data, obj.data) || !deepEqual(old.binaryData, obj.binaryData) || obj.immutable !== true)) {
    out.push(cause.forbidden('data', 'field is immutable when `immutable` is set'));
  }
  return out;
}

function validateLease(obj: KubeObject): StatusCause[] {
  const spec = asObj(obj.spec) ?? {};
  const d = spec.leaseDurationSeconds;
  if (d === undefined) return [];
  return Number.isInteger(d) && (d as number) > 0 ? [] : [cause.invalid('spec.leaseDurationSeconds', d, 'must be greater than 0')];
}

function validateNamespace(obj: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  asList(asObj(obj.spec)?.finalizers).forEach((f, i) => {
    if (typeof f !== 'string' || !isQualifiedName(f)) out.push(cause.invalid(`spec.finalizers[${i}]`, f, QUALIFIED_NAME_MSG));
  });
  return out;
}

function validateEvent(obj: KubeObject): StatusCause[] {
  const involved = asObj(obj.involvedObject);
  const out: StatusCause[] = [];
  if (involved?.namespace && obj.metadata.namespace && involved.namespace !== obj.metadata.namespace) {
    out.push(cause.invalid('involvedObject.namespace', involved.namespace, 'does not match event.namespace'));
  }
  if (obj.type !== undefined && obj.type !== '') out.push(...checkEnum('type', obj.type, ['Normal', 'Warning']));
  return out;
}

type Validator = (obj: KubeObject, old?: KubeObject) => StatusCause[];

/** Kind → validator of everything outside metadata. */
const VALIDATORS: Readonly<Record<string, Validator>> = {
  Pod: validatePod,
  Deployment: (obj, old) => validateWorkload(obj, old, true),
  ReplicaSet: (obj, old) => validateWorkload(obj, old, false),
  Service: validateService,
  Node: validateNode,
  NetworkPolicy: validateNetworkPolicy,
  Endpoints: validateEndpoints,
  EndpointSlice: validateEndpointSlice,
  ConfigMap: validateConfigMap,
  Lease: validateLease,
  Namespace: validateNamespace,
  Event: validateEvent,
};

/** Kubernetes-style causes; [] when the object is valid. Pass `old` on update to check immutable fields. */
export function validateObject(info: ResourceInfo, obj: KubeObject, old?: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  if (obj.kind !== undefined && obj.kind !== info.kind) out.push(cause.invalid('kind', obj.kind, `must be ${info.kind}`));
  out.push(...validateMetadata(info, obj, old));
  out.push(...(VALIDATORS[info.kind]?.(obj, old) ?? []));
  return out;
}

// ------------------------------------------------------------ defaults

function setDefault(o: Obj, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null) o[key] = value;
}

function child(o: Obj, key: string): Obj {
  const existing = asObj(o[key]);
  if (existing) return existing;
  const created: Obj = {};
  o[key] = created;
  return created;
}

function defaultProtocols(list: unknown): void {
  for (const p of asList(list)) {
    const port = asObj(p);
    if (port) setDefault(port, 'protocol', 'TCP');
  }
}

function defaultPodSpec(spec: Obj): void {
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

function defaultWorkload(o: KubeObject, deployment: boolean): void {
  const spec = child(o, 'spec');
  setDefault(spec, 'replicas', 1);
  if (deployment) {
    const strategy = child(spec, 'strategy');
    setDefault(strategy, 'type', 'RollingUpdate');
    if (strategy.type === 'RollingUpdate') {
      const ru = child(strategy, 'rollingUpdate');
      setDefault(ru, 'maxUnavailable', '25%');
      setDefault(ru, 'maxSurge', '25%');
    }
    setDefault(spec, 'revisionHistoryLimit', 10);
    setDefault(spec, 'progressDeadlineSeconds', 600);
  }
  const template = asObj(spec.template);
  if (template) defaultPodSpec(child(template, 'spec'));
}

type Defaulter = (obj: KubeObject) => void;

/** Kind → in-place defaulter of a private copy. */
const DEFAULTERS: Readonly<Record<string, Defaulter>> = {
  Pod: (o) => {
    defaultPodSpec(child(o, 'spec'));
    setDefault(child(o, 'status'), 'phase', 'Pending');
  },
  Service: (o) => {
    const spec = child(o, 'spec');
    setDefault(spec, 'type', 'ClusterIP');
    setDefault(spec, 'sessionAffinity', 'None');
    if (spec.type !== 'ExternalName') setDefault(spec, 'internalTrafficPolicy', 'Cluster');
    if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') setDefault(spec, 'externalTrafficPolicy', 'Cluster');
    for (const p of asList(spec.ports)) {
      const port = asObj(p);
      if (!port) continue;
      setDefault(port, 'protocol', 'TCP');
      if (port.targetPort === undefined || port.targetPort === 0 || port.targetPort === '') port.targetPort = port.port;
    }
  },
  Deployment: (o) => defaultWorkload(o, true),
  ReplicaSet: (o) => defaultWorkload(o, false),
  NetworkPolicy: (o) => {
    const spec = child(o, 'spec');
    setDefault(spec, 'podSelector', {});
    if (spec.policyTypes === undefined || asList(spec.policyTypes).length === 0) {
      spec.policyTypes = spec.egress !== undefined && spec.egress !== null ? ['Ingress', 'Egress'] : ['Ingress'];
    }
    for (const r of asList(spec.ingress)) defaultProtocols(asObj(r)?.ports);
    for (const r of asList(spec.egress)) defaultProtocols(asObj(r)?.ports);
  },
  Namespace: (o) => {
    const name = o.metadata.name;
    if (name) o.metadata.labels = { ...(o.metadata.labels ?? {}), [METADATA_NAME_LABEL]: name };
    setDefault(child(o, 'spec'), 'finalizers', ['kubernetes']);
    setDefault(child(o, 'status'), 'phase', 'Active');
  },
  Endpoints: (o) => {
    for (const s of asList(o.subsets)) defaultProtocols(asObj(s)?.ports);
  },
  EndpointSlice: (o) => defaultProtocols(o.ports),
};

/** The object with the Kubernetes defaults of its kind filled in; the input is not changed. */
export function applyDefaults(info: ResourceInfo, obj: KubeObject): KubeObject {
  const copy = structuredClone(obj);
  copy.metadata = copy.metadata ?? {};
  DEFAULTERS[info.kind]?.(copy);
  return copy;
}

// ------------------------------------------------------------ strict field validation

const METADATA_FIELDS = [
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
];

/** Kind → top-level fields besides apiVersion, kind and metadata. */
const TOP_LEVEL_FIELDS: Readonly<Record<string, readonly string[]>> = {
  Pod: ['spec', 'status'],
  Service: ['spec', 'status'],
  Node: ['spec', 'status'],
  Namespace: ['spec', 'status'],
  Deployment: ['spec', 'status'],
  ReplicaSet: ['spec', 'status'],
  NetworkPolicy: ['spec'],
  Lease: ['spec'],
  ConfigMap: ['data', 'binaryData', 'immutable'],
  Endpoints: ['subsets'],
  EndpointSlice: ['addressType', 'endpoints', 'ports'],
  Event: [
    'involvedObject', 'reason', 'message', 'source', 'firstTimestamp', 'lastTimestamp', 'count', 'type', 'eventTime',
    'series', 'action', 'related', 'reportingComponent', 'reportingInstance',
  ],
};

/**
 * Fields the kind does not have, for fieldValidation=Strict: unknown top-level
 * fields ("spex") and unknown metadata fields ("metadata.lables"), sorted.
 */
export function unknownTopLevelFields(info: ResourceInfo, obj: KubeObject): string[] {
  const known = new Set(['apiVersion', 'kind', 'metadata', ...(TOP_LEVEL_FIELDS[info.kind] ?? ['spec', 'status'])]);
  const out = Object.keys(obj).filter((k) => !known.has(k));
  const meta = asObj(obj.metadata);
  if (meta) out.push(...Object.keys(meta).filter((k) => !METADATA_FIELDS.includes(k)).map((k) => `metadata.${k}`));
  return out.sort();
}
