import express, { type Express, type RequestHandler, type Router } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { pinoHttp } from 'pino-http';
import swaggerUi from 'swagger-ui-express';
import type { ServiceContext } from '../context.js';
import { securityHandlers } from './auth.js';
import { contractGate, loadContract, rejectNonFiniteNumbers, withQueryParameterChecks } from './contract.js';
import { httpMetrics } from './metrics.js';
import { errorHandler, notFoundHandler, problemOfResponse } from './problem.js';
import { requestIdOf } from './request-id.js';
import { securityHeaders } from './security-headers.js';
import { healthRoutes } from './routes/health.js';
import { recordRoutes } from './routes/records.js';

/** Query parameters whose values never reach a log line. */
const SECRET_QUERY_PARAMS = /([?&](?:code|hmac|state|signature|access_token)=)[^&]*/gi;
const WEBHOOK_PATHS = /^\/api\/(shopify|integrations\/shopify)\/webhook\/?$/;
/**
 * The contract's request bodies are small (the largest, a replay of 1,000 Redis stream ids of at most
 * 41 characters, is under 45 KB): a larger JSON body is refused with 413 instead of being parsed.
 */
const JSON_BODY_LIMIT = '64kb';

export interface AppRoutes {
  /**
   * Routes that read their own raw body (webhooks), mounted first: ahead of the JSON parser and the
   * validator, and of the app-wide metrics, security headers and request log, whose work they do
   * themselves as far as a server-to-server POST needs it (see routes/webhooks.ts).
   */
  raw?: Router[];
  /** Routes behind the contract validator. */
  api?: Router[];
  /** Operator pages outside the contract (/metrics, /admin/queues): guarded by the admin key themselves, mounted before the parsers and the validator. */
  operator?: Router[];
}

/**
 * Middleware order: raw-body routes (webhooks) → request metrics → security headers → request log
 * (request id) → operator pages → trailing slashes → contract document and docs → contract gate
 * (405 for undocumented methods, 401 without a bearer token) → JSON parser → contract validator (routes,
 * auth, parameters, bodies; responses too in tests) → routes → errors.
 */
export function createApp(ctx: ServiceContext, routes: AppRoutes = {}): Express {
  const app = express();
  const contract = loadContract();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.set('query parser', 'extended');

  for (const router of routes.raw ?? []) app.use(router);
  app.use(httpMetrics(ctx.metrics));
  app.use(securityHeaders());
  app.use(
    pinoHttp({
      logger: ctx.logger,
      genReqId: requestIdOf,
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url.replace(SECRET_QUERY_PARAMS, '$1[redacted]') }),
        // The status is what a request line needs; response headers were most of its bytes.
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      // A refused request says why (the problem's type and detail), so a 4xx line needs no reproduction.
      customSuccessObject: (_req, res, line: Record<string, unknown>) => {
        const problem = problemOfResponse(res);
        return problem ? { ...line, problem } : line;
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug'),
    }),
  );

  for (const router of routes.operator ?? []) app.use(router);

  // Every API path answers with and without its trailing slash; the contract spells them with one.
  // Repeated trailing slashes count as one, as the contract validator reads them (else `/products//`
  // matched listProducts there and no route here).
  app.use((req, _res, next) => {
    const q = req.url.indexOf('?');
    const path = q === -1 ? req.url : req.url.slice(0, q);
    if (path.startsWith('/api/') && !/[^/]\/$/.test(path)) req.url = `${path.replace(/\/+$/, '')}/${q === -1 ? '' : req.url.slice(q)}`;
    next();
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(contract);
  });
  app.use(
    '/docs',
    swaggerUi.serve,
    swaggerUi.setup(contract, {
      customSiteTitle: 'Shopify Integration Service API',
      swaggerOptions: { persistAuthorization: true, displayRequestDuration: true, tryItOutEnabled: false },
    }),
  );

  app.use(contractGate(contract));
  app.use(express.json({ limit: JSON_BODY_LIMIT }));
  // The OAuth install confirmation is a browser's form POST (two short fields).
  app.use('/api/shopify/oauth/begin/', express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 10 }));

  app.use(
    withQueryParameterChecks(
      OpenApiValidator.middleware({
        apiSpec: contract,
        // Every bad parameter is named at once: ajv checks all of them, and unknown or empty query
        // parameters (which the validator would refuse first, alone) are checked just after its request
        // step (withQueryParameterChecks).
        validateRequests: { allowUnknownQueryParameters: true, allErrors: true },
        // Full format checks: the fast ones let `2024-03-01T25:00:00Z` through as a date-time.
        ajvFormats: { mode: 'full' },
        validateResponses: ctx.config.nodeEnv === 'test' ? { removeAdditional: false } : false,
        validateSecurity: { handlers: securityHandlers(ctx) },
        // The contract gate already refused undocumented methods; this keeps them refused should it move.
        ignoreUndocumented: false,
        useRequestUrl: true,
        ignorePaths: WEBHOOK_PATHS,
      }) as RequestHandler[],
    ),
  );
  app.use(rejectNonFiniteNumbers);

  app.use(healthRoutes(ctx));
  app.use(recordRoutes(ctx));
  for (const router of routes.api ?? []) app.use(router);

  app.use(notFoundHandler);
  app.use(errorHandler(ctx.logger));
  return app;
}
