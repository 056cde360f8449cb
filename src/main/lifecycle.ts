import type { Logger } from '../platform/logger.js';

/** Runs `stop` once on SIGTERM/SIGINT, then exits; a second signal or a stuck stop exits at once. */
export function onShutdown(logger: Logger, stop: () => Promise<void>, graceMs = 20_000): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, graceMs).unref();
    stop()
      .then(() => process.exit(0))
      .catch((err) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      });
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** Prints a start-up failure (bad configuration, unreachable database) plainly and exits non-zero. */
export function failStartup(err: unknown): never {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
