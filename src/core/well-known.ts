// Well-known names, each in one place: namespaces, labels, annotations,
// taints, group-resource strings, identities and the node bridge. The
// Kubernetes ones are spelled as upstream spells them; meshlet's own
// annotations live under meshlet.io/.

// ------------------------------------------------------------ namespaces

export const DEFAULT_NAMESPACE = 'default';
export const KUBE_SYSTEM = 'kube-system';
export const KUBE_PUBLIC = 'kube-public';
/** Where each node's heartbeat Lease lives (named after the node). */
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** The namespaces every cluster has: created at start, never deletable. */
export const SYSTEM_NAMESPACES = [DEFAULT_NAMESPACE, KUBE_SYSTEM, KUBE_PUBLIC, NODE_LEASE_NAMESPACE] as const;

// ------------------------------------------------------------ group-resources (src/core/resources.ts)

export const JOBS = 'jobs.batch';
export const CRONJOBS = 'cronjobs.batch';
export const LEASES = 'leases.coordination.k8s.io';
export const ENDPOINTSLICES = 'endpointslices.discovery.k8s.io';
export const NETWORKPOLICIES = 'networkpolicies.networking.k8s.io';
export const DEPLOYMENTS = 'deployments.apps';
export const REPLICASETS = 'replicasets.apps';
export const DAEMONSETS = 'daemonsets.apps';
export const PODDISRUPTIONBUDGETS = 'poddisruptionbudgets.policy';
export const HORIZONTALPODAUTOSCALERS = 'horizontalpodautoscalers.autoscaling';
export const STATEFULSETS = 'statefulsets.apps';
export const CONTROLLERREVISIONS = 'controllerrevisions.apps';
/** The read-only resource metrics (src/core/metrics-resources.ts). */
export const NODE_METRICS = 'nodes.metrics.k8s.io';
export const POD_METRICS = 'pods.metrics.k8s.io';

// ------------------------------------------------------------ labels

/** What a Job's generated selector matches, and its pods carry (the legacy unprefixed forms too). */
export const JOB_CONTROLLER_UID_LABEL = 'batch.kubernetes.io/controller-uid';
export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';
export const LEGACY_JOB_CONTROLLER_UID_LABEL = 'controller-uid';
export const LEGACY_JOB_NAME_LABEL = 'job-name';
/** An Indexed Job's pod's index: annotation and label. */
export const JOB_COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index';
/** The time a CronJob's Job was scheduled for (RFC 3339). */
export const CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';

/** Every Namespace carries its own name under this label. */
export const METADATA_NAME_LABEL = 'kubernetes.io/metadata.name';
export const HOSTNAME_LABEL = 'kubernetes.io/hostname';
export const OS_LABEL = 'kubernetes.io/os';
export const ARCH_LABEL = 'kubernetes.io/arch';
export const BETA_OS_LABEL = 'beta.kubernetes.io/os';
export const BETA_ARCH_LABEL = 'beta.kubernetes.io/arch';
/** node-role.kubernetes.io/<role> (value ignored) names a node's role, as does the older kubernetes.io/role=<role>. */
export const NODE_ROLE_LABEL_PREFIX = 'node-role.kubernetes.io/';
export const ROLE_LABEL = 'kubernetes.io/role';
/** The label upstream's DNS add-on carries (k8s-app=kube-dns). */
export const K8S_APP_LABEL = 'k8s-app';
/** ReplicaSets and their pods carry their pod template's hash. */
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
/** DaemonSet and StatefulSet pods (and their ControllerRevisions) carry the revision's hash. */
export const CONTROLLER_REVISION_HASH_LABEL = 'controller-revision-hash';
/** A StatefulSet pod's own name and ordinal. */
export const STATEFULSET_POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';
/** An EndpointSlice names its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const ENDPOINTSLICE_MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
/** The value of ENDPOINTSLICE_MANAGED_BY_LABEL on slices the endpoints controller writes. */
export const ENDPOINTSLICE_CONTROLLER = 'endpointslice-controller.k8s.io';
/** Marks Endpoints objects the endpoints controller wrote (so it never deletes hand-made ones). */
export const ENDPOINTS_MANAGED_BY_LABEL = 'endpoints.kubernetes.io/managed-by';
export const ENDPOINTS_CONTROLLER = 'endpoint-controller';
/** Endpoints the EndpointSlice mirroring controller must not mirror (default/kubernetes' carry it, as upstream's). */
export const ENDPOINTSLICE_SKIP_MIRROR_LABEL = 'endpointslice.kubernetes.io/skip-mirror';

// ------------------------------------------------------------ annotations

export const DEPLOYMENT_REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
/** kubectl apply's record of what it applied (caches drop it: it holds a whole copy of the object). */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';
/** A node's VXLAN endpoint (like flannel's backend-data): its MAC and underlay IP. */
export const VTEP_MAC_ANNOTATION = 'meshlet.io/vtep-mac';
export const VTEP_IP_ANNOTATION = 'meshlet.io/vtep-ip';
/** Where the API server reaches a node's kubelet endpoint (container logs). */
export const KUBELET_ENDPOINT_ANNOTATION = 'meshlet.io/kubelet-endpoint';
/** The node that answers ARP for a LoadBalancer Service's address; written by the server only (src/controllers/service-lb.ts). */
export const LB_ANNOUNCER_ANNOTATION = 'meshlet.io/lb-announcer';
/** A pod's network namespace, when it is not the one its uid gives (read by `lab exec`). */
export const POD_NETNS_ANNOTATION = 'meshlet.io/netns';

// ------------------------------------------------------------ taints

export const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';
export const NOT_READY_TAINT = 'node.kubernetes.io/not-ready';
export const UNSCHEDULABLE_TAINT = 'node.kubernetes.io/unschedulable';
export const DISK_PRESSURE_TAINT = 'node.kubernetes.io/disk-pressure';
export const MEMORY_PRESSURE_TAINT = 'node.kubernetes.io/memory-pressure';
export const PID_PRESSURE_TAINT = 'node.kubernetes.io/pid-pressure';
export const NETWORK_UNAVAILABLE_TAINT = 'node.kubernetes.io/network-unavailable';

// ------------------------------------------------------------ identities

export const ADMIN_GROUP = 'system:masters';
export const NODES_GROUP = 'system:nodes';
/** A node's user name is this prefix and its node name. */
export const NODE_USER_PREFIX = 'system:node:';

// ------------------------------------------------------------ the cluster DNS Service

/** kube-system/kube-dns: the Service holding the cluster DNS address, as upstream names it. */
export const KUBE_DNS_SERVICE = 'kube-dns';
/** The cluster's DNS zone unless configured otherwise. */
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

// ------------------------------------------------------------ the API server's Service

/** default/kubernetes: the API server at the Service CIDR's first address, port 443. */
export const KUBERNETES_SERVICE = 'kubernetes';
export const KUBERNETES_SERVICE_PORT_NAME = 'https';

// ------------------------------------------------------------ node networking

/** The node bridge the pods' veths join; it holds the subnet's gateway address. */
export const BRIDGE_NAME = 'mlbr0';

/** The Node (and EndpointSlice endpoint) topology zone label (trafficDistribution PreferClose). */
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
