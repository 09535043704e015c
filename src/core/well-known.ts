// Well-known names: namespaces, labels, annotations, taints, group-resource
// strings, identities and the node bridge. Every part reads them from here.

// ------------------------------------------------------------ namespaces

export const DEFAULT_NAMESPACE = 'default';
export const KUBE_SYSTEM = 'kube-system';
export const KUBE_PUBLIC = 'kube-public';
/** Where each node's heartbeat Lease lives (named after the node). */
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

// ------------------------------------------------------------ the cluster DNS Service

/** kube-system/kube-dns: the Service holding the cluster DNS address, as upstream names it. */
export const KUBE_DNS_SERVICE = 'kube-dns';
/** The label upstream's DNS add-on carries (k8s-app=kube-dns). */
export const K8S_APP_LABEL = 'k8s-app';
