import type { ServiceContext } from '../context.js';

export interface RunningWorkers {
  stop(): Promise<void>;
}

/** Background work of the worker process: sync jobs and webhook consumers. */
export async function startWorkers(_ctx: ServiceContext): Promise<RunningWorkers> {
  const stops: (() => Promise<void>)[] = [];
  return {
    async stop() {
      await Promise.allSettled(stops.map((stop) => stop()));
    },
  };
}
