/** The service's real API process (as `npm run start:api` builds it), configured from the environment. */
import { loadConfig } from '../../../src/config.js';
import { closeContext, createContext } from '../../../src/main/context.js';
import { startApi } from '../../../src/main/server.js';
import { sendReady, serveRunner } from '../lib/child-ipc.js';

const ctx = await createContext(loadConfig());
const api = await startApi(ctx, 0, '127.0.0.1');
serveRunner({}, async () => {
  await api.stop();
  await closeContext(ctx);
});
sendReady({ port: api.port });
