#!/usr/bin/env bash
# A three-node meshlet lab named "demo" with the example workload applied.
# Run through `npm run demo` (which runs scripts/setup.sh first). Leaves the lab up.
set -euo pipefail
cd "$(dirname "$0")/.."

meshlet() { node bin/meshlet.js "$@"; }
step() { printf '\n== %s\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
  echo "demo: the lab creates network namespaces: run as root" >&2
  exit 1
fi

step "removing an earlier demo lab, if any"
meshlet lab down --name demo

step "starting a 3-node lab"
meshlet lab up --nodes 3 --name demo
export KUBECONFIG
KUBECONFIG=$(meshlet lab kubeconfig --name demo)
kubectl_() { kubectl --cache-dir "$(dirname "$KUBECONFIG")/kube-cache" "$@"; }

step "kubectl apply -f deploy/examples/"
kubectl_ apply -f deploy/examples/

step "waiting for the pods to be Ready (scheduler → node agent → sandbox, IP, process → readiness probe)"
for _ in $(seq 1 120); do
  ready=$(kubectl_ get pods -n demo --no-headers 2>/dev/null | grep -c ' 1/1 \+Running ' || true)
  ((ready >= 3)) && break
  sleep 0.5
done

step "kubectl get nodes -o wide"
kubectl_ get nodes -o wide
step "kubectl get ns"
kubectl_ get ns
step "kubectl get deploy,rs,pods,svc,endpoints,netpol,cm -n demo -o wide"
kubectl_ get deploy,rs,pods,svc,endpoints,networkpolicies,configmaps -n demo -o wide

step "node-1's underlay, seen from inside its namespace"
meshlet lab exec --name demo node/node-1 -- ip -4 -br addr show eth0
meshlet lab exec --name demo node/node-1 -- ping -c1 -W2 172.31.0.12

step "node-1's overlay: one route, neighbour and FDB entry per other node"
meshlet lab exec --name demo node/node-1 -- ip route show dev mlvx1
meshlet lab exec --name demo node/node-1 -- ip neigh show dev mlvx1
meshlet lab exec --name demo node/node-1 -- bridge fdb show dev mlvx1

probe_node=$(kubectl_ get pod probe -n demo -o jsonpath='{.spec.nodeName}')
probe_ip=$(kubectl_ get pod probe -n demo -o jsonpath='{.status.podIP}')
step "pod to pod: demo/probe ($probe_ip on $probe_node, label access=true) reaches each web pod by IP"
for web in $(kubectl_ get pods -n demo -l app=web -o jsonpath='{range .items[*]}{.metadata.name}={.status.podIP}@{.spec.nodeName}{"\n"}{end}'); do
  name=${web%%=*}; rest=${web#*=}; ip=${rest%@*}; node=${rest#*@}
  echo "-- $name $ip on $node ($([[ $node == "$probe_node" ]] && echo same node || echo cross-node))"
  meshlet lab exec --name demo demo/probe -- curl -s -o /dev/null -w "HTTP %{http_code} from $ip:8080\n" --max-time 5 "http://$ip:8080/"
done

step "cluster DNS from a pod: dig +search web (answered by meshlet dns on the pod's own node, no conntrack)"
meshlet lab exec --name demo demo/probe -- cat /etc/resolv.conf
meshlet lab exec --name demo demo/probe -- dig +search +noall +answer web
meshlet lab exec --name demo demo/probe -- getent hosts "web.demo.svc.cluster.local"

step "service proxy: demo/probe reaches the web Service by name and ClusterIP (nftables dispatch, a random ready endpoint)"
for _ in 1 2 3; do
  meshlet lab exec --name demo demo/probe -- curl -s -o /dev/null -w "HTTP %{http_code} from web:80 (%{remote_ip})\n" --max-time 5 "http://web/"
done

step "NetworkPolicy: web-allow-access admits only access=true pods to the web pods on 8080/TCP"
kubectl_ run stranger -n demo --image=busybox --restart=Never -- sleep infinity
kubectl_ wait -n demo --for=condition=Ready pod/stranger --timeout=60s
web_pod=$(kubectl_ get pods -n demo -l app=web -o jsonpath='{.items[0].metadata.name}')
web_ip=$(kubectl_ get pod -n demo "$web_pod" -o jsonpath='{.status.podIP}')
echo "-- demo/stranger (no access label) → $web_pod $web_ip:8080"
meshlet lab exec --name demo demo/stranger -- curl -s -o /dev/null -w "HTTP %{http_code}\n" --max-time 3 "http://$web_ip:8080/" || echo "no answer: denied, as the policy says"
echo "-- why (meshlet netpol explain, the same model the agents' nftables sets come from):"
meshlet netpol explain --from demo/stranger --to "demo/$web_pod" --port 8080/TCP
meshlet netpol explain --from demo/probe --to "demo/$web_pod" --port 8080/TCP
echo "-- what was denied (meshlet netpol denials, NFLOG records from every node's agent):"
meshlet netpol denials --lab demo | tail -n 3

step "a Job runs to completion (batch/v1: the Job controller, then the scheduler and a node agent)"
kubectl_ create job hello -n demo --image=busybox -- sh -c 'echo hello from a Job'
kubectl_ wait -n demo --for=condition=complete job/hello --timeout=60s
kubectl_ get job hello -n demo

step "resource limits: each pod has its own cgroup; a container over its 48Mi memory limit is OOMKilled"
kubectl_ apply -f - <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: hog, namespace: demo}
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: python
    command: [python3, -c, "b = b'x' * (256 << 20)"]
    resources: {limits: {memory: 48Mi}}
YAML
for _ in $(seq 1 60); do
  reason=$(kubectl_ get pod hog -n demo -o jsonpath='{.status.containerStatuses[0].state.terminated.reason}' 2>/dev/null || true)
  [[ -n $reason ]] && break
  sleep 0.5
done
kubectl_ get pod hog -n demo
kubectl_ get pod hog -n demo -o jsonpath='terminated: reason={.status.containerStatuses[0].state.terminated.reason} exitCode={.status.containerStatuses[0].state.terminated.exitCode}{"\n"}'

step "kubectl top (metrics.k8s.io: the API server reads each node agent's cgroup figures)"
for _ in $(seq 1 30); do kubectl_ top pods -n demo >/dev/null 2>&1 && break; sleep 1; done
kubectl_ top nodes || true
kubectl_ top pods -n demo --containers || true

step "kubectl autoscale: a HorizontalPodAutoscaler (autoscaling/v2) on the web Deployment's CPU, read from metrics.k8s.io"
kubectl_ autoscale deployment web -n demo --cpu-percent=80 --min=2 --max=4
for _ in $(seq 1 30); do
  kubectl_ get hpa web -n demo -o jsonpath='{.status.currentMetrics[0].resource.current.averageUtilization}' 2>/dev/null | grep -q . && break
  sleep 1
done
kubectl_ get hpa web -n demo

step "kubectl exec (WebSocket through the API server to the node agent, into the pod's namespaces)"
kubectl_ exec -n demo probe -- sh -c 'echo "hello from $(hostname)"; ip -4 -br addr show eth0'

step "kubectl logs (proxied by the API server from the node agent)"
kubectl_ logs -n demo -l app=web --tail=3 --prefix || true

cat <<EOT

The demo lab is up and stays up.
  export KUBECONFIG=$KUBECONFIG
  kubectl get nodes -o wide
  kubectl get all -n demo
  npx meshlet lab status --name demo
  npx meshlet lab exec --name demo node/node-2 -- ip route
  npx meshlet lab exec --name demo demo/probe -- ip -4 addr
Tear it down with:
  npx meshlet lab down --name demo
EOT
