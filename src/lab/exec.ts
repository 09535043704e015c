// `meshlet lab exec`: run a command inside a node's (or a pod's) network namespace.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { labAdminClient } from './api.ts';
import { labNamespacePrefix, labStateDir, planLab, type ExecTarget } from './plan.ts';
import { readLabState } from './state-file.ts';
import { assertNetnsName, listNetns } from './system.ts';
import { podNetnsName } from '../kubelet/names.ts';
import { POD_NETNS_ANNOTATION } from '../core/well-known.ts';


export async function resolveExecNetns(name: string, root: string, target: ExecTarget): Promise<string> {
  const stateDir = labStateDir(root, name);
  const state = readLabState(`${stateDir}/state.json`);
  if (!state || state.nodes < 1) throw new Error(`no lab named "${name}" (looked in ${stateDir})`);
  const plan = planLab(name, state.nodes, stateDir);
  let netns: string;
  if (target.kind === 'node') {
    const node = plan.nodes.find((n) => n.nodeName === target.node);
    if (!node) throw new Error(`lab "${name}" has no node "${target.node}" (nodes: ${plan.nodes.map((n) => n.nodeName).join(', ')})`);
    netns = node.netns;
  } else {
    const client = labAdminClient(plan);
    try {
      const pod = await client.get('pods', target.namespace, target.pod);
      if (!pod) throw new Error(`pod ${target.namespace}/${target.pod} not found`);
      // The kubelet names a pod's namespace from its uid (src/kubelet/names.ts); an
      // explicit meshlet.io/netns annotation, when someone sets one, wins.
      const annotated = pod.metadata.annotations?.[POD_NETNS_ANNOTATION];
      const uid = pod.metadata.uid;
      if (!annotated && !uid) throw new Error(`pod ${target.namespace}/${target.pod} has no uid`);
      netns = annotated ?? podNetnsName(labNamespacePrefix(name), uid!);
      if (!netns.startsWith(labNamespacePrefix(name))) {
        throw new Error(`pod ${target.namespace}/${target.pod} names network namespace "${netns}", which is not this lab's`);
      }
      if (!(pod.spec as { nodeName?: string } | undefined)?.nodeName) throw new Error(`pod ${target.namespace}/${target.pod} is not scheduled yet`);
    } finally {
      client.close();
    }
  }
  assertNetnsName(netns);
  if (!(await listNetns()).includes(netns)) throw new Error(`network namespace ${netns} does not exist${target.kind === 'pod' ? ' (is the pod\'s sandbox up yet?)' : ''}`);
  return netns;
}

/** Runs argv in netns with inherited stdio; resolves to its exit code (128+signal when killed). */
export function execInNetns(netns: string, argv: readonly string[]): Promise<number> {
  assertNetnsName(netns);
  return new Promise((resolve, reject) => {
    const ignore = (): void => {};
    process.on('SIGINT', ignore);
    const child = spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: 'inherit' });
    child.once('error', (err) => {
      process.off('SIGINT', ignore);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
