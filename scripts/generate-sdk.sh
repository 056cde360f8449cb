#!/usr/bin/env bash
# Regenerates the TypeScript SDK's types (sdk/typescript/src/schema.ts) from the bundled contract
# src/generated/openapi.json, and installs the SDK's own dependencies when they are missing or stale
# (the root project's tests import the SDK's source, so its openapi-fetch must be installed in
# sdk/typescript/node_modules). `--check`: fail when schema.ts is stale. `--install`: only install.
set -euo pipefail
cd "$(dirname "$0")/.."
sdk=sdk/typescript
mode=${1:-write}

# Runtime dependencies only (openapi-fetch): the SDK's own build tools come with a plain `npm ci` there.
stamp=$sdk/node_modules/.install-stamp
if [ ! -f "$stamp" ] || [ "$sdk/package.json" -nt "$stamp" ] || [ "$sdk/package-lock.json" -nt "$stamp" ]; then
  (cd "$sdk" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
[ "$mode" = "--install" ] && exit 0

out=$sdk/src
if [ "$mode" = "--check" ]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
# Same generator and options as src/generated/api.ts (scripts/generate.sh), so both read the contract alike.
if ! log=$(npx --no-install openapi-typescript src/generated/openapi.json --redocly openapi/typegen.redocly.yaml -o "$out/schema.ts" 2>&1); then
  echo "$log" >&2
  exit 1
fi
if [ "$mode" = "--check" ]; then
  if ! cmp -s "$out/schema.ts" "$sdk/src/schema.ts"; then
    echo "$sdk/src/schema.ts is stale: run 'npm run sdk' (or 'make sdk') and commit the result." >&2
    exit 1
  fi
  echo "SDK types are up to date"
fi
