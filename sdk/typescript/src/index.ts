/**
 * Typed client of the Shopify Integration Service. The types in `schema.ts` are generated from the
 * service's OpenAPI contract (`npm run sdk` in the service repository); everything else is hand-written.
 */
export { createClient, type ClientOptions, type Method, type ShopifyIntegrationClient, type Success } from './client.js';
export type { Middleware } from 'openapi-fetch';
export type { ListItem, ListPath, PaginateInit } from './paginate.js';
export { ApiProblemError, isApiProblem, type FieldError, type Problem } from './problem.js';
export type { components, operations, paths } from './schema.js';
export { verifyWebhook, WebhookVerificationError, type WebhookEvent, type WebhookHeaders } from './webhooks.js';

import type { components } from './schema.js';

/** The contract's named schemas: `Schemas['Product']`, `Schemas['SyncAccepted']`, … */
export type Schemas = components['schemas'];
