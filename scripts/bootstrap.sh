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

assets="$ROOT/api/static/graphiql"
if [ ! -f "$assets/.complete" ]; then
  if ! command -v npm >/dev/null; then
    apt_install nodejs npm
  fi
  log "fetching GraphiQL assets (graphiql, react, react-dom) with npm pack"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent graphiql@3.8.3 react@18.3.1 react-dom@18.3.1 >/dev/null)
  mkdir -p "$assets"
  tar -xzf "$tmp/graphiql-3.8.3.tgz" -C "$tmp" package/graphiql.min.js package/graphiql.min.css
  cp "$tmp/package/graphiql.min.js" "$tmp/package/graphiql.min.css" "$assets/"
  rm -rf "$tmp/package"
  tar -xzf "$tmp/react-18.3.1.tgz" -C "$tmp" package/umd/react.production.min.js
  cp "$tmp/package/umd/react.production.min.js" "$assets/"
  rm -rf "$tmp/package"
  tar -xzf "$tmp/react-dom-18.3.1.tgz" -C "$tmp" package/umd/react-dom.production.min.js
  cp "$tmp/package/umd/react-dom.production.min.js" "$assets/"
  rm -rf "$tmp"
  touch "$assets/.complete"
fi
