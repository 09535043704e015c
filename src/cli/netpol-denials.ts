// `meshlet netpol denials [--follow]`: the denial records of the agents (their
// kubelet endpoint's /policyDenials, authenticated with the node's token as
// the API server's log proxy is). Sources: every node of a lab (--lab, its
// sockets and token files), or one agent endpoint (--agent, --token-file).
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { DEFAULT_LAB_NAME, labStateDir, planLab } from '../lab/plan.ts';
import { labRoot, listLabs, readLabState } from '../lab/state-file.ts';
import { formatDenial, type DenialRecord } from '../policy/denials.ts';
import { UsageError, booleanOption, stringOption, type RunCommand } from './args.ts';

interface Source {
  node: string;
  /** unix socket path, or http://host:port */
  endpoint: { socketPath: string } | { url: URL };
  token: string;
}

function labSources(name: string, node: string | undefined): Source[] {
  const dir = labStateDir(labRoot(), name);
  const plan0 = planLab(name, 1, dir);
  const state = readLabState(plan0.stateFile);
  if (!state) throw new UsageError(`no lab named "${name}" under ${labRoot()}`);
  const nodes = planLab(name, state.nodes, dir).nodes.filter((n) => !node || n.nodeName === node);
  if (!nodes.length) throw new UsageError(`lab "${name}" has no node "${node}"`);
  return nodes.map((n) => ({ node: n.nodeName, endpoint: { socketPath: n.kubeletSocket }, token: readFileSync(n.tokenFile, 'utf8').trim() }));
}

function agentSource(agent: string, tokenFile: string | undefined): Source {
  if (!tokenFile) throw new UsageError('--agent needs --token-file (the node\'s API token)');
  const token = readFileSync(tokenFile, 'utf8').trim();
  if (agent.startsWith('unix://') || agent.startsWith('/')) return { node: agent, endpoint: { socketPath: agent.replace(/^unix:\/\//, '') }, token };
  let url: URL;
  try {
    url = new URL(agent);
  } catch {
    throw new UsageError(`--agent "${agent}": unix:///path/kubelet.sock or http://host:port`);
  }
  if (url.protocol !== 'http:') throw new UsageError(`--agent "${agent}": unix:///path/kubelet.sock or http://host:port`);
  return { node: url.host, endpoint: { url }, token };
}

function open(src: Source, follow: boolean): Promise<IncomingMessage> {
  const path = `/policyDenials${follow ? '?follow=true' : ''}`;
  const headers = { authorization: `Bearer ${src.token}` };
  return new Promise((resolve, reject) => {
    const req = 'socketPath' in src.endpoint
      ? httpRequest({ socketPath: src.endpoint.socketPath, path, headers })
      : httpRequest({ host: src.endpoint.url.hostname, port: src.endpoint.url.port, path, headers });
    req.on('response', (res) => {
      if (res.statusCode === 200) return resolve(res);
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => reject(new Error(`${src.node}: HTTP ${res.statusCode} ${body.trim()}`)));
    });
    req.on('error', (err) => reject(new Error(`${src.node}: ${err.message}`)));
    req.end();
  });
}

/** Calls onRecord for each JSON line of the response; resolves when it ends. */
function readLines(res: IncomingMessage, onRecord: (r: DenialRecord) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (line) onRecord(JSON.parse(line) as DenialRecord);
      }
    });
    res.on('end', resolve);
    res.on('error', reject);
  });
}

export async function runNetpolDenials(cmd: RunCommand): Promise<number> {
  const follow = booleanOption(cmd.options, 'follow');
  const json = booleanOption(cmd.options, 'json');
  const agent = stringOption(cmd.options, 'agent');
  const lab = stringOption(cmd.options, 'lab');
  if (agent && lab) throw new UsageError('give --lab or --agent, not both');
  const sources = agent
    ? [agentSource(agent, stringOption(cmd.options, 'token-file'))]
    : labSources(lab ?? (listLabs().length === 1 ? listLabs()[0] : DEFAULT_LAB_NAME), stringOption(cmd.options, 'node'));
  const print = (r: DenialRecord): void => {
    process.stdout.write(json ? `${JSON.stringify(r)}\n` : `${formatDenial(r)}\n`);
  };
  const responses = await Promise.all(sources.map((s) => open(s, follow)));
  if (follow) {
    await Promise.all(responses.map((res) => readLines(res, print)));
    return 0;
  }
  const all: DenialRecord[] = [];
  await Promise.all(responses.map((res) => readLines(res, (r) => all.push(r))));
  all.sort((a, b) => a.time.localeCompare(b.time));
  for (const r of all) print(r);
  return 0;
}
