// What long-running commands share: a structured logger and a clean shutdown on signals.
import { pino, type Logger } from 'pino';

export function createLogger(component: string): Logger {
  return pino({ name: `meshlet-${component}`, level: process.env.MESHLET_LOG_LEVEL ?? 'info' });
}

/**
 * Runs stop once on SIGTERM/SIGINT, then exits 0 (1 if stop failed).
 * A second signal exits at once.
 */
export function exitOnSignals(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
