#!/usr/bin/env bash
# `make run`: the API and the worker in the foreground (with MOCK=1 also a mock Shopify store with a
# seeded catalog, the service pointed at it), until Ctrl-C, which stops them all and exits 0, so make
# prints no error line. Each process is a plain `node --import tsx`, without npm or tsx's own CLI in
# between, so a Ctrl-C reaches each exactly once (the terminal sends it to the whole process group).
set -uo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-3000}
export WORKER_METRICS_PORT=${WORKER_METRICS_PORT:-9465}
MOCK_PORT=${MOCK_SHOPIFY_PORT:-4010}
MOCK_SHOP=${MOCK_SHOPIFY_SHOP:-demo-store.myshopify.com}
MOCK_TOKEN=${MOCK_SHOPIFY_TOKEN:-shpat_mock_demo_token}
pids=()

start() {
  node --import tsx "$@" &
  pids+=($!)
}

# Ctrl-C already reached every process; a TERM (docker, a supervisor) is passed on. Either way wait for
# them to finish their own shutdown, then end quietly.
stop() {
  trap '' INT TERM
  [ "${1:-}" = TERM ] && kill -TERM "${pids[@]}" 2>/dev/null
  wait
  exit 0
}
trap 'stop INT' INT
trap 'stop TERM' TERM

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  for _ in $(seq 1 120); do
    listening "$1" && return 0
    sleep 0.5
  done
  return 1
}

if [ "${MOCK:-}" = 1 ]; then
  if listening "$MOCK_PORT"; then
    echo "port $MOCK_PORT is taken: stop what listens there or set MOCK_SHOPIFY_PORT" >&2
    exit 1
  fi
  export SHOPIFY_API_BASE_URL="http://127.0.0.1:$MOCK_PORT/{shop}"
  export SHOPIFY_API_KEY=${SHOPIFY_API_KEY:-mock-api-key}
  export SHOPIFY_API_SECRET=${SHOPIFY_API_SECRET:-mock-api-secret}
  MOCK_SHOPIFY_PORT=$MOCK_PORT MOCK_SHOPIFY_SHOP=$MOCK_SHOP MOCK_SHOPIFY_TOKEN=$MOCK_TOKEN start scripts/mock-shopify/cli.ts
  wait_for_port "$MOCK_PORT" || { echo "the mock Shopify did not start" >&2; stop TERM; }
fi

if listening "$PORT"; then
  echo "port $PORT is taken (another 'make run'?): stop it or run with PORT=<free port>" >&2
  [ ${#pids[@]} -gt 0 ] && stop TERM
  exit 1
fi

start src/main/worker.ts
start src/main/api.ts

if wait_for_port "$PORT"; then
  base="http://localhost:$PORT"
  echo
  echo "API on $base — Swagger UI at $base/docs — worker metrics on http://localhost:$WORKER_METRICS_PORT/metrics (ADMIN_API_KEY)"
  if [ "${MOCK:-}" = 1 ]; then
    cat <<EOF
Mock Shopify store $MOCK_SHOP is running at http://127.0.0.1:$MOCK_PORT with a seeded catalog.
In another terminal, get a key, connect the store and read its products:

  KEY=\$(npm run -s cli -- api-key create --tenant demo --name first-steps | tail -n 1)
  curl -s -X POST -H "Authorization: Bearer \$KEY" -H 'Content-Type: application/json' \\
    -d '{"shop_domain":"$MOCK_SHOP","access_token":"$MOCK_TOKEN"}' $base/api/shopify/connect/
  curl -s -H "Authorization: Bearer \$KEY" '$base/api/shopify/products/?limit=2'

(the first sync takes a few seconds; Swagger UI: Authorize with the key, then Try it out)
EOF
  else
    echo "No store to read yet? 'make run MOCK=1' adds a mock Shopify store with a seeded catalog and says how to connect it."
  fi
  echo "Ctrl-C stops everything."
  echo
fi

# Until one process ends by itself (a start-up failure, say): then the others are stopped too.
wait -n
status=$?
trap '' INT TERM
kill -TERM "${pids[@]}" 2>/dev/null
wait
exit "$status"
