import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  labNameProblem, nodeCountProblem, planLab, namespaceBatch, underlayBatch, nodeBatch, labNamespacesIn,
  labIdentities, agentCommand, serverCommand, labKubeconfig, parseExecTarget,
} from '../../src/lab/plan.ts';
import { newLabState, parseLabState } from '../../src/lab/state.ts';

test('lab names are DNS-1123 labels of at most 12 characters', () => {
  for (const ok of ['meshlet', 'a', 'lab-2', '123456789012', 'mlt0a9z']) assert.equal(labNameProblem(ok), undefined, ok);
  for (const bad of ['', 'Meshlet', '-a', 'a-', 'a_b', 'a.b', '1234567890123', 'a b', 'x/y']) {
    assert.ok(labNameProblem(bad), bad);
  }
  assert.equal(nodeCountProblem(1), undefined);
  assert.equal(nodeCountProblem(16), undefined);
  assert.ok(nodeCountProblem(0));
  assert.ok(nodeCountProblem(17));
  assert.ok(nodeCountProblem(1.5));
});

test('plan of a two-node lab', () => {
  const plan = planLab('demo', 2, '/s/demo');
  assert.equal(plan.underlayNetns, 'ml-demo-ul');
  assert.deepEqual(plan.namespaces, ['ml-demo-ul', 'ml-demo-n1', 'ml-demo-n2']);
  assert.deepEqual(
    plan.nodes.map((n) => [n.nodeName, n.netns, n.ip, n.underlayPort, n.tokenFile, n.logFile]),
    [
      ['node-1', 'ml-demo-n1', '172.31.0.11', 'n1', '/s/demo/node-1/token', '/s/demo/node-1.log'],
      ['node-2', 'ml-demo-n2', '172.31.0.12', 'n2', '/s/demo/node-2/token', '/s/demo/node-2.log'],
    ],
  );
  assert.equal(plan.apiSocket, '/s/demo/api.sock');
  assert.equal(plan.stateFile, '/s/demo/state.json');
  assert.throws(() => planLab('Bad_Name', 2, '/s'), /lab name/);
  assert.throws(() => planLab('ok', 17, '/s'), /--nodes/);
});

test('every interface name fits IFNAMSIZ and every namespace carries the lab prefix', () => {
  const plan = planLab('abcdefghijkl', 16, '/s');
  for (const ns of plan.namespaces) assert.ok(ns.startsWith('ml-abcdefghijkl-'));
  for (const n of plan.nodes) assert.ok(n.underlayPort.length <= 15);
  assert.equal(plan.nodes[15].ip, '172.31.0.26');
});

test('ip batches: namespaces, underlay bridge with veths created straight into the node namespaces, node addresses', () => {
  const plan = planLab('x', 2, '/s/x');
  assert.deepEqual(namespaceBatch(plan.namespaces), ['netns add ml-x-ul', 'netns add ml-x-n1', 'netns add ml-x-n2']);
  const ul = underlayBatch(plan);
  assert.deepEqual(ul.slice(0, 3), ['link set lo up', 'link add br0 type bridge', 'link set br0 up']);
  assert.ok(ul.includes('link add n1 type veth peer name eth0 netns ml-x-n1'));
  assert.ok(ul.includes('link set n2 master br0'));
  assert.deepEqual(nodeBatch(plan.nodes[1]), ['link set lo up', 'addr add 172.31.0.12/24 dev eth0', 'link set eth0 up']);
});

test('the lab prefix matches its own namespaces only', () => {
  const names = ['ml-demo-ul', 'ml-demo-n1', 'ml-demo-p-abc', 'ml-demo2-n1', 'ml-dem-n1', 'xml-demo-n1', 'host'];
  assert.deepEqual(labNamespacesIn('demo', names), ['ml-demo-ul', 'ml-demo-n1', 'ml-demo-p-abc']);
});

