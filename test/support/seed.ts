import type { ServiceContext } from '../../src/context.js';
import { sealAccessToken } from '../../src/store/integration-secrets.js';
import { RESOURCES, type ResourceName } from '../../src/resources/index.js';
import { createIntegration } from '../../src/store/integrations.js';
import { upsertRecords, type Owner } from '../../src/store/records.js';

export async function seedIntegration(ctx: ServiceContext, tenantId: string, shopDomain = `${tenantId}-shop.myshopify.com`): Promise<Owner> {
  const integration = await createIntegration(ctx.db, {
    tenant_id: tenantId,
    shop_domain: shopDomain,
    access_token_encrypted: sealAccessToken(ctx.secrets, { tenant_id: tenantId, shop_domain: shopDomain }, 'shpat_seeded'),
    encryption_key_id: ctx.secrets.currentKeyId,
    api_version: ctx.config.shopify.apiVersion,
    shop_currency: 'USD',
    webhook_secret_encrypted: null,
    shop_name: `${tenantId} shop`,
    shop_plan: 'basic',
    token_revoked_at: null,
    last_sync_at: null,
    last_error_at: null,
    last_error_message: null,
  });
  return { tenantId, integrationId: integration.id };
}

/** Stores Shopify-shaped records through the registry's mapper and the real upsert. */
export async function seedRecords(ctx: ServiceContext, owner: Owner, name: ResourceName, records: Record<string, unknown>[]) {
  const resource = RESOURCES[name];
  return ctx.db.transaction().execute((trx) =>
    upsertRecords(
      trx,
      resource,
      owner,
      records.map((r) => ({ ...resource.map(r, { shopCurrency: 'USD' }), observedAt: new Date() })),
    ),
  );
}

let nextId = 7_000_000_000_000;
export const newId = () => ++nextId;

export function product(overrides: Record<string, unknown> = {}) {
  const id = (overrides.id as number) ?? newId();
  return {
    id,
    title: `Product ${id}`,
    handle: `product-${id}`,
    vendor: 'Acme',
    product_type: 'Shirts',
    status: 'active',
    tags: 'cotton, summer',
    created_at: '2024-03-01T07:00:00-05:00',
    updated_at: '2024-03-01T07:00:00-05:00',
    variants: [
      {
        id: newId(),
        product_id: id,
        title: 'Default',
        price: '19.99',
        compare_at_price: null,
        sku: `SKU-${id}`,
        position: 1,
        inventory_item_id: newId(),
        inventory_quantity: 5,
        created_at: '2024-03-01T07:00:00-05:00',
        updated_at: '2024-03-01T07:00:00-05:00',
      },
    ],
    ...overrides,
  };
}

export function order(overrides: Record<string, unknown> = {}) {
  const id = (overrides.id as number) ?? newId();
  return {
    id,
    name: `#${id % 100000}`,
    order_number: id % 100000,
    email: 'jane@example.com',
    customer: { id: 6_000_000_000_001, email: 'jane@example.com' },
    financial_status: 'paid',
    fulfillment_status: null,
    currency: 'EUR',
    total_price: '42.50',
    subtotal_price: '40.00',
    total_tax: '2.50',
    processed_at: '2024-03-02T10:00:00+01:00',
    closed_at: null,
    cancelled_at: null,
    created_at: '2024-03-02T10:00:00+01:00',
    updated_at: '2024-03-02T10:00:00+01:00',
    line_items: [{ id: newId(), product_id: 7_000_000_000_001, variant_id: 7_000_000_000_002, title: 'Tee', sku: 'TEE', quantity: 2, price: '20.00' }],
    ...overrides,
  };
}

export function customer(overrides: Record<string, unknown> = {}) {
  const id = (overrides.id as number) ?? newId();
  return {
    id,
    email: `c${id}@example.com`,
    first_name: 'Jane',
    last_name: 'Doe',
    phone: null,
    state: 'enabled',
    orders_count: 1,
    total_spent: '42.50',
    currency: 'USD',
    tags: '',
    created_at: '2024-03-01T07:00:00-05:00',
    updated_at: '2024-03-01T07:00:00-05:00',
    ...overrides,
  };
}

export function location(overrides: Record<string, unknown> = {}) {
  const id = newId();
  return {
    id,
    name: `Location ${id}`,
    active: true,
    legacy: false,
    address1: '100 Commerce Street',
    address2: null,
    city: 'Ottawa',
    province: 'Ontario',
    province_code: 'ON',
    country: 'CA',
    country_code: 'CA',
    zip: 'K1P 1J1',
    phone: null,
    created_at: '2024-01-01T07:00:00-05:00',
    updated_at: '2024-03-01T07:00:00-05:00',
    ...overrides,
  };
}

export function inventoryLevel(overrides: Record<string, unknown> = {}) {
  return { inventory_item_id: newId(), location_id: 5_000_000_000_001, available: 7, updated_at: '2024-03-01T07:00:00-05:00', ...overrides };
}
