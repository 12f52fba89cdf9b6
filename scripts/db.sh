#!/usr/bin/env bash
# The embedded PostgreSQL + PostGIS cluster, kept in .pg/ inside the project.
#   scripts/db.sh start   install PostgreSQL/PostGIS if missing, init once, start; prints DATABASE_URL
#   scripts/db.sh stop    stop the cluster
#   scripts/db.sh status  running or not
#   scripts/db.sh url     print DATABASE_URL of a running cluster
#   scripts/db.sh psql    open psql as the cluster's superuser
# PostgreSQL refuses to run as root, so the server runs as the `postgres` system user.
# When that user cannot reach the project folder (a clone inside a root-only
# `mktemp -d`), the data lives under /var/lib/landguard/<hash of the path> and .pg is
# a symlink to it. The port is a free one chosen at first start, never assumed.
source "$(dirname "$0")/common.sh"

PGLINK="$ROOT/.pg"
DBNAME=landguard
DBUSER=landguard

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  echo "$d"
}

install_postgres() {
  local bindir ver
  bindir=$(pg_bindir)
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    apt_install postgresql postgresql-contrib
    bindir=$(pg_bindir)
  fi
  ver=$(basename "$(dirname "$bindir")")
  if ! ls /usr/share/postgresql/"$ver"/extension/postgis.control >/dev/null 2>&1; then
    apt_install "postgresql-$ver-postgis-3"
  fi
  id postgres >/dev/null 2>&1 || die "the postgres system user is missing (the postgresql package creates it)"
}

as_pg() {
  # from / : the postgres user may not be allowed into the caller's working directory
  if [ "$(id -un)" = postgres ]; then (cd / && "$@"); else (cd / && runuser -u postgres -- "$@"); fi
}

pg_home() {
  # Where the cluster lives; created on first use.
  if [ -L "$PGLINK" ] || [ -d "$PGLINK" ]; then
    readlink -f "$PGLINK"; return
  fi
  if as_pg test -x "$ROOT" && as_pg test -r "$ROOT"; then
    mkdir -p "$PGLINK"
  else
    local real="/var/lib/landguard/$(printf %s "$ROOT" | sha1sum | cut -c1-12)"
    log "the postgres user cannot enter $ROOT; keeping the cluster in $real (.pg links there)"
    mkdir -p "$real"
    chmod 755 /var/lib/landguard
    ln -sfn "$real" "$PGLINK"
  fi
  readlink -f "$PGLINK"
}

running_port() {
  # Port of our running postmaster, or nothing.
  local home=$1 bindir=$2
  if [ -f "$home/data/postmaster.pid" ] && as_pg "$bindir/pg_ctl" -D "$home/data" status >/dev/null 2>&1; then
    sed -n 4p "$home/data/postmaster.pid"
  fi
}

url_for() {
  local home=$1 port=$2
  printf 'postgresql+psycopg://%s:%s@127.0.0.1:%s/%s\n' "$DBUSER" "$(cat "$home/password")" "$port" "$DBNAME"
}

cmd_start() {
  install_postgres
  local bindir home port
  bindir=$(pg_bindir)
  home=$(pg_home)
  if [ ! -f "$home/data/PG_VERSION" ]; then
    log "initialising the embedded cluster in $home"
    rm -rf "$home/data"
    mkdir -p "$home/data" "$home/run" "$home/log"
    chown -R postgres:postgres "$home"
    chmod 700 "$home/data"
    as_pg "$bindir/initdb" -D "$home/data" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >"$home/log/initdb.log" 2>&1 \
      || { cat "$home/log/initdb.log" >&2; die "initdb failed"; }
    python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$home/password"
    chmod 600 "$home/password"
    rm -f "$home/port"
  fi
  port=$(running_port "$home" "$bindir")
  if [ -z "$port" ]; then
    port=$(cat "$home/port" 2>/dev/null || true)
    if [ -z "$port" ] || port_in_use "$port"; then
      port=$(free_port)
    fi
    echo "$port" >"$home/port"
    log "starting PostgreSQL on 127.0.0.1:$port"
    as_pg "$bindir/pg_ctl" -D "$home/data" -l "$home/log/postgres.log" -w -t 60 \
      -o "-p $port -k $home/run -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=512MB -c fsync=${LANDGUARD_PG_FSYNC:-on}" \
      start >/dev/null || { tail -n 30 "$home/log/postgres.log" >&2; die "PostgreSQL did not start"; }
  fi
  local pw
  pw=$(cat "$home/password")
  as_pg "$bindir/psql" -h "$home/run" -p "$port" -U postgres -d postgres -qtA -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT format('CREATE ROLE %I LOGIN SUPERUSER PASSWORD %L', '$DBUSER', '$pw')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DBUSER') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', '$DBNAME', '$DBUSER')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$DBNAME') \gexec
SQL
  as_pg "$bindir/psql" -h "$home/run" -p "$port" -U postgres -d "$DBNAME" -qtA -v ON_ERROR_STOP=1 \
    -c 'CREATE EXTENSION IF NOT EXISTS postgis' >/dev/null
  url_for "$home" "$port"
}

cmd_stop() {
  local bindir home
  bindir=$(pg_bindir)
  [ -e "$PGLINK" ] || { log "no embedded cluster"; return 0; }
  home=$(readlink -f "$PGLINK")
  if [ -n "$(running_port "$home" "$bindir")" ]; then
    as_pg "$bindir/pg_ctl" -D "$home/data" -m fast -w stop >/dev/null
    log "embedded PostgreSQL stopped"
  fi
}

cmd_url() {
  local bindir home port
  bindir=$(pg_bindir)
  home=$(readlink -f "$PGLINK")
  port=$(running_port "$home" "$bindir")
  [ -n "$port" ] || die "the embedded cluster is not running (scripts/db.sh start)"
  url_for "$home" "$port"
}

cmd_status() {
  local bindir home port
  bindir=$(pg_bindir)
  [ -e "$PGLINK" ] || { echo "not initialised"; return 1; }
  home=$(readlink -f "$PGLINK")
  port=$(running_port "$home" "$bindir")
  if [ -n "$port" ]; then echo "running on 127.0.0.1:$port ($home)"; else echo "stopped ($home)"; return 1; fi
}

cmd_psql() {
  local bindir home port
  bindir=$(pg_bindir)
  home=$(readlink -f "$PGLINK")
  port=$(running_port "$home" "$bindir")
  exec runuser -u postgres -- "$bindir/psql" -h "$home/run" -p "$port" -U postgres -d "$DBNAME" "$@"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  url) cmd_url ;;
  status) cmd_status ;;
  psql) shift; cmd_psql "$@" ;;
  *) die "usage: scripts/db.sh start|stop|status|url|psql" ;;
esac
