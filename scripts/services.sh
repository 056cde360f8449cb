#!/usr/bin/env bash
# `make services`: make sure MySQL/MariaDB answers at DATABASE_URL and Redis at REDIS_URL.
#
# For each of the two, in this order:
#   (a) something already answers there   -> say what was found and leave it alone;
#   (b) a Docker engine runs              -> `docker compose -f compose.yaml up -d --wait mysql|redis`;
#   (c) root on Debian/Ubuntu             -> apt-get install mariadb-server / redis-server if missing,
#                                            then start them in the background WITHOUT systemd;
#   (d) otherwise                         -> fail, saying what to install.
# It never stops or restarts a running server, and it is idempotent: run it as often as you like.
#
# Environment:
#   DATABASE_URL           default mysql://root@127.0.0.1:3306/shopify_integration
#   REDIS_URL              default redis://127.0.0.1:6379
#   MARIADB_DATADIR        datadir of a MariaDB started here
#                          (default /var/lib/mysql for port 3306, /var/lib/mysql-<port> otherwise)
#   MARIADB_SOCKET         its Unix socket (default /run/mysqld/mysqld.sock, /run/mysqld/mysqld-<port>.sock)
#   SERVICES_WAIT_SECONDS  how long to wait for a started server to answer (default 60)
# The bash -c snippets below get host and port as $0 and $1 on purpose.
# shellcheck disable=SC2016
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="$ROOT_DIR/.services" # logs of what this script starts or installs (git-ignored)
DATABASE_URL="${DATABASE_URL:-mysql://root@127.0.0.1:3306/shopify_integration}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
WAIT_SECONDS="${SERVICES_WAIT_SECONDS:-60}"

