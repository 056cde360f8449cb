import { loadConfig } from '../config.js';
import { createContext, closeContext } from './context.js';
import { loadEnvFile } from './env-file.js';
import { apiFeatures, logFeatures } from './features.js';
import { failStartup, onShutdown } from './lifecycle.js';
import { startApi } from './server.js';

async function main() {
  const envFile = loadEnvFile();
  const config = loadConfig();
  const ctx = await createContext(config);
  const api = await startApi(ctx);
  logFeatures(ctx.logger, apiFeatures(config), envFile);
  ctx.logger.info({ url: api.url, docs: `${api.url}/docs` }, `API listening on ${api.url}; Swagger UI at ${api.url}/docs`);
  onShutdown(ctx.logger, async () => {
    await api.stop();
    await closeContext(ctx);
  });
}

main().catch(failStartup);
