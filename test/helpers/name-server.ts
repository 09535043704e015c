// The lab tests' simplest server pod: a Python TCP server on one port that
// answers every connection with its pod's name (one line) and closes it, so a
// client sees which endpoint it reached.
import type { KubeObject } from '../../src/core/types.ts';

export function nameServerScript(port: number): string {
  return `
import socketserver, sys
name = sys.argv[1].encode() + b'\\n'
class H(socketserver.BaseRequestHandler):
    def handle(self): self.request.sendall(name)
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(('0.0.0.0', ${port}), H).serve_forever()
`;
}

/** A pod bound to `node` serving nameServerScript(port); `portName` names its container port. */
export function nameServerPod(opts: { name: string; namespace: string; node: string; port: number; labels: Record<string, string>; portName?: string }): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: opts.name, namespace: opts.namespace, labels: opts.labels },
    spec: {
      nodeName: opts.node,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'srv', image: 'python', command: ['python3', '-c', nameServerScript(opts.port), opts.name], ports: [{ containerPort: opts.port, ...(opts.portName ? { name: opts.portName } : {}) }] }],
    },
  };
}
