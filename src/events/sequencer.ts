import type { ServiceContext } from '../context.js';
import { errorMessage } from '../errors.js';
import { countChangeEvents } from '../platform/metrics.js';
import { sequenceChangeEvents } from '../store/change-events.js';

/** Most events one pass positions; a fuller pass runs again at once. */
const PASS_LIMIT = 5000;

/**
 * Gives committed change events their feed positions, every EVENTS_SEQUENCE_INTERVAL_MS, in each worker
 * process (they take turns on the sequence row). The feed route sequences too before it reads, so the
 * feed never waits for this loop; outbound deliveries follow what it positions. A failed pass (MySQL
 * away) is logged once per outage and tried again at the next tick: the events wait in the outbox.
 */
export function startSequencer(ctx: Pick<ServiceContext, 'db' | 'config' | 'logger' | 'metrics'>): () => Promise<void> {
  let stopped = false;
  let failing = false;
  let timer: NodeJS.Timeout | undefined;
  const pass = async (): Promise<void> => {
    try {
      while (!stopped && (await sequenceChangeEvents(ctx.db, PASS_LIMIT, (types) => countChangeEvents(ctx.metrics, types))) === PASS_LIMIT);
      if (failing) ctx.logger.info('change events are being sequenced again');
      failing = false;
    } catch (error) {
      if (!failing) ctx.logger.warn({ err: errorMessage(error) }, 'could not sequence change events; retrying');
      failing = true;
    }
  };
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = pass().finally(() => {
      if (!stopped) timer = setTimeout(tick, ctx.config.events.sequenceEveryMs);
    });
  };
  tick();
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    await running;
  };
}
