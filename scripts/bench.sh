#!/usr/bin/env bash
# The benchmark (bench/README.md). One command:
#   scripts/bench.sh run [--parcels N] [--duration S] [--clients C] [--warmup S] [-- run.py options]
#   scripts/bench.sh generate [--parcels N]
# `run` starts the embedded cluster (scripts/db.sh), loads the synthetic data set into the
# database landguard_bench (landguard_bench1m for --parcels 1000000, landguard_bench_N
# otherwise) when it is missing or holds another parcel count, starts the API
# on a free port against it, runs bench/run.py (API over HTTP vs. the same SQL in pgbench)
# and stops the API again. BENCH_DATABASE_URL points it at another server instead.
source "$(dirname "$0")/common.sh"

BENCH_DB=landguard_bench
PARCELS=100000
DURATION=20
CLIENTS=8
WARMUP=3
# one worker per core: the Python-bound scenarios need both (LANDGUARD_WORKERS=1 to compare)
WORKERS=${LANDGUARD_WORKERS:-2}
# the generated data is a 2024 snapshot (like the demo): "today" for overdue and the
# current-state land guarantee of 2024
export LANDGUARD_REFERENCE_DATE=${LANDGUARD_REFERENCE_DATE:-2024-10-31}
EXTRA=()

usage() {
  die "usage: scripts/bench.sh run|generate [--parcels N] [--duration S] [--clients C] [--warmup S] [-- run.py options]"
}

cmd=${1:-}
[ -n "$cmd" ] || usage
shift
while [ $# -gt 0 ]; do
  case "$1" in
    --parcels) PARCELS=${2:?}; shift 2 ;;
    --duration) DURATION=${2:?}; shift 2 ;;
    --clients) CLIENTS=${2:?}; shift 2 ;;
    --warmup) WARMUP=${2:?}; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) usage ;;
  esac
done
[[ "$PARCELS" =~ ^[0-9]+$ ]] || die "--parcels must be a number"
# one database per size, so a million-parcel run never replaces the 100,000 set
case "$PARCELS" in
  100000) ;;
  1000000) BENCH_DB=landguard_bench1m ;;
  *) BENCH_DB=landguard_bench_$PARCELS ;;
esac

cd "$ROOT"
[ -x "$PY" ] || bash "$ROOT/scripts/bootstrap.sh"

bench_url() {
  # The benchmark database on the embedded cluster (or BENCH_DATABASE_URL).
  if [ -n "${BENCH_DATABASE_URL:-}" ]; then
    echo "$BENCH_DATABASE_URL"
    return
  fi
  local url
  url=$(bash "$ROOT/scripts/db.sh" start)
  echo "${url%/*}/$BENCH_DB"
}

# Parcel count of the benchmark database; "missing" when it or its tables do not exist,
# "stale" when its schema is not at the Alembic head of this checkout.
parcel_count() {
  local head
  head=$(cd "$ROOT" && "$PY" -c 'from api.app import alembic_head; print(alembic_head())')
  BENCH_URL=$1 "$PY" - "$head" <<'PY'
import os, re, sys
import psycopg
url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", os.environ["BENCH_URL"])
try:
    with psycopg.connect(url, connect_timeout=10) as conn:
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        count = conn.execute("SELECT count(*) FROM parcel").fetchone()[0]
except (psycopg.OperationalError, psycopg.errors.UndefinedTable):
    print("missing")
else:
    print(count if revision and revision[0] == sys.argv[1] else "stale")
PY
}

generate() {
  local url=$1
  [ -f "$ROOT/bench/generate.py" ] || die "bench/generate.py is missing: cannot load the benchmark data"
  log "loading $PARCELS parcels into $BENCH_DB (bench/generate.py --recreate)"
  # URLs (with their password) go through the environment, not the command line.
  DATABASE_URL=$url "$PY" "$ROOT/bench/generate.py" --parcels "$PARCELS" --recreate
  log "VACUUM ANALYZE"
  BENCH_URL=$url "$PY" - <<'PY'
import os, re
import psycopg
url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", os.environ["BENCH_URL"])
with psycopg.connect(url, autocommit=True) as conn:
    conn.execute("VACUUM (ANALYZE)")
PY
}

ensure_data() {
  local url=$1 have
  have=$(parcel_count "$url")
  if [ "$have" = "$PARCELS" ]; then
    log "$BENCH_DB already holds $PARCELS parcels"
  else
    log "$BENCH_DB: ${have} (want $PARCELS parcels at the current schema)"
    generate "$url"
    have=$(parcel_count "$url")
    [ "$have" = "$PARCELS" ] || die "after generating, $BENCH_DB holds $have parcels, not $PARCELS"
  fi
}

API_PID=
API_LOG=
stop_api() {
  # The uvicorn supervisor stops its workers on SIGTERM; any worker left is killed by pid.
  local workers pid
  if [ -n "$API_PID" ] && kill -0 "$API_PID" 2>/dev/null; then
    workers=$(pgrep -P "$API_PID" || true)
    kill -TERM "$API_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$API_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$API_PID" 2>/dev/null || true
    for pid in $workers; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  [ -z "$API_LOG" ] || rm -f "$API_LOG"
}

start_api() {
  local url=$1 port
  port=$(free_port)
  API_LOG=$(mktemp /tmp/landguard-bench-api.XXXXXX)
  trap stop_api EXIT
  trap 'exit 130' INT TERM
  log "starting the API on 127.0.0.1:$port ($WORKERS workers) against $BENCH_DB"
  DATABASE_URL=$url LANDGUARD_HOST=127.0.0.1 LANDGUARD_PORT=$port LANDGUARD_WORKERS=$WORKERS \
    LANDGUARD_LOG_LEVEL=warning "$PY" -m api serve >"$API_LOG" 2>&1 &
  API_PID=$!
  API_URL="http://127.0.0.1:$port"
  local deadline=$((SECONDS + 60))
  until "$PY" - "$API_URL/readyz" <<'PY' 2>/dev/null
import sys, urllib.request
sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).status == 200 else 1)
PY
  do
    kill -0 "$API_PID" 2>/dev/null || { cat "$API_LOG" >&2; die "the API exited"; }
    [ "$SECONDS" -lt "$deadline" ] || { cat "$API_LOG" >&2; die "the API was not ready within 60 s"; }
    sleep 0.5
  done
}

case "$cmd" in
  generate)
    url=$(bench_url)
    BENCH_DB=${url##*/}
    generate "$url"
    log "done: $(parcel_count "$url") parcels in $BENCH_DB"
    ;;
  run)
    url=$(bench_url)
    BENCH_DB=${url##*/}
    ensure_data "$url"
    start_api "$url"
    if ! DATABASE_URL=$url "$PY" "$ROOT/bench/run.py" --api-url "$API_URL" \
      --api-pid "$API_PID" --api-workers "$WORKERS" --duration "$DURATION" --warmup "$WARMUP" \
      --clients "$CLIENTS" "${EXTRA[@]}"; then
      log "bench/run.py failed; the API's log ends with:"
      tail -n 30 "$API_LOG" >&2
      exit 1
    fi
    if grep -q -i -E 'error|exception|traceback' "$API_LOG"; then
      log "the API logged problems during the run:"
      grep -i -E -m 20 'error|exception|traceback' "$API_LOG" >&2 || true
    fi
    ;;
  *) usage ;;
esac
