// Typed errors of the IPAM (src/overlay/ipam.ts).

/** No free pod IP is left in a node's subnet. */
export class IpPoolExhaustedError extends Error {
  readonly node: string;
  readonly subnets: string[];
  constructor(node: string, subnets: string[], size: number) {
    super(`IP pool exhausted: all ${size} pod addresses of node ${node}'s subnet ${subnets.join(',')} are allocated; release IPs of deleted pods (reclaim) or give the node a larger subnet`);
    this.name = 'IpPoolExhaustedError';
    this.node = node;
    this.subnets = subnets;
  }
}

/** No free node subnet is left in the cluster CIDR. */
export class SubnetPoolExhaustedError extends Error {
  constructor(network: string, clusterCidrs: string[], node: string) {
    super(`subnet pool exhausted: network ${network} (${clusterCidrs.join(',')}) has no free node subnet for node ${node}`);
    this.name = 'SubnetPoolExhaustedError';
  }
}

/** The node holds no (unexpired) subnet lease: lease one first, or it expired and must be re-leased. */
export class NoLeaseError extends Error {
  readonly node: string;
  constructor(node: string, what: string) {
    super(`node ${node} holds no subnet lease (${what}); call leaseSubnet first`);
    this.name = 'NoLeaseError';
    this.node = node;
  }
}

/** A reservation asked for a subnet another node holds, or the node holds a different subnet. */
export class SubnetConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SubnetConflictError';
  }
}
