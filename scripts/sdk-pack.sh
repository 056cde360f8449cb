#!/usr/bin/env bash
# Builds the TypeScript SDK (ESM and CommonJS) and packs it as a tarball outside the repository; prints
# only the tarball's path, so one command installs it into any project:
#   npm install "$(make -s -C /path/to/shopify-integration sdk-pack)"
# The build runs in a scratch copy, leaving sdk/typescript as it is. Argument: a directory for the
# tarball (default: a new temporary one).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d "${TMPDIR:-/tmp}/shopify-integration-sdk.XXXXXX")}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/shopify-integration-sdk-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
sdk=sdk/typescript
cp -R "$sdk/package.json" "$sdk/package-lock.json" "$sdk/tsconfig.json" "$sdk/tsconfig.cjs.json" "$sdk/README.md" "$sdk/src" "$sdk/scripts" "$work/"
# npm's own output goes to stderr: stdout carries the path alone.
(cd "$work" && npm ci --no-audit --no-fund --loglevel=error && npm pack --pack-destination "$out" --loglevel=error) >&2
ls -t "$out"/shopify-integration-sdk-*.tgz | head -n 1
