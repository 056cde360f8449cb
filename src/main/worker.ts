import { loadConfig } from '../config.js';
import { createContext, closeContext } from './context.js';
import { failStartup, onShutdown } from './lifecycle.js';
import { startMetricsServer } from './metrics-server.js';
import { startWorkers } from './workers.js';

async function main() {
  const config = loadConfig();
  const ctx = await createContext(config);
  const workers = await startWorkers(ctx);
  const { port, host } = config.workerMetrics;
  const metrics = port === null ? undefined : await startMetricsServer(ctx, port, host);
  ctx.logger.info({ metrics: metrics ? `${metrics.url}/metrics` : 'off (set WORKER_METRICS_PORT)' }, 'worker started');
  onShutdown(ctx.logger, async () => {
    await metrics?.stop();
    await workers.stop();
    await closeContext(ctx);
  });
}

main().catch(failStartup);
