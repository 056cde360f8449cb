import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('configuration', () => {
  it('when nothing is set, then defaults make a local run work', () => {
    const config = loadConfig({});
    expect(config.port).to.equal(3000);
    expect(config.databaseUrl).to.match(/^mysql:\/\//);
    expect(config.shopify.apiVersion).to.equal('2026-10');
    expect(config.shopify.syncIntervals.orders).to.equal(900);
    expect(config.encryption.key).to.have.length(32);
  });

  for (const [name, value, pattern] of [
    ['PORT', 'eighty', /PORT must be a whole number/],
    ['PORT', '70000', /PORT must be between/],
    ['DATABASE_URL', 'postgres://x', /DATABASE_URL must use mysql/],
    ['REDIS_URL', 'not a url', /REDIS_URL must be a URL/],
    ['SHOPIFY_API_VERSION', '2026-11', /SHOPIFY_API_VERSION must look like/],
    ['SHOPIFY_MAX_REQUESTS_PER_SECOND', 'fast', /SHOPIFY_MAX_REQUESTS_PER_SECOND must be a number/],
    ['SHOPIFY_SYNC_INTERVAL_PRODUCTS', '-5', /SHOPIFY_SYNC_INTERVAL_PRODUCTS must be between/],
    ['TOKEN_ENCRYPTION_KEY', 'short', /TOKEN_ENCRYPTION_KEY must be 32 bytes/],
    ['ADMIN_API_KEY', 'tiny', /ADMIN_API_KEY must be at least 24/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL must be one of/],
    ['NODE_ENV', 'staging', /NODE_ENV must be one of/],
  ] as const) {
    it(`when ${name}=${value}, then start-up stops naming ${name}`, () => {
      expect(() => loadConfig({ [name]: value })).to.throw(ConfigError, pattern);
    });
  }

  it('when in production without an encryption key, then start-up stops', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).to.throw(ConfigError, /TOKEN_ENCRYPTION_KEY is required/);
  });
});
