#!/bin/sh
# Container entrypoint:  docker run IMAGE [api|worker|migrate|api-migrate]   (default: api)
#   api          serve HTTP on $PORT (3000)
#   worker       webhook stream consumers + BullMQ sync workers
#   migrate      apply pending database migrations, then exit
#   api-migrate  migrate, then serve (what compose.yaml's api runs)
# Anything else is run as a command (e.g. `sh`) for debugging.
set -eu

# The app lives one level up from this script (/app in the image).
cd "$(dirname "$0")/.."

role="${1:-api}"
[ "$#" -gt 0 ] && shift

case "$role" in
  api | worker | migrate)
    exec node "dist/src/main/$role.js" "$@"
    ;;
  api-migrate)
    node dist/src/main/migrate.js
    exec node dist/src/main/api.js "$@"
    ;;
  *)
    if command -v "$role" >/dev/null 2>&1; then
      exec "$role" "$@"
    fi
    echo "docker-entrypoint: unknown command '$role'; use api, worker, migrate or api-migrate" >&2
    exit 64
    ;;
esac
