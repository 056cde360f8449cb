#!/usr/bin/env bash
# Checks Swagger UI (/docs) in a real headless Chromium: scripts/check-docs.ts does the checking;
# scripts/chromium-tools.sh provides Chromium and playwright-core. Arguments go to check-docs.ts
# (`--url URL`, `--screenshot FILE`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/chromium-tools.sh
exec npx --no-install tsx scripts/check-docs.ts "$@"
