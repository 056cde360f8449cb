import type { Logger } from '../platform/logger.js';

/**
 * Runs `stop` once on SIGTERM/SIGINT, then exits; a stuck stop, or a second signal a second or more after
 * the first (someone pressing Ctrl-C again), exits at once. Copies of the first signal arriving together
 * (a supervisor and the terminal both passing on one Ctrl-C) are not a second signal.
 */
export function onShutdown(logger: Logger, stop: () => Promise<void>, graceMs = 20_000): void {
  let stoppingSince: number | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince >= 1000) process.exit(1);
      return;
    }
    stoppingSince = Date.now();
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
