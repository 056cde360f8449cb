import { loadConfig } from '../config.js';
import { createContext, closeContext } from './context.js';
import { failStartup, onShutdown } from './lifecycle.js';
import { startWorkers } from './workers.js';

async function main() {
  const config = loadConfig();
  const ctx = await createContext(config);
  const workers = await startWorkers(ctx);
  ctx.logger.info('worker started');
  onShutdown(ctx.logger, async () => {
    await workers.stop();
    await closeContext(ctx);
  });
}

main().catch(failStartup);
