#!/usr/bin/env bash
# Fetch GraphiQL and React from the npm registry into DEST (default api/static/graphiql),
# so the app serves GraphiQL with no internet at run time. Used by bootstrap and Docker.
source "$(dirname "$0")/common.sh"
dest=${1:-$ROOT/api/static/graphiql}
[ -f "$dest/.complete" ] && exit 0
if ! command -v npm >/dev/null; then
  apt_install nodejs npm
fi
log "fetching GraphiQL assets (graphiql, react, react-dom) with npm pack"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent graphiql@3.8.3 react@18.3.1 react-dom@18.3.1 >/dev/null)
mkdir -p "$dest"
extract() {  # tarball, path inside it
  tar -xzf "$tmp/$1" -C "$tmp" "package/$2"
  cp "$tmp/package/$2" "$dest/"
  rm -rf "$tmp/package"
}
extract graphiql-3.8.3.tgz graphiql.min.js
extract graphiql-3.8.3.tgz graphiql.min.css
extract react-18.3.1.tgz umd/react.production.min.js
extract react-dom-18.3.1.tgz umd/react-dom.production.min.js
touch "$dest/.complete"
