// Service environment variables, as upstream's kubelet sets them
// (pkg/kubelet/envvars and getServiceEnvVarMap): for every Service with a
// ClusterIP, <NAME>_SERVICE_HOST/_PORT/_PORT_<PORTNAME> and the Docker-link
// variables <NAME>_PORT, <NAME>_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR}.
// A pod gets those of default/kubernetes always and those of its own
// namespace's Services unless enableServiceLinks is false. Pure.
import { DEFAULT_NAMESPACE, KUBERNETES_SERVICE } from '../core/well-known.ts';

/** The parts of a Service read here (a SlimService fits). */
export interface EnvService {
  metadata: { name?: string; namespace?: string };
  spec?: { clusterIP?: string; ports?: { name?: string; port?: number; protocol?: string }[] };
}

export interface EnvVar {
  name: string;
  value: string;
}

/** Upper-cased, '-' → '_' (upstream's makeEnvVariableName). */
export function envVariableName(name: string): string {
  return name.replaceAll('-', '_').toUpperCase();
}

/** A ClusterIP is set: neither empty nor "None" (headless and ExternalName Services get no variables). */
function hasClusterIp(svc: EnvService): boolean {
  const ip = svc.spec?.clusterIP;
  return !!ip && ip !== 'None';
}

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The variables of the given Services, in their order (upstream's FromServices). Services without a ClusterIP are skipped. */
export function serviceEnvVars(services: readonly EnvService[]): EnvVar[] {
  const out: EnvVar[] = [];
  for (const svc of services) {
    if (!hasClusterIp(svc)) continue;
    const ip = svc.spec!.clusterIP!;
    const ports = svc.spec?.ports ?? [];
    const prefix = envVariableName(svc.metadata.name ?? '');
    out.push({ name: `${prefix}_SERVICE_HOST`, value: ip });
    if (ports.length > 0) out.push({ name: `${prefix}_SERVICE_PORT`, value: String(ports[0].port ?? 0) });
    for (const p of ports) {
      if (p.name) out.push({ name: `${prefix}_SERVICE_PORT_${envVariableName(p.name)}`, value: String(p.port ?? 0) });
    }
    // Docker links: the first port also under the bare <NAME>_PORT.
    for (const [i, p] of ports.entries()) {
      const proto = (p.protocol || 'TCP').toLowerCase();
      const port = p.port ?? 0;
      const url = `${proto}://${hostPort(ip, port)}`;
      if (i === 0) out.push({ name: `${prefix}_PORT`, value: url });
      const pp = `${prefix}_PORT_${port}_${proto.toUpperCase()}`;
      out.push(
        { name: pp, value: url },
        { name: `${pp}_PROTO`, value: proto },
        { name: `${pp}_PORT`, value: String(port) },
        { name: `${pp}_ADDR`, value: ip },
      );
    }
  }
  return out;
}

/**
 * A pod's Service variables (upstream's getServiceEnvVarMap): default/kubernetes always; with
 * `enableServiceLinks` (default true) every Service of the pod's namespace with a ClusterIP, one
 * named "kubernetes" there taking the place of default's. Ordered by Service name.
 */
export function podServiceEnv(services: readonly EnvService[], podNamespace: string, enableServiceLinks: boolean | undefined): Record<string, string> {
  const byName = new Map<string, EnvService>();
  for (const svc of services) {
    if (!hasClusterIp(svc)) continue;
    const name = svc.metadata.name ?? '';
    if (svc.metadata.namespace === DEFAULT_NAMESPACE && name === KUBERNETES_SERVICE) {
      if (!byName.has(name)) byName.set(name, svc);
    } else if (svc.metadata.namespace === podNamespace && enableServiceLinks !== false) {
      byName.set(name, svc);
    }
  }
  const chosen = [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s);
  return Object.fromEntries(serviceEnvVars(chosen).map((v) => [v.name, v.value]));
}