test('identities, commands and kubeconfig', () => {
  const plan = planLab('x', 2, '/s/x');
  assert.deepEqual(labIdentities(plan).map((i) => [i.user, i.groups]), [
    ['admin', ['system:masters']],
    ['system:node:node-1', ['system:nodes']],
    ['system:node:node-2', ['system:nodes']],
  ]);
  const cmd = agentCommand(plan, plan.nodes[0], '/usr/bin/node', '/repo/bin/meshlet.js');
  assert.deepEqual(cmd.slice(0, 5), ['--net=/run/netns/ml-x-n1', '--', '/usr/bin/node', '/repo/bin/meshlet.js', 'agent']);
  assert.equal(cmd[cmd.indexOf('--netns-prefix') + 1], 'ml-x-');
  // Agents hold no store address: nothing on their command line names Redis or its socket.
  assert.ok(!cmd.some((a) => /redis/i.test(a)), cmd.join(' '));
  const net = agentCommand(plan, plan.nodes[0], '/usr/bin/node', '/repo/bin/meshlet.js', { clusterCidr: '10.9.0.0/16', nodeSubnetSize: 26, subnetLeaseTtl: 10, vni: 7 });
  assert.equal(net[net.indexOf('--cluster-cidr') + 1], '10.9.0.0/16');
  assert.equal(net[net.indexOf('--vni') + 1], '7');
  assert.ok(!net.includes('--node-subnet-size') && !net.includes('--subnet-lease-ttl'), 'the subnet pool is the server\'s');
  assert.equal(cmd[cmd.indexOf('--server') + 1], 'unix:///s/x/api.sock');
  assert.equal(cmd[cmd.indexOf('--node-ip') + 1], '172.31.0.11');
  const srv = serverCommand(plan, '/repo/bin/meshlet.js');
  assert.equal(srv[srv.indexOf('--listen') + 1], '127.0.0.1:0');
  assert.equal(srv[srv.indexOf('--socket') + 1], '/s/x/api.sock');
  assert.equal(srv[srv.indexOf('--redis') + 1], 'redis+unix:///s/x/redis.sock');
  const srvNet = serverCommand(plan, '/repo/bin/meshlet.js', { clusterCidr: '10.9.0.0/16', nodeSubnetSize: 26, subnetLeaseTtl: 10 });
  assert.deepEqual(srvNet.slice(-6), ['--cluster-cidr', '10.9.0.0/16', '--node-subnet-size', '26', '--subnet-lease-ttl', '10']);
  const flag = (argv: string[], name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  assert.deepEqual([flag(srv, '--default-unreachable-toleration-seconds'), flag(srv, '--node-monitor-grace-period')], ['30', undefined], 'the lab\'s toleration, the server\'s grace');
  const srvLoss = serverCommand(plan, '/repo/bin/meshlet.js', {}, { nodeGraceSeconds: 15, tolerationSeconds: 5 });
  assert.deepEqual(['--default-not-ready-toleration-seconds', '--default-unreachable-toleration-seconds', '--node-monitor-grace-period'].map((f) => flag(srvLoss, f)), ['5', '5', '15']);
  const kc = labKubeconfig(plan, 41234, 'tok', 'PEM');
  assert.equal(kc['current-context'], 'meshlet-x');
  assert.deepEqual(kc.clusters, [
    { name: 'meshlet-x', cluster: { server: 'https://127.0.0.1:41234', 'certificate-authority-data': Buffer.from('PEM').toString('base64') } },
  ]);
  assert.deepEqual(kc.users, [{ name: 'meshlet-x-admin', user: { token: 'tok' } }]);
});

test('exec targets', () => {
  assert.deepEqual(parseExecTarget('node/node-1'), { kind: 'node', node: 'node-1' });
  assert.deepEqual(parseExecTarget('demo/web-abc'), { kind: 'pod', namespace: 'demo', pod: 'web-abc' });
  assert.deepEqual(parseExecTarget('pod/demo/web-abc'), { kind: 'pod', namespace: 'demo', pod: 'web-abc' });
  assert.equal(parseExecTarget('node-1'), undefined);
  assert.equal(parseExecTarget('node/'), undefined);
  assert.equal(parseExecTarget('a/b/c'), undefined);
});

test('a lab\'s DNS upstreams reach every agent as --dns-upstream, and survive in the lab state', () => {
  const plan = planLab('x', 2, '/s/x');
  const cmd = agentCommand(plan, plan.nodes[1], '/usr/bin/node', '/repo/bin/meshlet.js', { dnsUpstreams: ['172.31.0.11:5300', '192.0.2.53'] });
  const at = cmd.indexOf('--dns-upstream');
  assert.deepEqual(cmd.slice(at), ['--dns-upstream', '172.31.0.11:5300', '--dns-upstream', '192.0.2.53']);
  assert.ok(!agentCommand(plan, plan.nodes[1], '/usr/bin/node', '/repo/bin/meshlet.js').includes('--dns-upstream'), 'none by default');
  const s = { ...newLabState('x', 2, ['ml-x-ul'], new Date('2026-01-01T00:00:00Z')), network: { dnsUpstreams: ['172.31.0.11:5300'] } };
  assert.deepEqual(parseLabState(JSON.stringify(s)).network, { dnsUpstreams: ['172.31.0.11:5300'] });
  assert.deepEqual(parseLabState(JSON.stringify({ ...s, network: { dnsUpstreams: [53] } })).network, {}, 'not a list of strings: dropped');
});
