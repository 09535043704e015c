// Reading and writing a lab's state.json (atomically: a crash never leaves half a file).
import { existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_LAB_ROOT, labNameProblem } from './plan.ts';
import { parseLabState, type LabState } from './state.ts';

export function labRoot(): string {
  return process.env.MESHLET_LAB_ROOT || DEFAULT_LAB_ROOT;
}

export function readLabState(stateFile: string): LabState | undefined {
  if (!existsSync(stateFile)) return undefined;
  try {
    return parseLabState(readFileSync(stateFile, 'utf8'));
  } catch {
    return undefined;
  }
}

export function writeLabState(stateFile: string, state: LabState): void {
  const tmp = `${stateFile}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, stateFile);
}

/** Names of the labs with a state file under the root. */
export function listLabs(root = labRoot()): string[] {
  try {
    return readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory() && labNameProblem(d.name) === undefined && existsSync(join(root, d.name, 'state.json')))
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

export function labExists(root: string, name: string): boolean {
  return existsSync(join(root, name));
}
