import { loadConfig } from '../config.js';
import { createContext, closeContext } from './context.js';
import { failStartup, onShutdown } from './lifecycle.js';
import { startApi } from './server.js';

async function main() {
  const config = loadConfig();
  const ctx = await createContext(config);
  const api = await startApi(ctx);
  ctx.logger.info({ url: api.url, docs: `${api.url}/docs` }, 'API listening');
  onShutdown(ctx.logger, async () => {
    await api.stop();
    await closeContext(ctx);
  });
}

main().catch(failStartup);