say() { printf 'services: %s\n' "$*"; }
die() {
  printf 'services: ERROR: %s\n' "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------- URLs

# Percent-decoding for the user and password parts of a URL.
urldecode() {
  local s="${1//\\/\\\\}"
  printf '%b' "${s//%/\\x}"
}

# parse_url URL -> URL_SCHEME URL_USER URL_PASS URL_HOST URL_PORT URL_PATH
parse_url() {
  local re='^([A-Za-z][A-Za-z0-9+.-]*)://(([^@/]*)@)?(\[[^]/]*\]|[^:/?#]*)(:([0-9]+))?(/([^?#]*))?'
  [[ $1 =~ $re ]] || return 1
  URL_SCHEME="${BASH_REMATCH[1]}"
  local userinfo="${BASH_REMATCH[3]}"
  URL_HOST="${BASH_REMATCH[4]}"
  URL_HOST="${URL_HOST#[}"
  URL_HOST="${URL_HOST%]}"
  URL_PORT="${BASH_REMATCH[6]}"
  URL_PATH="${BASH_REMATCH[8]}"
  URL_USER=""
  URL_PASS=""
  if [[ -n $userinfo ]]; then
    if [[ $userinfo == *:* ]]; then
      URL_USER="$(urldecode "${userinfo%%:*}")"
      URL_PASS="$(urldecode "${userinfo#*:}")"
    else
      URL_USER="$(urldecode "$userinfo")"
    fi
  fi
}

is_local_host() { [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 ]]; }

# tcp_open HOST PORT: does anything accept a TCP connection there?
tcp_open() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# ---------------------------------------------------------------- shared helpers

DOCKER_STATE="" # "", yes or no: whether a Docker engine with compose is usable (asked once)
docker_usable() {
  if [[ -z $DOCKER_STATE ]]; then
    DOCKER_STATE=no
    if ! have docker; then
      say "no docker command here"
    elif ! timeout 15 docker info >/dev/null 2>&1; then
      say "no Docker engine answers (docker info failed)"
    elif ! docker compose version >/dev/null 2>&1; then
      say "a Docker engine runs, but the compose plugin is missing (docker compose version failed)"
    else
      DOCKER_STATE=yes
    fi
  fi
  [[ $DOCKER_STATE == yes ]]
}

# compose_up SERVICE: start one service of compose.yaml and wait until its healthcheck passes.
compose_up() {
  say "starting $1 with docker compose (compose.yaml) and waiting until it is healthy"
  (cd "$ROOT_DIR" && docker compose -f compose.yaml up -d --wait "$1") ||
    die "docker compose could not start $1: see 'docker compose -f compose.yaml logs $1'"
}

is_debian_root() { [[ $(id -u) == 0 && -r /etc/debian_version ]] && have apt-get; }

APT_UPDATED=0
# apt_install PACKAGE: install one Debian package (apt-get update first, once per run).
apt_install() {
  mkdir -p "$STATE_DIR"
  local log="$STATE_DIR/apt.log"
  if [[ $APT_UPDATED == 0 ]]; then
    say "apt-get update"
    apt-get update >>"$log" 2>&1 || die "apt-get update failed (see $log)"
    APT_UPDATED=1
  fi
  say "installing $1 with apt-get (log: $log)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$1" >>"$log" 2>&1 ||
    die "apt-get install $1 failed (see $log)"
}

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# ---------------------------------------------------------------- MySQL / MariaDB

parse_url "$DATABASE_URL" || die "DATABASE_URL is not a URL: $DATABASE_URL"
[[ $URL_SCHEME == mysql || $URL_SCHEME == mariadb ]] || die "DATABASE_URL must start with mysql:// (got $URL_SCHEME://)"
DB_HOST="${URL_HOST:-127.0.0.1}"
DB_PORT="${URL_PORT:-3306}"
DB_USER="${URL_USER:-root}"
DB_PASS="$URL_PASS"
DB_NAME="${URL_PATH%%/*}"
[[ -z $DB_NAME || $DB_NAME =~ ^[A-Za-z0-9_$-]+$ ]] || die "unusual database name in DATABASE_URL: $DB_NAME"
DB_WHERE="$DB_HOST:$DB_PORT"
DB_CLIENT=""
if have mariadb; then DB_CLIENT=mariadb; elif have mysql; then DB_CLIENT=mysql; fi

# db_tcp SQL: run SQL over TCP exactly as the service logs in (the URL's user and password).
db_tcp() {
  MYSQL_PWD="$DB_PASS" "$DB_CLIENT" --no-defaults --protocol=TCP --host="$DB_HOST" --port="$DB_PORT" \
    --user="$DB_USER" --connect-timeout=3 --batch --skip-column-names -e "$1"
}

# "10.11.19-MariaDB-0+deb12u1" -> "MariaDB 10.11.19"; "8.4.3" -> "MySQL 8.4.3"
db_product() {
  local v="${1#5.5.5-}"
  if [[ $v == *MariaDB* ]]; then echo "MariaDB ${v%%-*}"; else echo "MySQL ${v%%-*}"; fi
}

# Server version from the handshake packet the server sends first: works without any client.
db_handshake_version() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1" && dd bs=512 count=1 status=none <&3' "$DB_HOST" "$DB_PORT" 2>/dev/null |
    tr -c '[:alnum:].+~_-' '\n' | grep -m1 -E '^[0-9]+\.[0-9]+\.[0-9]+' || true
}

# The login the service will use works: report the server and create the database if it is missing.
# Returns 1 (after saying why) when the server answers but refuses the URL's login.
db_check_login() {
  local verb="$1" out
  if [[ -z $DB_CLIENT ]]; then
    local v
    v="$(db_handshake_version)"
    say "$verb $(db_product "${v:-unknown version}") at $DB_WHERE (no mariadb/mysql client here: login not checked)"
    return 0
  fi
  if ! out="$(db_tcp "SELECT VERSION(); SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '$DB_NAME'" 2>&1)"; then
    say "something answers at $DB_WHERE, but $DB_USER cannot log in over TCP: $out"
    return 1
  fi
  local version="${out%%$'\n'*}" count="${out##*$'\n'}"
  say "$verb $(db_product "$version") at $DB_WHERE"
  if [[ -n $DB_NAME && $count == 0 ]]; then
    db_tcp "CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4" >/dev/null ||
      die "could not create database $DB_NAME at $DB_WHERE"
    say "created database $DB_NAME"
  fi
}

