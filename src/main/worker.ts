import { loadConfig } from '../config.js';
import { startTokenMaintenance } from '../connection/token-migration.js';
import { createContext, closeContext } from './context.js';
import { loadEnvFile } from './env-file.js';
import { logFeatures, workerFeatures } from './features.js';
import { failStartup, onShutdown } from './lifecycle.js';
import { startMetricsServer } from './metrics-server.js';
import { startWorkers, workerConfig } from './workers.js';

async function main() {
  const envFile = loadEnvFile();
  const config = loadConfig();
  const ctx = await createContext(workerConfig(config));
  const workers = await startWorkers(ctx);
  // Non-expiring OAuth tokens are exchanged for expiring pairs (Shopify invalidates them on 2027-01-01).
  const stopTokenMaintenance = startTokenMaintenance(ctx);
  const { port, host } = config.workerMetrics;
  const metrics = port === null ? undefined : await startMetricsServer(ctx, port, host);
  logFeatures(ctx.logger, workerFeatures(config, metrics ? `${metrics.url}/metrics` : undefined), envFile);
  ctx.logger.info({ metrics: metrics ? `${metrics.url}/metrics` : 'off (set WORKER_METRICS_PORT)' }, 'worker started');
  onShutdown(ctx.logger, async () => {
    await metrics?.stop();
    await stopTokenMaintenance();
    await workers.stop();
    await closeContext(ctx);
  });
}

main().catch(failStartup);
