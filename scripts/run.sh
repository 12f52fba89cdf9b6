#!/usr/bin/env bash
# make run: bootstrap, database (embedded unless DATABASE_URL is set), migrate, demo data, serve.
source "$(dirname "$0")/common.sh"
bash "$ROOT/scripts/bootstrap.sh"

if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL=$(bash "$ROOT/scripts/db.sh" start)
  export DATABASE_URL
  log "embedded PostGIS is up (stop it with: make db-stop)"
  # The demo is a snapshot of plan year 2024 as of 2024-10-31: judge overdue items then.
  export LANDGUARD_REFERENCE_DATE=${LANDGUARD_REFERENCE_DATE:-2024-10-31}
else
  log "using DATABASE_URL from the environment; no local database is installed"
fi

cd "$ROOT"
log "applying migrations"
"$PY" -m api migrate
"$PY" -m api seed --demo --if-empty

export LANDGUARD_HOST=${LANDGUARD_HOST:-127.0.0.1}
if [ -z "${LANDGUARD_PORT:-}" ]; then
  LANDGUARD_PORT=8000
  if port_in_use 8000; then
    LANDGUARD_PORT=$(free_port)
    log "port 8000 is taken; serving on $LANDGUARD_PORT instead (set LANDGUARD_PORT to choose)"
  fi
fi
export LANDGUARD_PORT
log "GraphQL + GraphiQL: http://$LANDGUARD_HOST:$LANDGUARD_PORT/graphql   (Ctrl-C stops the API)"
if [ "${LANDGUARD_ENV:-development}" != production ]; then
  # Reads need no token; writes do. The dev key is made on first use (.dev-keys/, gitignored).
  log "a local token for writes (roles: CITY_ADMIN LAND_BUREAU COUNTY_OFFICER TASK_FORCE ANALYST):"
  log "  TOKEN=\$(.venv/bin/python -m api token --role COUNTY_OFFICER --county 140521 --sub alice --ttl 8h)"
  log "  curl -s http://$LANDGUARD_HOST:$LANDGUARD_PORT/graphql -H \"Authorization: Bearer \$TOKEN\" -H 'Content-Type: application/json' -d '{\"query\":\"{ me { sub role counties } }\"}'"
fi
exec "$PY" -m api serve
