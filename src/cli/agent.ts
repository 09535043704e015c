// `meshlet agent`: the node agent (for now: Node registration, heartbeat, health and metrics).
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createClient } from '../client/http-client.ts';
import { firstIPv4, hostFacts } from '../agent/host-facts.ts';
import { startHeartbeat } from '../agent/heartbeat.ts';
import { startHealthServer, type HealthListen } from '../agent/health-server.ts';
import { UsageError, parseHostPort, requiredString, stringOption, type RunCommand } from './args.ts';
import { createLogger, exitOnSignals } from './runtime.ts';

export const DEFAULT_AGENT_DATA_DIR = '/var/lib/meshlet/agent';

/** HOST:PORT is TCP; anything with a slash is a unix socket path. */
export function parseHealthListen(text: string): HealthListen {
  if (text.startsWith('unix://')) return { socketPath: text.slice('unix://'.length) };
  if (text.includes('/')) return { socketPath: text };
  return parseHostPort(text);
}

export async function runAgent(cmd: RunCommand): Promise<number | undefined> {
  const nodeName = requiredString(cmd.options, 'node-name');
  const server = requiredString(cmd.options, 'server');
  const tokenFile = stringOption(cmd.options, 'token-file');
  let token = stringOption(cmd.options, 'token');
  if (tokenFile && token) throw new UsageError('give --token-file or --token, not both');
  if (tokenFile) token = readFileSync(tokenFile, 'utf8').trim();
  if (!token) throw new UsageError('--token-file or --token is required');
  const nodeIP = stringOption(cmd.options, 'node-ip') ?? firstIPv4();
  if (!nodeIP) throw new UsageError('no IPv4 address found: give --node-ip');
  const dataDir = stringOption(cmd.options, 'data-dir') ?? DEFAULT_AGENT_DATA_DIR;
  mkdirSync(dataDir, { recursive: true });
  const healthListen = parseHealthListen(stringOption(cmd.options, 'health-listen') ?? join(dataDir, 'health.sock'));

  const logger = createLogger('agent').child({ node: nodeName });
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const caFile = stringOption(cmd.options, 'ca-file');
  const caCert = caFile ? readFileSync(caFile, 'utf8') : undefined;
  const client = createClient({ server, token, caCert, userAgent: `meshlet-agent/${nodeName}` });

  let heartbeat: ReturnType<typeof startHeartbeat> | undefined;
  const health = await startHealthServer(
    healthListen,
    () => {
      if (heartbeat?.healthy()) return { ok: true, message: 'ok' };
      const last = heartbeat?.lastSuccess();
      return { ok: false, message: last ? `last heartbeat at ${last.toISOString()}` : 'no heartbeat yet' };
    },
    metrics,
  );
  heartbeat = startHeartbeat({ client, facts: hostFacts(nodeName, nodeIP, health.port), logger, metrics });
  logger.info({ server, nodeIP, health: healthListen }, 'agent started');

  exitOnSignals(logger, async () => {
    await heartbeat?.stop();
    await health.close();
    client.close();
  });
  return undefined;
}
