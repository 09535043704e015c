// The CLI's command table: names, options and help text as plain data.
// main.ts parses against it and loads each command's module only when it runs,
// so `meshlet --help` never imports the heavy parts.

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder shown in help, e.g. URL. */
  value?: string;
  help: string;
}

export interface CommandSpec {
  /** 'server', 'lab up', ... */
  name: string;
  summary: string;
  /** The part after `meshlet <name> `. */
  usage: string;
  options: Record<string, OptionSpec>;
  minPositionals: number;
  maxPositionals: number;
  /** Accepts `-- args...` after the options. */
  rest?: boolean;
}

const labName: OptionSpec = { type: 'string', value: 'NAME', help: 'lab name (default: meshlet)' };
// Pod-network options: the server's node-IPAM controller cuts the cluster CIDR into node subnets;
// the agent needs the cluster CIDR only to tell cluster traffic from traffic it masquerades. The lab passes them on.
const clusterCidr: OptionSpec = { type: 'string', value: 'CIDR', help: 'pod network of the whole cluster (default: 10.244.0.0/16)' };
const nodeSubnetSize: OptionSpec = { type: 'string', value: 'N', help: 'prefix length of each node\'s pod subnet (default: 24)' };
const subnetLeaseTtl: OptionSpec = { type: 'string', value: 'SECONDS', help: 'TTL of a node subnet lease: renewed while the node heartbeats, withdrawn when it stays silent this long (default: 86400; short to see expiry)' };
const kubeconfig: OptionSpec = {
  type: 'string',
  value: 'PATH',
  help: 'kubeconfig to use (default: $KUBECONFIG, else the lab\'s)',
};
const namespace: OptionSpec = { type: 'string', short: 'n', value: 'NS', help: 'namespace (default: default)' };

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'server',
    summary: 'run the control plane: Redis store, API server, controllers and scheduler',
    usage: '[options]',
    options: {
      redis: { type: 'string', value: 'URL|auto', help: 'Redis URL (redis://host:port, redis+unix:///path) or auto: start a private redis-server in the data dir (default: auto)' },
      'data-dir': { type: 'string', value: 'DIR', help: 'state directory (default: /var/lib/meshlet/server)' },
      listen: { type: 'string', value: 'HOST:PORT', help: 'TCP address for the API (default: 127.0.0.1:6443; port 0 picks a free one)' },
      socket: { type: 'string', value: 'PATH', help: 'also serve the API on this unix socket' },
      'token-file': { type: 'string', value: 'PATH', help: 'static token file (CSV: token,user,uid,"groups"); default: generate one with an admin in the data dir' },
      history: { type: 'string', value: 'N', help: 'watch events kept in the store (default: the store\'s)' },
      'store-fsync': { type: 'string', value: 'always|everysec', help: 'when the private redis-server fsyncs its append-only file: before each reply (always) or once a second (default: everysec; --redis auto only)' },
      'service-cidr': { type: 'string', value: 'CIDR', help: 'where Service ClusterIPs come from (default: 10.96.0.0/16)' },
      'service-node-port-range': { type: 'string', value: 'FIRST-LAST', help: 'where Service node ports come from (default: 30000-32767)' },
      'advertise-address': { type: 'string', value: 'IP[:PORT]', help: 'where pods reach this API server: the endpoint of default/kubernetes (default: the --listen address unless loopback or any; port: the listen port)' },
      'lb-pool': { type: 'string', multiple: true, value: 'CIDR|A-B', help: 'IPv4 addresses for LoadBalancer Services (repeatable or comma-separated; without one they stay pending)' },
      'horizontal-pod-autoscaler-sync-period': { type: 'string', value: 'DURATION', help: 'how often each HorizontalPodAutoscaler is synced (Go duration, e.g. 15s, 2s; default: 15s)' },
      'netns-listen': { type: 'string', value: 'NETNS=IP:PORT', help: 'also accept API connections on IP:PORT inside network namespace NETNS, relayed to the TCP port (the lab\'s underlay)' },
      'no-controllers': { type: 'boolean', help: 'do not run the controllers' },
      'address-file': { type: 'string', value: 'PATH', help: 'write the bound addresses here as JSON once serving' },
      'no-tls': { type: 'boolean', help: 'plain http only on the TCP port (kubectl then sends no token)' },
      'no-scheduler': { type: 'boolean', help: 'do not run the scheduler' },
      'cluster-cidr': { ...clusterCidr, help: 'pod network the node-IPAM controller cuts into node subnets (default: 10.244.0.0/16)' },
      'node-subnet-size': nodeSubnetSize,
      'subnet-lease-ttl': subnetLeaseTtl,
      // Node loss (src/cli/server-node-loss.ts): node grace, default tolerations at pod admission, zone-aware eviction rates.
      'node-monitor-grace-period': { type: 'string', value: 'SECONDS', help: 'how long a node may go without a heartbeat before it is Ready=Unknown and its pods not ready (default: 40; more than the agents\' 10 s lease renewal)' },
      'default-not-ready-toleration-seconds': { type: 'string', value: 'SECONDS', help: 'how long new pods tolerate a not-ready node before they are evicted (default: 300)' },
      'default-unreachable-toleration-seconds': { type: 'string', value: 'SECONDS', help: 'how long new pods tolerate an unreachable node before they are evicted (default: 300)' },
      'node-eviction-rate': { type: 'string', value: 'PER_SECOND', help: 'lost nodes tainted for eviction per second in a healthy zone (default: 0.1)' },
      'secondary-node-eviction-rate': { type: 'string', value: 'PER_SECOND', help: 'the same in a partially disrupted zone larger than --large-cluster-size-threshold (default: 0.01; smaller zones stop)' },
      'unhealthy-zone-threshold': { type: 'string', value: 'FRACTION', help: 'share of not-Ready nodes (more than 2) that makes a zone partially disrupted (default: 0.55)' },
      'large-cluster-size-threshold': { type: 'string', value: 'N', help: 'zones with more nodes keep evicting at the secondary rate when partially disrupted (default: 50)' },
    },
    minPositionals: 0,
    maxPositionals: 0,
  },
  {
    name: 'agent',
    summary: 'run the node agent: Node and heartbeat, pod network (overlay, IPAM) and the pods bound to the node',
    usage: '--node-name NAME --server URL (--token-file PATH | --token TOKEN) [options]',
    options: {
      'node-name': { type: 'string', value: 'NAME', help: 'this node\'s name (required)' },
      server: { type: 'string', value: 'URL', help: 'API server: https://host:port, http://host:port or unix:///path/api.sock (required)' },
      'ca-file': { type: 'string', value: 'PATH', help: 'PEM of the CA that signed the server\'s certificate (https)' },
      'token-file': { type: 'string', value: 'PATH', help: 'file holding the bearer token' },
      token: { type: 'string', value: 'TOKEN', help: 'bearer token' },
      'node-ip': { type: 'string', value: 'IP', help: 'InternalIP to report (default: first non-loopback IPv4)' },
      'data-dir': { type: 'string', value: 'DIR', help: 'state directory (default: /var/lib/meshlet/agent)' },
      'health-listen': { type: 'string', value: 'ADDR', help: 'healthz/metrics listener: HOST:PORT or a unix socket path (default: <data-dir>/health.sock)' },
      'no-pod-network': { type: 'boolean', help: 'Node registration and heartbeat only: no overlay, no pod IPs, no kubelet' },
      'cluster-cidr': { ...clusterCidr, help: 'pod network of the whole cluster, as given to the server: pod traffic leaving it is masqueraded (default: 10.244.0.0/16)' },
      vni: { type: 'string', value: 'N', help: 'VXLAN network identifier (default: 1)' },
      'underlay-dev': { type: 'string', value: 'DEV', help: 'underlay device for VXLAN (default: the device holding --node-ip)' },
      'cluster-dns': { type: 'string', value: 'IP', help: 'nameserver written into pods\' resolv.conf (default: the clusterIP of kube-system/kube-dns)' },
      'netns-prefix': { type: 'string', value: 'PREFIX', help: 'prefix of pod network namespace names, ending in - (default: ml-)' },
      'service-cidr': { type: 'string', value: 'CIDR[,CIDR]', help: 'Service CIDR(s), as given to the server: the proxy rejects traffic into them that no Service port takes (default: 10.96.0.0/16)' },
      'no-proxy': { type: 'boolean', help: 'do not run the service proxy (no meshlet-proxy nftables tables)' },
      'no-lb-announcer': { type: 'boolean', help: 'never answer ARP for LoadBalancer addresses the server chose this node for' },
      'kubelet-listen': { type: 'string', value: 'ADDR', help: 'container-log endpoint for the API server: a unix socket path or HOST:PORT (:PORT binds the node IP) (default: <data-dir>/kubelet.sock)' },
      'no-node-dns': { type: 'boolean', help: 'do not run the node-local cluster DNS (meshlet dns) for this node\'s pods' },
      'no-cgroups': { type: 'boolean', help: 'run pods in the agent\'s own cgroup: no limits, no OOMKilled, no usage figures' },
      'cgroup-parent': { type: 'string', value: 'NAME', help: 'the node\'s cgroup under the agent\'s own, holding pod-<uid>/<container> (default: meshlet-<node-name>)' },
      'usage-interval': { type: 'string', value: 'SECONDS', help: 'how often pod and container CPU and memory are sampled (default: 10)' },
      'dns-upstream': { type: 'string', multiple: true, value: 'IP[:PORT]', help: 'upstream resolver for the node DNS (repeatable; default: the host\'s resolv.conf)' },
      'no-network-policy': { type: 'boolean', help: 'do not enforce NetworkPolicies (no inet meshlet-policy table, no denial records)' },
      'policy-nflog-group': { type: 'string', value: 'N', help: 'NFLOG group the policy table logs denials to, read by the agent (default: 4711)' },
      'policy-log-rate': { type: 'string', value: 'N', help: 'denied packets per second each logging rule records at most (default: 50)' },
    },
    minPositionals: 0,
    maxPositionals: 0,
  },
  {
    name: 'dns',
    summary: 'run the node-local cluster DNS, fed by the agent over a unix socket (outlives agent restarts)',
    usage: '[--listen IP[:PORT]]... [--feed-socket PATH] [options]',
    options: {
      listen: { type: 'string', multiple: true, value: 'IP[:PORT]', help: 'UDP and TCP address to serve (repeatable; default: 127.0.0.1:53)' },
      'data-dir': { type: 'string', value: 'DIR', help: 'where the feed socket, pid file and health socket go by default (default: /var/lib/meshlet/dns)' },
      'feed-socket': { type: 'string', value: 'PATH', help: 'unix socket the agent feeds the cluster data into (default: <data-dir>/feed.sock)' },
      'pid-file': { type: 'string', value: 'PATH', help: 'JSON pid file with the start time and bound addresses (default: <data-dir>/dns.pid)' },
      'health-listen': { type: 'string', value: 'ADDR', help: 'healthz/readyz/metrics: HOST:PORT or a unix socket path (default: <data-dir>/health.sock)' },
      zone: { type: 'string', value: 'DOMAIN', help: 'cluster domain (default: cluster.local)' },
      ttl: { type: 'string', value: 'SECONDS', help: 'TTL of cluster records (default: 5)' },
      pods: { type: 'string', value: 'MODE', help: 'pod records a-b-c-d.<ns>.pod.<zone>: disabled, insecure or verified (default: verified)' },
      'no-autopath': { type: 'boolean', help: 'turn the server-side search path (autopath) off' },
      search: { type: 'string', multiple: true, value: 'DOMAIN', help: 'search domains pods have after the cluster\'s three, for autopath (repeatable; default: none, as the kubelet writes)' },
      upstream: { type: 'string', multiple: true, value: 'IP[:PORT]', help: 'upstream resolver for other names (repeatable; default: the nameservers of --resolv-conf)' },
      'resolv-conf': { type: 'string', value: 'PATH', help: 'where the default upstreams come from (default: /etc/resolv.conf)' },
      'upstream-timeout': { type: 'string', value: 'MS', help: 'per-upstream deadline before the next one or SERVFAIL (default: 1000)' },
      'allow-recursion': { type: 'string', multiple: true, value: 'CIDR', help: 'clients allowed recursion (repeatable; default: loopback, --cluster-cidr and --node-ip)' },
      'cluster-cidr': { type: 'string', multiple: true, value: 'CIDR', help: 'pod network, allowed recursion by default (default: 10.244.0.0/16)' },
      'node-ip': { type: 'string', multiple: true, value: 'IP', help: 'node address, allowed recursion by default (repeatable)' },
      'dns-address': { type: 'string', multiple: true, value: 'IP', help: 'address(es) of the cluster DNS, served as ns.dns.<zone> (repeatable)' },
      'cache-size': { type: 'string', value: 'N', help: 'upstream answers kept (default: 10000)' },
      workers: { type: 'string', value: 'N', help: 'processes sharing the DNS sockets (default: 1)' },
      'drain-timeout': { type: 'string', value: 'MS', help: 'on SIGTERM, how long answers in flight may take (default: 2000)' },
      'tcp-idle-timeout': { type: 'string', value: 'MS', help: 'close idle TCP connections after (default: 10000)' },
    },
    minPositionals: 0,
    maxPositionals: 0,
  },
  {
    name: 'lab up',
    summary: 'start a whole cluster on this host, one network namespace per node',
    usage: '[--nodes N] [--name NAME]',
    options: {
      nodes: { type: 'string', value: 'N', help: 'number of nodes, 1..16 (default: 2)' },
      name: labName,
      'keep-on-failure': { type: 'boolean', help: 'leave a half-built lab in place for inspection' },
      'cluster-cidr': clusterCidr,
      'node-subnet-size': nodeSubnetSize,
      'subnet-lease-ttl': subnetLeaseTtl,
      'node-monitor-grace-period': { type: 'string', value: 'SECONDS', help: 'the server\'s node grace: a node silent this long is lost (default: 40; short to see node loss)' },
      'toleration-seconds': { type: 'string', value: 'SECONDS', help: 'how long pods tolerate a lost node before they are evicted and replaced (default: 30)' },
    },
    minPositionals: 0,
    maxPositionals: 0,
  },
  {
    name: 'lab down',
    summary: 'stop a lab and remove its namespaces, processes and state',
    usage: '[--name NAME]',
    options: { name: labName },
    minPositionals: 0,
    maxPositionals: 0,
  },
  {
    name: 'lab status',
    summary: 'show a lab\'s namespaces, processes, API health and nodes (or list the labs)',
    usage: '[--name NAME]',
    options: { name: { ...labName, help: 'lab name (default: the only lab, or list them)' } },
    minPositionals: 0,
    maxPositionals: 0,
  },
  {
    name: 'lab kubeconfig',
    summary: 'print the path of a lab\'s kubeconfig',
    usage: '[--name NAME]',
    options: { name: labName },
    minPositionals: 0,
    maxPositionals: 0,
  },
  {
    name: 'lab exec',
    summary: 'run a command in a lab node\'s (node/NAME) or pod\'s (NS/POD) network namespace',
    usage: '[--name NAME] node/<node>|<namespace>/<pod> -- <command...>',
    options: { name: labName },
    minPositionals: 1,
    maxPositionals: 1,
    rest: true,
  },
  {
    name: 'netpol serve',
    summary: 'serve TCP and UDP (and SCTP where the kernel has it) on ports, answering one known line (agnhost\'s role)',
    usage: '--port PORT[,PORT...] [--protocol tcp,udp,sctp] [--reply TEXT]',
    options: {
      port: { type: 'string', multiple: true, value: 'PORTS', help: 'ports to listen on, comma-separated or repeated (required)' },
      protocol: { type: 'string', multiple: true, value: 'PROTOS', help: 'tcp, udp, sctp, comma-separated or repeated (default: tcp,udp)' },
      reply: { type: 'string', value: 'TEXT', help: 'added to the answer "meshlet-netpol" (e.g. the pod\'s name)' },
      listen: { type: 'string', value: 'IP', help: 'address to bind (default: 0.0.0.0)' },
    },
    minPositionals: 0,
    maxPositionals: 0,
  },
  {
    name: 'netpol connect',
    summary: 'probe IP:PORT once (exit 0 connected, 1 refused or timed out, 2 unsupported), or many in parallel with --batch',
    usage: 'IP:PORT [--protocol tcp|udp|sctp] [--timeout 1s] | --batch [--timeout 1s] < JSON lines',
    options: {
      protocol: { type: 'string', value: 'PROTO', help: 'tcp, udp or sctp (default: tcp)' },
      timeout: { type: 'string', value: 'DURATION', help: 'how long to wait for the handshake or answer, e.g. 1s, 500ms (default: 1s)' },
      batch: { type: 'boolean', help: 'read {"id","host","port","protocol","timeoutMs"} or {"id","lookup"} JSON lines on stdin, probe each at once, print one JSON result line each' },
    },
    minPositionals: 0,
    maxPositionals: 1,
  },
  {
    name: 'netpol run',
    summary: 'run NetworkPolicy case files against a lab (upstream e2e topology x,y,z × a,b,c): probe, compare the 9×9 matrices',
    usage: 'CASE_FILE... [--name LAB | --nodes N] [--case NAME]... [--timeout 30s] [--json]',
    options: {
      name: { type: 'string', value: 'NAME', help: 'run in this existing lab (default: a lab of its own, removed afterwards)' },
      nodes: { type: 'string', value: 'N', help: 'nodes of its own lab (default: 3)' },
      case: { type: 'string', multiple: true, value: 'NAME', help: 'run only these cases (repeatable)' },
      timeout: { type: 'string', value: 'DURATION', help: 'how long a step polls for its expected matrices (default: 30s)' },
      'probe-timeout': { type: 'string', value: 'DURATION', help: 'how long one probe waits (default: 1s)' },
      json: { type: 'boolean', help: 'print a JSON report on stdout (progress goes to stderr)' },
      keep: { type: 'boolean', help: 'keep its own lab and the topology afterwards' },
    },
    minPositionals: 1,
    maxPositionals: 10_000,
  },
  {
    name: 'apply',
    summary: 'create or update objects from YAML/JSON files',
    usage: '-f FILE|DIR|- [-n NS]',
    options: {
      filename: { type: 'string', short: 'f', multiple: true, value: 'FILE', help: 'file, directory or - for stdin (repeatable)' },
      namespace,
      kubeconfig,
    },
    minPositionals: 0,
    maxPositionals: 0,
  },
  {
    name: 'get',
    summary: 'show objects of a kind',
    usage: 'KIND [NAME] [-n NS | -A] [-o json|yaml]',
    options: {
      namespace,
      'all-namespaces': { type: 'boolean', short: 'A', help: 'list across all namespaces' },
      output: { type: 'string', short: 'o', value: 'FORMAT', help: 'json or yaml (default: a table)' },
      kubeconfig,
    },
    minPositionals: 1,
    maxPositionals: 2,
  },
  {
    name: 'delete',
    summary: 'delete an object',
    usage: 'KIND NAME [-n NS]',
    options: { namespace, kubeconfig },
    minPositionals: 2,
    maxPositionals: 2,
  },
  {
    name: 'netpol explain',
    summary: 'is a connection allowed by NetworkPolicy, and why (the agents\' model, on the live cluster)',
    usage: '--from NS/POD (--to NS/POD | --to-ip IP) --port PORT[/PROTO] [--json]',
    options: {
      from: { type: 'string', value: 'NS/POD', help: 'the client pod' },
      'from-ip': { type: 'string', value: 'IP', help: 'the client address instead of a pod' },
      to: { type: 'string', value: 'NS/POD', help: 'the server pod' },
      'to-ip': { type: 'string', value: 'IP', help: 'the server address instead of a pod' },
      port: { type: 'string', value: 'PORT[/PROTO]', help: 'destination port and protocol TCP, UDP or SCTP (default TCP)' },
      json: { type: 'boolean', help: 'print the verdict as JSON' },
      kubeconfig,
    },
    minPositionals: 0,
    maxPositionals: 0,
  },
  {
    name: 'netpol denials',
    summary: 'connection attempts NetworkPolicy denied (or, in audit mode, would deny), from the agents',
    usage: '[--follow] [--lab NAME [--node NODE] | --agent ENDPOINT --token-file PATH] [--json]',
    options: {
      follow: { type: 'boolean', short: 'f', help: 'keep printing new records' },
      lab: { ...labName, help: 'read every node of this lab (default: the only lab, else meshlet)' },
      node: { type: 'string', value: 'NODE', help: 'only this node of the lab' },
      agent: { type: 'string', value: 'ENDPOINT', help: 'one agent\'s kubelet endpoint: unix:///path/kubelet.sock or http://host:port' },
      'token-file': { type: 'string', value: 'PATH', help: 'that node\'s API token (the endpoint accepts only it)' },
      json: { type: 'boolean', help: 'one JSON record per line' },
    },
    minPositionals: 0,
    maxPositionals: 0,
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Command groups with subcommands ("lab"). */
export function subcommandsOf(group: string): CommandSpec[] {
  return COMMANDS.filter((c) => c.name.startsWith(`${group} `));
}

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  const lines = [
    'meshlet — container networking with a Kubernetes-compatible control plane',
    '',
    'Usage: meshlet <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Run `meshlet <command> --help` for a command\'s options.',
  ];
  return lines.join('\n') + '\n';
}

export function groupHelp(group: string): string {
  const subs = subcommandsOf(group);
  const width = Math.max(...subs.map((c) => c.name.length)) + 2;
  return [
    `Usage: meshlet ${group} <${subs.map((c) => c.name.slice(group.length + 1)).join('|')}> [options]`,
    '',
    ...subs.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
  ].join('\n');
}

export function commandHelp(spec: CommandSpec): string {
  const optionLines = Object.entries(spec.options).map(([name, opt]) => {
    const flag = `${opt.short ? `-${opt.short}, ` : '    '}--${name}${opt.value ? ` ${opt.value}` : ''}`;
    return `  ${flag.padEnd(30)} ${opt.help}`;
  });
  return [
    `Usage: meshlet ${spec.name} ${spec.usage}`,
    '',
    spec.summary,
    '',
    ...(optionLines.length ? ['Options:', ...optionLines, ''] : []),
  ].join('\n');
}
