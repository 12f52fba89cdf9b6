#!/usr/bin/env bash
# Python venv with the project's pinned packages, and GraphiQL's static assets
# (fetched from the npm registry at install time, served by the app itself so
# GraphiQL works on offline government networks). Idempotent and quick when done.
source "$(dirname "$0")/common.sh"

if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  apt_install python3 python3-venv python3-pip
fi

stamp_src=$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha1sum | cut -c1-16)
stamp="$VENV/.installed-$stamp_src"
if [ ! -f "$stamp" ]; then
  log "creating Python environment in .venv"
  [ -x "$PY" ] || python3 -m venv "$VENV"
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q -c "$ROOT/constraints.txt" -e "$ROOT[dev]"
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi

bash "$ROOT/scripts/graphiql-assets.sh" "$ROOT/api/static/graphiql"

# GDAL's ogrinfo lets the tests open our GeoJSON and OGC API output the way QGIS does;
# optional (that test skips without it), so a failed install does not stop anything.
if ! command -v ogrinfo >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  ( apt_install gdal-bin ) || log "gdal-bin could not be installed; the ogrinfo test will skip"
fi
