# Sourced by the scripts that drive a headless Chromium (check-docs.sh, check-newcomer.sh): provides
# Debian's chromium (installed with apt-get when missing and we are root) as CHROMIUM and playwright-core,
# installed at an exact version into a scratch directory, as PLAYWRIGHT_CORE, without adding a
# dependency to the service.
PLAYWRIGHT_CORE_VERSION=1.65.1
tools=${CHECK_DOCS_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/shopify-integration/check-docs}

export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium (apt-get)…" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing: install it (Debian: sudo apt-get install -y chromium) or set CHROMIUM=/path/to/chromium" >&2
    exit 1
  fi
fi

export PLAYWRIGHT_CORE=$tools/node_modules/playwright-core
if ! grep -qs "\"version\": \"$PLAYWRIGHT_CORE_VERSION\"" "$PLAYWRIGHT_CORE/package.json"; then
  mkdir -p "$tools"
  # playwright-core is only the driver: it downloads no browser (Chromium above is Debian's).
  npm install --prefix "$tools" --no-audit --no-fund --loglevel=error --save-exact "playwright-core@$PLAYWRIGHT_CORE_VERSION" >/dev/null
fi
