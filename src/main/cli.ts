import type { Database } from '../store/schema.js';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config.js';
import { migrateNonExpiringTokens } from '../connection/token-migration.js';
import { createSecretBox, keyId } from '../platform/crypto.js';
import { createDb } from '../platform/db.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../store/api-keys.js';
import { resealIntegrationSecrets } from '../store/integration-secrets.js';
import { resealEndpointSecrets } from '../store/webhook-endpoints.js';
import { closeContext, createContext } from './context.js';
import { loadEnvFile } from './env-file.js';
import { failStartup } from './lifecycle.js';

const USAGE = `usage:
  npm run cli -- api-key create --tenant <tenant-id> [--name <name>]   prints the new key once, on the last line
  npm run cli -- api-key list [--tenant <tenant-id>]
  npm run cli -- api-key revoke --id <key-id>
  npm run cli -- secrets reseal                                       encrypts every stored token and webhook secret (Shopify's and outbound endpoints') again with TOKEN_ENCRYPTION_KEY
  npm run cli -- tokens migrate [--dry-run]                            exchanges every non-expiring OAuth token for an expiring pair (before 2027-01-01)`;

const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

async function main() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { tenant: { type: 'string' }, name: { type: 'string' }, id: { type: 'string' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  const [noun, verb] = positionals;
  if (values.help || !((noun === 'api-key' && verb) || (noun === 'secrets' && verb === 'reseal') || (noun === 'tokens' && verb === 'migrate'))) {
    console.log(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  loadEnvFile();
  const config = loadConfig();
  if (noun === 'tokens') return migrateTokens(config, values['dry-run'] ?? false);
  const db = createDb<Database>(config.databaseUrl, 1);
  try {
    if (noun === 'secrets') {
      const secrets = createSecretBox(config.encryption.key, config.encryption.previousKeys);
      const { resealed, unreadable } = await resealIntegrationSecrets(db, secrets);
      const endpoints = await resealEndpointSecrets(db, secrets);
      console.log(`Re-encrypted the secrets of ${resealed} integration(s) and ${endpoints.resealed} webhook endpoint(s) with key ${keyId(config.encryption.key)}.`);
      if (unreadable.length > 0) {
        console.log(`No configured key opens the secrets of integration(s) ${unreadable.join(', ')}: reconnect those stores.`);
        process.exitCode = 1;
      }
      if (endpoints.unreadable.length > 0) {
        console.log(`No configured key opens the signing secrets of webhook endpoint(s) ${endpoints.unreadable.join(', ')}: their tenants must delete and create them again.`);
        process.exitCode = 1;
      }
    } else if (verb === 'create') {
      if (!values.tenant || !TENANT_ID.test(values.tenant)) throw new Error('--tenant is required: letters, digits, _ . - (at most 64)');
      const { record, key } = await createApiKey(db, values.tenant, values.name ?? 'default');
      console.log(`Created API key ${record.id} "${record.name}" for tenant ${record.tenant_id}. It is shown only now; store it safely:`);
      console.log(key);
    } else if (verb === 'list') {
      const { rows } = await listApiKeys(db, { limit: 1000, ...(values.tenant ? { tenantId: values.tenant } : {}) });
      for (const k of rows) console.log(`${k.id}\t${k.tenant_id}\t${k.name}\t${k.key_prefix}…\t${k.revoked_at ? `revoked ${k.revoked_at.toISOString()}` : 'active'}`);
    } else if (verb === 'revoke') {
      const id = Number(values.id);
      if (!Number.isInteger(id) || id < 1) throw new Error('--id is required');
      const key = await revokeApiKey(db, id);
      if (!key) throw new Error(`no API key with id ${id}`);
      console.log(`API key ${id} revoked`);
    } else {
      throw new Error(USAGE);
    }
  } finally {
    await db.destroy();
  }
}

/** `tokens migrate`: the whole service context (Redis holds the renewal locks shared with running workers). */
async function migrateTokens(config: Config, dryRun: boolean): Promise<void> {
  const ctx = await createContext(config);
  try {
    const result = await migrateNonExpiringTokens(ctx, { dryRun });
    console.log(
      dryRun
        ? `${result.candidates} store(s) hold a non-expiring OAuth token and would be migrated.`
        : `Migrated ${result.migrated} of ${result.candidates} store(s) to expiring tokens; ${result.refused} refused by Shopify, ${result.failed} failed (run again), ${result.remaining} left.`,
    );
    if (!dryRun && result.failed > 0) process.exitCode = 1;
  } finally {
    await closeContext(ctx);
  }
}

main().catch(failStartup);
