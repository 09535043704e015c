// `meshlet lab ...`: option handling and output around src/lab/.
import { existsSync } from 'node:fs';
import { labDown } from '../lab/down.ts';
import { execInNetns, resolveExecNetns } from '../lab/exec.ts';
import { DEFAULT_LAB_NAME, LAB_TOLERATION_SECONDS, MAX_NODES, labNameProblem, labStateDir, parseExecTarget, planLab, type LabNetworkOptions, type LabNodeLossOptions } from '../lab/plan.ts';
import { labRoot, listLabs } from '../lab/state-file.ts';
import { labList, labStatus } from '../lab/status.ts';
import { labUp } from '../lab/up.ts';
import { nodeLossOptions } from './server-node-loss.ts';
import { UsageError, booleanOption, integerOption, stringOption, type RunCommand } from './args.ts';

function labName(cmd: RunCommand): string {
  const name = stringOption(cmd.options, 'name') ?? DEFAULT_LAB_NAME;
  const problem = labNameProblem(name);
  if (problem) throw new UsageError(problem);
  return name;
}

function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('the lab creates network namespaces: run it as root');
  }
}

export async function runLabUp(cmd: RunCommand): Promise<number> {
  const name = labName(cmd);
  const nodes = integerOption(cmd.options, 'nodes', 1, MAX_NODES, 2);
  requireRoot();
  const network: LabNetworkOptions = {};
  const cidr = stringOption(cmd.options, 'cluster-cidr');
  if (cidr) network.clusterCidr = cidr;
  if (stringOption(cmd.options, 'node-subnet-size') !== undefined) network.nodeSubnetSize = integerOption(cmd.options, 'node-subnet-size', 8, 30, 24);
  if (stringOption(cmd.options, 'subnet-lease-ttl') !== undefined) network.subnetLeaseTtl = integerOption(cmd.options, 'subnet-lease-ttl', 2, 10 * 365 * 86400, 86400);
  const nodeLoss: LabNodeLossOptions = {};
  // Checked here as the server checks them, so a bad value fails before anything is built.
  const { nodeGraceMs } = nodeLossOptions(cmd.options);
  if (stringOption(cmd.options, 'node-monitor-grace-period') !== undefined) nodeLoss.nodeGraceSeconds = nodeGraceMs / 1000;
  if (stringOption(cmd.options, 'toleration-seconds') !== undefined) nodeLoss.tolerationSeconds = integerOption(cmd.options, 'toleration-seconds', 0, 10 * 365 * 86400, LAB_TOLERATION_SECONDS);
  const { plan, port } = await labUp({ name, nodes, root: labRoot(), keepOnFailure: booleanOption(cmd.options, 'keep-on-failure'), network, nodeLoss });
  process.stdout.write(
    [
      '',
      `Lab "${name}" is up: ${nodes} node(s), API on https://127.0.0.1:${port} (loopback only; its self-signed certificate is in the kubeconfig).`,
      `Kubeconfig: ${plan.kubeconfig}`,
      '',
      `  export KUBECONFIG=${plan.kubeconfig}`,
      '  kubectl get nodes -o wide',
      `  npx meshlet lab exec --name ${name} node/node-1 -- ip -4 addr`,
      `  npx meshlet lab exec --name ${name} <namespace>/<pod> -- ip -4 addr`,
      `  npx meshlet lab status --name ${name}`,
      `  npx meshlet lab down --name ${name}`,
      '',
    ].join('\n'),
  );
  return 0;
}

export async function runLabDown(cmd: RunCommand): Promise<number> {
  const name = labName(cmd);
  requireRoot();
  const result = await labDown({ name, root: labRoot() });
  return result.errors.length ? 1 : 0;
}

export async function runLabStatus(cmd: RunCommand): Promise<number> {
  const root = labRoot();
  let name = stringOption(cmd.options, 'name');
  if (name === undefined) {
    const labs = listLabs(root);
    if (labs.length !== 1) {
      process.stdout.write(await labList(root));
      return 0;
    }
    name = labs[0];
  }
  const problem = labNameProblem(name);
  if (problem) throw new UsageError(problem);
  const report = await labStatus(name, root);
  if (!report) {
    process.stderr.write(`no lab named "${name}" under ${root}\n`);
    return 1;
  }
  process.stdout.write(report.text);
  return report.healthy ? 0 : 1;
}

export async function runLabKubeconfig(cmd: RunCommand): Promise<number> {
  const name = labName(cmd);
  const plan = planLab(name, 1, labStateDir(labRoot(), name));
  if (!existsSync(plan.kubeconfig)) {
    process.stderr.write(`lab "${name}" has no kubeconfig (${plan.kubeconfig}): is it up?\n`);
    return 1;
  }
  process.stdout.write(`${plan.kubeconfig}\n`);
  return 0;
}

export async function runLabExec(cmd: RunCommand): Promise<number> {
  const name = labName(cmd);
  const targetText = cmd.positionals[0] ?? '';
  const target = parseExecTarget(targetText);
  if (!target) throw new UsageError(`"${targetText}" is not node/<node> or <namespace>/<pod>`);
  requireRoot();
  const netns = await resolveExecNetns(name, labRoot(), target);
  return execInNetns(netns, cmd.rest);
}
