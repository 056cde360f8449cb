import type { Database } from '../store/schema.js';
import { loadConfig } from '../config.js';
import { createDb, ensureDatabase } from '../platform/db.js';
import { migrateToLatest } from '../store/migrate.js';
import { loadEnvFile } from './env-file.js';
import { failStartup } from './lifecycle.js';

async function main() {
  loadEnvFile();
  const config = loadConfig();
  await ensureDatabase(config.databaseUrl);
  const db = createDb<Database>(config.databaseUrl, 1);
  try {
    const result = await migrateToLatest(db);
    const applied = result.results ?? [];
    console.log(applied.length ? applied.map((r) => `migration ${r.migrationName}: ${r.status}`).join('\n') : 'migrations: already up to date');
  } finally {
    await db.destroy();
  }
}

main().catch(failStartup);
