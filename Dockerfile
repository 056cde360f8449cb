# Shopify integration service: one image, four roles (see scripts/docker-entrypoint.sh).
#   docker build -t shopify-integration .
#   docker run --init -p 3000:3000 -e DATABASE_URL=mysql://… -e REDIS_URL=redis://… \
#     -e TOKEN_ENCRYPTION_KEY=… shopify-integration [api|worker|migrate|api-migrate]
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- all dependencies, for the build
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the native extras (esbuild, msgpackr-extract) come as prebuilt optional packages.
RUN npm ci --ignore-scripts --no-audit --no-fund

# ---- compile TypeScript to dist/
FROM deps AS build
COPY . .
RUN npm run build \
 && test -f dist/src/main/api.js && test -f dist/src/main/worker.js && test -f dist/src/main/migrate.js \
 && { test -f src/generated/openapi.json || { echo "src/generated/openapi.json is missing: generate the bundled contract first" >&2; exit 1; }; } \
 && mkdir -p dist/src/generated \
 && cp src/generated/openapi.json dist/src/generated/openapi.json

# ---- production dependencies only
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- runtime
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
# Owned by root and read-only for the `node` user that runs the service.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/openapi ./openapi
COPY package.json ./
COPY scripts/docker-entrypoint.sh ./scripts/docker-entrypoint.sh
USER node
EXPOSE 3000
# For the api role. The worker serves HTTP only for /metrics (WORKER_METRICS_PORT): run it with --no-healthcheck.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Started through sh so the script needs no executable bit in the build context.
ENTRYPOINT ["/bin/sh", "/app/scripts/docker-entrypoint.sh"]
CMD ["api"]
