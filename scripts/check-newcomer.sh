#!/usr/bin/env bash
# `make check-newcomer`: a newcomer's first five minutes, as the README tells them, on a clean clone:
#   1. `make run MOCK=1` (install, services, migrations, API, worker and a seeded mock Shopify store);
#   2. the printed commands: a tenant key from the CLI, the mock store connected, products listed;
#   3. every product read through the API (the mock's whole catalog arrives);
#   4. the SDK installed the documented way into a scratch project, used from ESM and from CommonJS;
#   5. Swagger UI in headless Chromium: Try it out on "List products" returns the unfiltered list;
#   6. Ctrl-C: everything stops, cleanly and quietly.
# It uses its own database, Redis key prefix and free ports, and removes them (and the clone) at the end.
# `--working-tree`: copy the working tree (tracked and untracked, not ignored files) instead of cloning
# the last commit, to check work before it is committed. Not part of `make test` (it clones, installs
# and drives Chromium: a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
source scripts/chromium-tools.sh

scratch=$(mktemp -d "${TMPDIR:-/tmp}/check-newcomer.XXXXXX")
clone=$scratch/shopify-integration
run_log=$scratch/make-run.log
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
export PORT=$(free_port) WORKER_METRICS_PORT=$(free_port) MOCK_SHOPIFY_PORT=$(free_port)
suffix=$(date +%s)$$
export DATABASE_URL=${DATABASE_URL:-mysql://root@127.0.0.1:3306/shopify_integration}
DATABASE_URL=${DATABASE_URL%/*}/newcomer_check_$suffix
export REDIS_KEY_PREFIX=newcomer-check-$suffix
export SHOPIFY_WEBHOOK_BASE_URL=http://127.0.0.1:$PORT
unset NODE_ENV ADMIN_API_KEY SHOPIFY_API_BASE_URL
base=http://127.0.0.1:$PORT
run_pgid=

step() { printf '\n== %s\n' "$*"; }
fail() { echo "check-newcomer FAILED: $*" >&2; [ -f "$run_log" ] && { echo "--- last lines of make run:" >&2; tail -n 30 "$run_log" >&2; }; exit 1; }

cleanup() {
  [ -n "$run_pgid" ] && kill -INT -- "-$run_pgid" 2>/dev/null && sleep 3
  if [ -d "$clone/node_modules" ]; then
    (cd "$clone" && node --import tsx -e "
      const { dropDatabase } = await import('./src/platform/db.ts');
      const { createClient } = await import('redis');
      await dropDatabase(process.env.DATABASE_URL);
      const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
      await redis.connect();
      for (const pattern of [process.env.REDIS_KEY_PREFIX + ':*', '{' + process.env.REDIS_KEY_PREFIX + '}*']) {
        for await (const keys of redis.scanIterator({ MATCH: pattern, COUNT: 500 })) if (keys.length) await redis.del(keys);
      }
      await redis.quit();" --input-type=module >/dev/null 2>&1 || echo "note: could not drop newcomer_check_$suffix / clear $REDIS_KEY_PREFIX" >&2)
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

if [ "${1:-}" = --working-tree ]; then
  step "Copying the working tree of $repo (tracked and untracked files, not ignored ones)"
  mkdir -p "$clone"
  git -C "$repo" ls-files -z --cached --others --exclude-standard | (cd "$repo" && xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) | tar -xf - -C "$clone"
else
  step "Cloning $repo (its last commit)"
  git clone --quiet "$repo" "$clone"
fi

step "make run MOCK=1 (ports: API $PORT, worker metrics $WORKER_METRICS_PORT, mock Shopify $MOCK_SHOPIFY_PORT)"
started=$(date +%s)
# Its own session and process group (the subshell's pid), so a Ctrl-C can be sent to it as a terminal does.
(cd "$clone" && exec setsid make run MOCK=1 >"$run_log" 2>&1 </dev/null) &
run_pgid=$!
for _ in $(seq 1 600); do
  grep -q 'Ctrl-C stops everything' "$run_log" && break
  grep -q 'make: \*\*\*' "$run_log" && fail "make run stopped"
  sleep 1
done
grep -q 'Ctrl-C stops everything' "$run_log" || fail "make run did not come up within 10 minutes"
echo "up after $(( $(date +%s) - started )) s (a fresh install included)"
mock_shop=$(sed -n 's/^Mock Shopify store \([^ ]*\) is running.*/\1/p' "$run_log")
[ -n "$mock_shop" ] || fail "make run MOCK=1 did not say which mock store runs"

step "The printed commands: a key, connect the mock store, list products"
# Run exactly what make run printed (the indented block), with its host name, as a newcomer pastes it.
commands=$(sed -n '/^In another terminal/,/^(the first sync/p' "$run_log" | sed -n 's/^  //p')
[ -n "$commands" ] || fail "make run MOCK=1 printed no commands"
connect_started=$(date +%s%N)
output=$(cd "$clone" && bash -euo pipefail -c "$commands; echo; echo \"KEY=\$KEY\"") || fail "the printed commands failed: $output"
KEY=$(sed -n 's/^KEY=//p' <<<"$output")
[[ $KEY == sk_* ]] || fail "no tenant key came out of the printed commands: $output"
grep -q '"is_connected":true' <<<"$output" || fail "the connect did not answer is_connected: $output"
echo "key ${KEY:0:12}…, store connected, commands done in $(( ($(date +%s%N) - connect_started) / 1000000 )) ms"

step "Every product through the API (until the initial sync has brought the whole catalog)"
mock_count=$(sed -n 's/^  catalog: \([0-9]*\) products.*/\1/p' "$run_log")
count_products() {
  node -e "
    const [base, key] = process.argv.slice(1);
    let n = 0, cursor = null;
    (async () => { do {
      const res = await fetch(base + '/api/shopify/products/?limit=250' + (cursor ? '&cursor=' + cursor : ''), { headers: { authorization: 'Bearer ' + key } });
      const page = await res.json(); n += page.data.length; cursor = page.next_cursor;
    } while (cursor); console.log(n); })();" "$base" "$KEY"
}
listed=0
for _ in $(seq 1 60); do
  listed=$(count_products)
  [ "$listed" = "$mock_count" ] && break
  sleep 1
done
[ "$listed" = "$mock_count" ] || fail "the API lists $listed products, the mock store has $mock_count"
echo "the API lists all $listed products of the mock store"

step "The SDK, installed as the README says, from ESM and from CommonJS"
app=$scratch/my-app
mkdir -p "$app" && (cd "$app" && npm init -y >/dev/null)
(cd "$app" && npm install --no-audit --no-fund --loglevel=error "$(make -s -C "$clone" sdk-pack)" >/dev/null) || fail "the SDK did not install"
cat >"$app/list.mjs" <<'EOF'
import { createClient } from '@shopify-integration/sdk';
const api = createClient({ baseUrl: process.argv[2], apiKey: process.argv[3] });
let n = 0;
for await (const product of api.paginate('/api/shopify/products/', { params: { query: { limit: 100 } } })) if (product.id) n++;
console.log(n);
EOF
cat >"$app/first.cjs" <<'EOF'
const { createClient, isApiProblem } = require('@shopify-integration/sdk');
const api = createClient({ baseUrl: process.argv[2], apiKey: process.argv[3] });
api.GET('/api/shopify/products/', { params: { query: { limit: 2 } } }).then(async ({ data }) => {
  const refused = await api.GET('/api/shopify/products/', { params: { query: { limit: 251 } } }).catch((err) => err);
  console.log(`${data.data.length} ${isApiProblem(refused, 400) ? refused.errors[0].message : 'no problem'}`);
});
EOF
esm=$(cd "$app" && node list.mjs "$base" "$KEY") || fail "the SDK from ESM failed"
cjs=$(cd "$app" && node first.cjs "$base" "$KEY") || fail "the SDK from CommonJS (require) failed"
[ "$esm" = "$mock_count" ] || fail "the SDK (ESM) paginated through $esm products, not $mock_count"
[ "$cjs" = "2 must be at most 250" ] || fail "the SDK (CommonJS) answered '$cjs'"
echo "ESM: paginate() walked $esm products; CommonJS: require() works, a page of 2, a 400 says \"must be at most 250\""

step "Swagger UI in headless Chromium: Try it out on List products"
(cd "$repo" && npx --no-install tsx scripts/check-newcomer-docs.ts --url "$base" --key "$KEY" --screenshot "${SCREENSHOT:-${TMPDIR:-/tmp}/newcomer-try-it-out.png}") || fail "Swagger UI"

step "Ctrl-C on make run"
kill -INT -- "-$run_pgid"
for _ in $(seq 1 30); do
  pgrep -g "$run_pgid" >/dev/null || break
  sleep 1
done
pgrep -g "$run_pgid" >/dev/null && fail "processes of make run are still running 30 s after Ctrl-C"
run_pgid=
if grep -Eq 'make: \*\*\*|Segmentation fault|Error 1[0-9]{2}' "$run_log"; then fail "make run did not end quietly: $(grep -E 'make: \*\*\*|Segmentation' "$run_log")"; fi
echo "everything stopped; no make error line"

step "check-newcomer passed"
