#!/bin/sh
# Migrate, optionally load the demo set, then run the given CLI command (default: serve).
set -e
python -m api migrate
if [ "${LANDGUARD_SEED_DEMO:-0}" = "1" ]; then
  python -m api seed --demo --if-empty
fi
exec python -m api "$@"
