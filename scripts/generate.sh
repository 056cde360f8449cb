#!/usr/bin/env bash
# Regenerates the bundled contract and its TypeScript types from openapi/ (`--check`: fail when stale).
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/generated
mode=${1:-write}
if [ "$mode" = "--check" ]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
npx --no-install redocly bundle openapi/openapi.yaml --ext json -o "$out/openapi.json" >/dev/null 2>&1
npx --no-install openapi-typescript "$out/openapi.json" --redocly openapi/typegen.redocly.yaml -o "$out/api.ts" >/dev/null 2>&1
if [ "$mode" = "--check" ]; then
  for f in openapi.json api.ts; do
    if ! cmp -s "$out/$f" "src/generated/$f"; then
      echo "src/generated/$f is stale: run 'npm run generate' (or 'make generate') and commit the result." >&2
      exit 1
    fi
  done
  echo "generated files are up to date"
fi
