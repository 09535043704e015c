// Reads the host facts a Node reports (imperative: os, /proc, /etc).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { NodeFacts } from './node-object.ts';

function readTrimmed(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** PRETTY_NAME from /etc/os-release. */
export function osImage(): string {
  const text = readTrimmed('/etc/os-release');
  const m = /^PRETTY_NAME=(?:"([^"]*)"|(.*))$/m.exec(text);
  return m ? (m[1] ?? m[2] ?? 'Linux') : 'Linux';
}

/** The first non-internal IPv4 address of this (network namespace's) interfaces. */
export function firstIPv4(): string | undefined {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

export function hostFacts(nodeName: string, nodeIP: string, healthPort: number): NodeFacts {
  return {
    nodeName,
    nodeIP,
    hostname: nodeName,
    cpus: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    kernelVersion: os.release(),
    osImage: osImage(),
    arch: process.arch,
    bootID: readTrimmed('/proc/sys/kernel/random/boot_id'),
    machineID: readTrimmed('/etc/machine-id'),
    healthPort,
  };
}
