import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine, parseHostPort, integerOption, UsageError, listOption } from '../../src/cli/args.ts';
import { COMMANDS, mainHelp } from '../../src/cli/commands.ts';
import { podNetworkPool } from '../../src/cli/server.ts';
import { podNetworkConfig } from '../../src/cli/agent.ts';

test('no arguments, --help, -h and help print the main help', () => {
  for (const argv of [[], ['--help'], ['-h'], ['help']]) {
    const r = parseCommandLine(argv);
    assert.equal(r.kind, 'help');
    if (r.kind === 'help') assert.equal(r.text, mainHelp());
  }
  for (const c of COMMANDS) assert.match(mainHelp(), new RegExp(`\\b${c.name}\\b`));
});

test('unknown commands are usage errors', () => {
  const r = parseCommandLine(['frobnicate']);
  assert.equal(r.kind, 'usage-error');
  if (r.kind === 'usage-error') {
    assert.match(r.message, /unknown command "frobnicate"/);
    assert.match(r.usage, /Usage: meshlet <command>/);
  }
  assert.equal(parseCommandLine(['lab', 'sideways']).kind, 'usage-error');
  assert.equal(parseCommandLine(['lab']).kind, 'usage-error');
  // "up" alone is a subcommand of lab, not a command.
  assert.equal(parseCommandLine(['up']).kind, 'usage-error');
});

test('per-command help', () => {
  const r = parseCommandLine(['lab', 'up', '--help']);
  assert.equal(r.kind, 'help');
  if (r.kind === 'help') assert.match(r.text, /--nodes N/);
  const g = parseCommandLine(['lab', '--help']);
  assert.equal(g.kind, 'help');
  if (g.kind === 'help') assert.match(g.text, /lab up/);
  const h = parseCommandLine(['help', 'server']);
  assert.equal(h.kind, 'help');
  if (h.kind === 'help') assert.match(h.text, /--no-controllers/);
});

test('server options', () => {
  const r = parseCommandLine(['server', '--redis', 'auto', '--listen', '127.0.0.1:0', '--no-controllers']);
  assert.deepEqual(r, {
    kind: 'run',
    command: 'server',
    options: { redis: 'auto', listen: '127.0.0.1:0', 'no-controllers': true },
    positionals: [],
    rest: [],
  });
});

test('unknown options and stray arguments are usage errors', () => {
  const a = parseCommandLine(['server', '--bogus']);
  assert.equal(a.kind, 'usage-error');
  const b = parseCommandLine(['lab', 'up', 'extra']);
  assert.equal(b.kind, 'usage-error');
  if (b.kind === 'usage-error') assert.match(b.message, /unexpected argument "extra"/);
  assert.equal(parseCommandLine(['get']).kind, 'usage-error');
  assert.equal(parseCommandLine(['server', '--', 'x']).kind, 'usage-error');
});

test('lab exec keeps everything after -- verbatim, including option-looking words', () => {
  const r = parseCommandLine(['lab', 'exec', '--name', 'x1', 'node/node-1', '--', 'ip', '-4', 'addr', '--help']);
  assert.deepEqual(r, {
    kind: 'run',
    command: 'lab exec',
    options: { name: 'x1' },
    positionals: ['node/node-1'],
    rest: ['ip', '-4', 'addr', '--help'],
  });
  assert.equal(parseCommandLine(['lab', 'exec', 'node/node-1']).kind, 'usage-error');
});

test('short options and repeated -f', () => {
  const r = parseCommandLine(['apply', '-f', 'a.yaml', '-f', 'dir', '-n', 'demo']);
  assert.equal(r.kind, 'run');
  if (r.kind === 'run') {
    assert.deepEqual(listOption(r.options, 'filename'), ['a.yaml', 'dir']);
    assert.equal(r.options.namespace, 'demo');
  }
  const g = parseCommandLine(['get', 'pods', '-A', '-o', 'yaml']);
  assert.equal(g.kind, 'run');
  if (g.kind === 'run') {
    assert.deepEqual(g.positionals, ['pods']);
    assert.equal(g.options['all-namespaces'], true);
    assert.equal(g.options.output, 'yaml');
  }
});

test('host:port parsing', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:6443'), { host: '127.0.0.1', port: 6443 });
  assert.deepEqual(parseHostPort(':0'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseHostPort('[::1]:8080'), { host: '::1', port: 8080 });
  assert.throws(() => parseHostPort('127.0.0.1'), UsageError);
  assert.throws(() => parseHostPort('127.0.0.1:70000'), UsageError);
});

test('integer options are range-checked', () => {
  assert.equal(integerOption({}, 'nodes', 1, 16, 2), 2);
  assert.equal(integerOption({ nodes: '16' }, 'nodes', 1, 16, 2), 16);
  assert.throws(() => integerOption({ nodes: '17' }, 'nodes', 1, 16, 2), /from 1 to 16/);
  assert.throws(() => integerOption({ nodes: '2x' }, 'nodes', 1, 16, 2), UsageError);
  assert.throws(() => integerOption({ nodes: '0' }, 'nodes', 1, 16, 2), UsageError);
});

test('pod-network options: the subnet pool is the server\'s; the agent takes no store address', () => {
  const s = parseCommandLine(['server', '--cluster-cidr', '10.9.0.0/16', '--node-subnet-size', '26', '--subnet-lease-ttl', '30']);
  assert.equal(s.kind, 'run');
  if (s.kind === 'run') {
    assert.deepEqual(podNetworkPool({ ...s }), { clusterCidr: '10.9.0.0/16', nodeSubnetSize: 26, leaseTtlMs: 30_000 });
  }
  assert.deepEqual(podNetworkPool({ kind: 'run', command: 'server', options: {}, positionals: [], rest: [] }), { clusterCidr: '10.244.0.0/16', nodeSubnetSize: 24 });
  assert.throws(() => podNetworkPool({ kind: 'run', command: 'server', options: { 'cluster-cidr': '10.9.0.1/16' }, positionals: [], rest: [] }), /--cluster-cidr/);
  for (const gone of ['--redis', '--node-subnet-size', '--subnet-lease-ttl']) {
    const a = parseCommandLine(['agent', '--node-name', 'n1', '--server', 'unix:///x', '--token', 't', gone, 'x']);
    assert.equal(a.kind, 'usage-error', `agent ${gone}`);
  }
  const a = parseCommandLine(['agent', '--node-name', 'n1', '--server', 'unix:///x', '--token', 't', '--cluster-cidr', '10.9.0.0/16']);
  assert.equal(a.kind, 'run');
  if (a.kind === 'run') {
    assert.equal(podNetworkConfig(a, '/d', '172.31.0.11')?.clusterCidr, '10.9.0.0/16', 'pod networking is on by default');
    assert.equal(podNetworkConfig({ ...a, options: { ...a.options, 'no-pod-network': true } }, '/d', '172.31.0.11'), undefined);
  }
});
