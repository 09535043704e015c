// Reads the parts of a kubeconfig meshlet uses: the current context's server and bearer token.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import type { ClientConfig } from './types.ts';

interface KubeconfigFile {
  'current-context'?: string;
  clusters?: {
    name: string;
    cluster?: { server?: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string; 'insecure-skip-tls-verify'?: boolean };
  }[];
  contexts?: { name: string; context?: { cluster?: string; user?: string } }[];
  users?: { name: string; user?: { token?: string; tokenFile?: string } }[];
}

/** The ClientConfig of a kubeconfig's current context (or `context` when given). */
export function parseKubeconfig(text: string, baseDir: string, context?: string): ClientConfig {
  const doc = (parse(text) ?? {}) as KubeconfigFile;
  const ctxName = context ?? doc['current-context'];
  if (!ctxName) throw new Error('kubeconfig: no current-context');
  const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`kubeconfig: context "${ctxName}" not found`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`kubeconfig: cluster "${ctx.cluster ?? ''}" has no server`);
  const config: ClientConfig = { server: cluster.server };
  if (cluster['certificate-authority-data']) config.caCert = Buffer.from(cluster['certificate-authority-data'], 'base64').toString('utf8');
  else if (cluster['certificate-authority']) {
    const ca = cluster['certificate-authority'];
    config.caCert = readFileSync(isAbsolute(ca) ? ca : resolve(baseDir, ca), 'utf8');
  }
  if (cluster['insecure-skip-tls-verify']) config.insecureSkipTlsVerify = true;
  const user = ctx.user ? doc.users?.find((u) => u.name === ctx.user)?.user : undefined;
  if (user?.token) config.token = user.token;
  else if (user?.tokenFile) {
    const file = isAbsolute(user.tokenFile) ? user.tokenFile : resolve(baseDir, user.tokenFile);
    config.token = readFileSync(file, 'utf8').trim();
  }
  return config;
}

export function loadKubeconfig(path: string, context?: string): ClientConfig {
  return parseKubeconfig(readFileSync(path, 'utf8'), dirname(resolve(path)), context);
}
