#!/usr/bin/env bash
# make test: bootstrap, database, then the whole pytest suite. The tests create their
# own throwaway databases on that server (migrated with Alembic) and drop them after.
source "$(dirname "$0")/common.sh"
bash "$ROOT/scripts/bootstrap.sh"

started_here=0
if [ -z "${DATABASE_URL:-}" ]; then
  if ! bash "$ROOT/scripts/db.sh" status >/dev/null 2>&1; then started_here=1; fi
  DATABASE_URL=$(bash "$ROOT/scripts/db.sh" start)
  export DATABASE_URL
fi
cleanup() {
  if [ "$started_here" = 1 ]; then bash "$ROOT/scripts/db.sh" stop; fi
}
trap cleanup EXIT

cd "$ROOT"
"$PY" -m pytest "$@"
