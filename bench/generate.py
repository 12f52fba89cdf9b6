"""Load the Jincheng demo data set at benchmark scale.

    .venv/bin/python bench/generate.py --parcels 100000 [--database-url URL] [--seed 2024] [--recreate]

Migrates the database with Alembic, then calls `geo.seed.demo.load_demo(parcels=N)` in one
transaction: exactly N parcels, projects ≈ N / 2.5 with the demo's shares (plan types, key
projects, statuses). Parcel sites shrink with N so that every project keeps its own grid
cell, so parcels get smaller than the demo's 0.5–50 ha (about 0.07–5 ha at 100,000).

A database that already holds data is refused unless --recreate, which drops and recreates
it (through the server's `postgres` database) with the PostGIS extension. A missing
database is created. Timings per phase and row counts are printed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Engine, create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from geo.db import sync_url  # noqa: E402
from geo.seed.demo import load_demo  # noqa: E402

PROTECTED_DATABASES = ("postgres", "template0", "template1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Load the Jincheng demo data set at benchmark scale."
    )
    parser.add_argument("--parcels", type=int, required=True, help="exact number of parcels")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="target database (default: $DATABASE_URL)",
    )
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--recreate",
        action="store_true",
        help="drop and recreate the database first (it may hold data)",
    )
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("no --database-url and DATABASE_URL is not set")
    if args.parcels < 100:
        parser.error("--parcels must be at least 100")
    return args


def maintenance_engine(url: URL) -> Engine:
    """AUTOCOMMIT connection to the server's `postgres` database (CREATE/DROP DATABASE)."""
    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def quoted(engine: Engine, name: str) -> str:
    return engine.dialect.identifier_preparer.quote_identifier(name)


def database_exists(admin: Engine, name: str) -> bool:
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        return found.first() is not None


def prepare_database(url: URL, *, recreate: bool) -> None:
    """Create (or with `recreate`, drop and create) the database, with PostGIS."""
    name = url.database
    if not name or name in PROTECTED_DATABASES:
        raise SystemExit(f"refusing to use database {name!r}")
    admin = maintenance_engine(url)
    try:
        exists = database_exists(admin, name)
        with admin.connect() as conn:
            if exists and recreate:
                print(f"dropping database {name}", flush=True)
                conn.execute(text(f"DROP DATABASE {quoted(admin, name)}"))
                exists = False
            if not exists:
                conn.execute(text(f"CREATE DATABASE {quoted(admin, name)}"))
    finally:
        admin.dispose()
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    finally:
        engine.dispose()


def holds_data(engine: Engine) -> bool:
    """True when any table the loader fills already has rows (or exists with rows)."""
    with engine.connect() as conn:
        present = conn.execute(text("SELECT to_regclass('public.parcel') IS NOT NULL")).scalar_one()
        if not present:
            return False
        return bool(
            conn.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM parcel) OR EXISTS (SELECT 1 FROM project)"
                    " OR EXISTS (SELECT 1 FROM admin_area)"
                )
            ).scalar_one()
        )


def migrate(engine: Engine) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = make_url(sync_url(args.database_url))
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("geo.seed").setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)

    started = time.perf_counter()
    prepare_database(url, recreate=args.recreate)
    engine = create_engine(url)
    try:
        if holds_data(engine):
            raise SystemExit(
                f"database {url.database} already holds data: use --recreate to replace it"
            )
        migrate(engine)
        prepared = time.perf_counter()
        print(
            f"database ready in {prepared - started:.1f} s; loading {args.parcels} parcels "
            f"(seed {args.seed})",
            flush=True,
        )
        with engine.begin() as conn:
            counts = load_demo(conn, seed=args.seed, parcels=args.parcels)
            committing = time.perf_counter()
        done = time.perf_counter()
    finally:
        engine.dispose()
    print(
        f"load {committing - prepared:.1f} s, commit {done - committing:.1f} s, "
        f"total {done - started:.1f} s"
    )
    width = max(map(len, counts))
    for table, n in counts.items():
        print(f"  {table:<{width}} {n:>10,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