db_login_hint() {
  local fix
  if [[ $DB_USER == root ]]; then
    fix="ALTER USER root@localhost IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket; CREATE USER IF NOT EXISTS root@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); GRANT ALL ON *.* TO root@'127.0.0.1' WITH GRANT OPTION"
  else
    fix="CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '<password>'; GRANT ALL ON *.* TO '$DB_USER'@'127.0.0.1'"
  fi
  die "let $DB_USER log in over TCP, e.g. as root on that machine (MariaDB): mariadb -e \"$fix\"; or put a user and password that work into DATABASE_URL"
}

sql_string() {
  local s="${1//\\/\\\\}"
  printf "'%s'" "${s//\'/\\\'}"
}

# Start a MariaDB from Debian's packages without systemd, on the URL's port, then let the URL's
# user log in over TCP (a fresh root may only log in through the Unix socket: error 1698 over TCP).
start_mariadb() {
  local datadir socket pidfile logfile mariadbd
  if [[ $DB_PORT == 3306 ]]; then
    datadir="${MARIADB_DATADIR:-/var/lib/mysql}"
    socket="${MARIADB_SOCKET:-/run/mysqld/mysqld.sock}"
  else
    datadir="${MARIADB_DATADIR:-/var/lib/mysql-$DB_PORT}"
    socket="${MARIADB_SOCKET:-/run/mysqld/mysqld-$DB_PORT.sock}"
  fi
  pidfile="${socket%.sock}.pid"
  logfile="$datadir/mariadbd.err"
  mariadbd="$(command -v mariadbd || echo /usr/sbin/mariadbd)"
  [[ -x $mariadbd ]] || die "mariadbd not found although mariadb-server is installed"

  # /run/mysqld is on a tmpfs, gone after a reboot; without systemd nobody recreates it.
  install -d -o mysql -g mysql -m 0755 /run/mysqld
  [[ -d $(dirname "$socket") ]] || install -d -o mysql -g mysql -m 0755 "$(dirname "$socket")"
  if [[ ! -d $datadir/mysql ]]; then
    say "initialising datadir $datadir (mariadb-install-db)"
    install -d -o mysql -g mysql -m 0750 "$datadir"
    mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db --log-error="$logfile" \
      >"$datadir/install-db.log" 2>&1 || die "mariadb-install-db failed (see $datadir/install-db.log)"
  fi

  local bind=127.0.0.1
  [[ $DB_HOST == ::1 ]] && bind=::1
  local -a args=(--user=mysql --datadir="$datadir" --port="$DB_PORT" --bind-address="$bind"
    --socket="$socket" --pid-file="$pidfile" --log-error="$logfile")
  say "starting mariadbd on $bind:$DB_PORT (datadir $datadir, socket $socket, log $logfile)"
  if have start-stop-daemon; then
    # --pidfile makes --oknodo look only at this instance, not at any other mariadbd on the machine.
    start-stop-daemon --start --oknodo --quiet --background --pidfile "$pidfile" --exec "$mariadbd" -- "${args[@]}"
  else
    nohup "$mariadbd" "${args[@]}" </dev/null >/dev/null 2>&1 &
  fi

  local admin
  admin="$(command -v mariadb-admin || command -v mysqladmin)"
  local started=$SECONDS deadline=$((SECONDS + WAIT_SECONDS))
  until "$admin" --no-defaults --socket="$socket" --user=root --connect-timeout=2 ping >/dev/null 2>&1; do
    # After a few seconds the pid file must name a live mariadbd, or it died (bad datadir, port taken...).
    if ((SECONDS - started >= 5)) && ! { [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }; then
      tail -n 20 "$logfile" >&2 || true
      die "mariadbd is not running (log: $logfile)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 20 "$logfile" >&2 || true
      die "MariaDB did not answer on $socket within ${WAIT_SECONDS}s (log: $logfile)"
    fi
    sleep 0.2
  done
  say "MariaDB answers on $socket"
  grant_tcp_login "$socket"
}

# Over the socket (as the system root, which MariaDB's unix_socket plugin lets in as root):
# let DB_USER log in from localhost and 127.0.0.1 with the URL's password (empty by default).
grant_tcp_login() {
  local socket="$1" pw sql="" host auth
  pw="$(sql_string "$DB_PASS")"
  for host in localhost 127.0.0.1; do
    auth="mysql_native_password USING PASSWORD($pw)"
    # root@localhost keeps unix_socket too, so `mariadb` as the system root keeps working.
    [[ $DB_USER == root && $host == localhost ]] && auth="$auth OR unix_socket"
    sql+="CREATE USER IF NOT EXISTS $(sql_string "$DB_USER")@'$host' IDENTIFIED VIA $auth;"
    sql+="ALTER USER $(sql_string "$DB_USER")@'$host' IDENTIFIED VIA $auth;"
    sql+="GRANT ALL PRIVILEGES ON *.* TO $(sql_string "$DB_USER")@'$host' WITH GRANT OPTION;"
  done
  local client="${DB_CLIENT:-mariadb}"
  "$client" --no-defaults --socket="$socket" --user=root -e "$sql" ||
    die "could not set up the $DB_USER login over $socket"
  say "$DB_USER@localhost and $DB_USER@127.0.0.1 may log in over TCP with the URL's password"
}

ensure_database() {
  if tcp_open "$DB_HOST" "$DB_PORT"; then
    db_check_login found || db_login_hint
    return
  fi
  say "nothing answers at $DB_WHERE (MySQL/MariaDB)"
  is_local_host "$DB_HOST" ||
    die "$DB_HOST is not this machine: start the database there, or point DATABASE_URL at one that runs"

  if docker_usable; then
    [[ -z $DB_PASS ]] || die "compose.yaml's mysql has root with an empty password; DATABASE_URL has a password"
    MYSQL_PORT="$DB_PORT" compose_up mysql
    db_check_login started || die "the compose mysql answers, but the login from DATABASE_URL fails"
    return
  fi

  if is_debian_root; then
    if pkg_installed mariadb-server; then say "mariadb-server is installed"; else apt_install mariadb-server; fi
    DB_CLIENT="$(command -v mariadb || command -v mysql || true)"
    # The package's own init script may have started it while installing (port 3306 only).
    if tcp_open "$DB_HOST" "$DB_PORT" && db_check_login found; then return; fi
    start_mariadb
    db_check_login started || die "MariaDB runs, but the login from DATABASE_URL still fails"
    return
  fi

  die "cannot start MySQL/MariaDB here (no Docker engine, and not root on Debian/Ubuntu). Either run a
  MySQL 8.x or MariaDB 10.11+ server at $DB_WHERE that $DB_USER can log in to (Debian/Ubuntu:
  'sudo make services' installs and starts mariadb-server; elsewhere use your package manager), or
  install Docker and rerun 'make services', or set DATABASE_URL to a server that runs."
}

# ---------------------------------------------------------------- Redis

parse_url "$REDIS_URL" || die "REDIS_URL is not a URL: $REDIS_URL"
[[ $URL_SCHEME == redis || $URL_SCHEME == rediss ]] || die "REDIS_URL must start with redis:// (got $URL_SCHEME://)"
RD_SCHEME="$URL_SCHEME"
RD_HOST="${URL_HOST:-127.0.0.1}"
RD_PORT="${URL_PORT:-6379}"
RD_USER="$URL_USER"
RD_PASS="$URL_PASS"
RD_WHERE="$RD_HOST:$RD_PORT"

# Redis answers with its version (INFO server). Without redis-cli, speak RESP over /dev/tcp.
redis_version() {
  local out
  if have redis-cli && [[ $RD_SCHEME == redis ]]; then
    # Not `redis-cli -u`: it does not percent-decode the password, node-redis does.
    local -a auth=()
    [[ -z $RD_USER ]] || auth+=(--user "$RD_USER")
    [[ -z $RD_PASS ]] || auth+=(-a "$RD_PASS")
    out="$(timeout 5 redis-cli -h "$RD_HOST" -p "$RD_PORT" "${auth[@]}" --no-auth-warning INFO server 2>&1)" || true
  else
    out="$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "INFO server\r\n" >&3 && dd bs=4096 count=1 status=none <&3' \
      "$RD_HOST" "$RD_PORT" 2>/dev/null)" || true
  fi
  out="${out//$'\r'/}"
  if [[ $out =~ redis_version:([^$'\n']+) ]]; then
    echo "${BASH_REMATCH[1]}"
  else
    echo "? (${out%%$'\n'*})"
  fi
}

redis_check() {
  local verb="$1" v
  if [[ $RD_SCHEME == rediss ]]; then
    say "$verb something at $RD_WHERE (rediss://: TLS, not checked here)"
    return 0
  fi
  v="$(redis_version)"
  if [[ $v == '?'* ]]; then
    say "something answers at $RD_WHERE, but not as Redis with REDIS_URL's credentials: ${v#\? }"
    return 1
  fi
  say "$verb Redis $v at $RD_WHERE"
}

start_redis() {
  mkdir -p "$STATE_DIR"
  local log="$STATE_DIR/redis-$RD_PORT.log" bind=127.0.0.1
  [[ $RD_HOST == ::1 ]] && bind=::1
  local -a args=(--daemonize yes --bind "$bind" --port "$RD_PORT" --save "" --appendonly no
    --dir "$STATE_DIR" --logfile "$log" --pidfile "$STATE_DIR/redis-$RD_PORT.pid")
  [[ -z $RD_PASS ]] || args+=(--requirepass "$RD_PASS")
  say "starting redis-server on $bind:$RD_PORT (nothing saved to disk; log $log)"
  redis-server "${args[@]}" >/dev/null || die "redis-server did not start (see $log)"
  local deadline=$((SECONDS + WAIT_SECONDS))
  until tcp_open "$RD_HOST" "$RD_PORT"; do
    if ((SECONDS >= deadline)); then
      tail -n 20 "$log" >&2 || true
      die "Redis did not answer at $RD_WHERE within ${WAIT_SECONDS}s (log: $log)"
    fi
    sleep 0.1
  done
  redis_check started || die "Redis started, but REDIS_URL still cannot talk to it"
}

ensure_redis() {
  if tcp_open "$RD_HOST" "$RD_PORT"; then
    redis_check found || die "check REDIS_URL's password (redis://:PASSWORD@host:port) or what listens on $RD_WHERE"
    return
  fi
  say "nothing answers at $RD_WHERE (Redis)"
  is_local_host "$RD_HOST" ||
    die "$RD_HOST is not this machine: start Redis there, or point REDIS_URL at one that runs"
  [[ $RD_SCHEME == redis ]] || die "$RD_SCHEME:// (TLS) is not something this script starts: use redis://"

  if docker_usable; then
    [[ -z $RD_PASS ]] || die "compose.yaml's redis has no password; REDIS_URL has one"
    REDIS_PORT="$RD_PORT" compose_up redis
    redis_check started || die "the compose redis answers, but REDIS_URL cannot talk to it"
    return
  fi

  if ! have redis-server; then
    is_debian_root || die "cannot start Redis here (no Docker engine, no redis-server, and not root on
  Debian/Ubuntu). Install Redis 7 (Debian/Ubuntu: 'sudo apt-get install redis-server', or
  'sudo make services'), or install Docker and rerun 'make services', or set REDIS_URL to a Redis that runs."
    apt_install redis-server
    # The package's own init script may have started it while installing (port 6379 only).
    if tcp_open "$RD_HOST" "$RD_PORT" && redis_check found; then return; fi
  fi
  start_redis
}

# ---------------------------------------------------------------- main

ensure_database
ensure_redis
