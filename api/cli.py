"""Command line: `python -m api serve | migrate | seed --demo | downgrade | token | import`."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import re
import sys
import time

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from api.app import ROOT
from api.settings import AuthSettings, Settings
from geo.db import sync_url

log = logging.getLogger("landguard.cli")


def _alembic(settings: Settings) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.cmd_opts = argparse.Namespace(x=[f"url={settings.database_url}"])
    return cfg


def migrate(settings: Settings, revision: str = "head") -> None:
    command.upgrade(_alembic(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(_alembic(settings), revision)


def seed_demo(settings: Settings, *, seed: int, if_empty: bool) -> int:
    from geo.seed.demo import load_demo

    engine = create_engine(sync_url(settings.database_url))
    try:
        with engine.begin() as conn:
            existing = conn.execute(text("SELECT count(*) FROM project")).scalar_one()
            if existing:
                if if_empty:
                    print(f"demo data already present ({existing} projects); keeping it")
                    return 0
                print(
                    "the database already holds projects; refusing to seed twice", file=sys.stderr
                )
                return 1
            started = time.perf_counter()
            counts = load_demo(conn, seed=seed)
        took = time.perf_counter() - started
        print(
            f"loaded the Jincheng 2024 demo set (seed {seed}) in {took:.1f}s: "
            + ", ".join(f"{k} {v}" for k, v in counts.items())
        )
        return 0
    finally:
        engine.dispose()


def import_file(settings: Settings, args: argparse.Namespace) -> int:
    """`python -m api import KIND FILE`: exit 0 when written (or a clean dry run), 1 when
    rows were bad and nothing was written, 2 when the file or the write failed as a whole."""
    from pathlib import Path

    from sqlalchemy.exc import DBAPIError

    from geo.imports import ImportOptions, Kind, run_import
    from geo.imports.report import ImportFileError, write_report

    options = ImportOptions(
        kind=Kind(args.kind),
        path=Path(args.file),
        skip_invalid=args.skip_invalid,
        dry_run=args.dry_run,
        mode=args.mode,
        actor_sub=args.actor,
        layer=args.layer,
        encoding=args.encoding,
        srid=args.srid,
        sheet=args.sheet,
        max_vertices=args.max_vertices,
        key_list_year=args.year,
        plan_type=args.plan_type,
        source=args.source,
        progress=True,
    )
    engine = create_engine(sync_url(settings.database_url))
    try:
        result = run_import(engine, options)
    except ImportFileError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return 2
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        print(f"the write failed, nothing was written: {reason}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    for error in result.errors:
        print(error.line(), file=sys.stderr)
    if args.report:
        write_report(result, Path(args.report))
    print(result.text())
    if result.errors and not (args.skip_invalid and result.written) and not args.dry_run:
        return 1
    return 1 if args.dry_run and result.errors else 0


def import_investment_file(settings: Settings, args: argparse.Namespace) -> int:
    """`python -m api import investment FILE.xlsx`: monthly investment reports (月度投资完成).
    Exit 0 when written (or a clean dry run), 1 when rows were bad (nothing written), 2 when
    the file could not be read or the write failed."""
    from pathlib import Path

    from sqlalchemy.exc import DBAPIError

    from geo.imports.investment import import_investment
    from geo.imports.report import ImportFileError

    engine = create_engine(sync_url(settings.database_url))
    try:
        result = import_investment(
            engine, Path(args.file), actor_sub=args.actor, sheet=args.sheet, dry_run=args.dry_run
        )
    except ImportFileError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return 2
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        print(f"the write failed, nothing was written: {reason}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    for error in result.errors:
        print(error.line(), file=sys.stderr)
    print(result.text())
    return 1 if result.errors else 0


_TTL = re.compile(r"^(\d+)([smhd])$")
_TTL_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DEV_TTL = dt.timedelta(days=30)


def parse_ttl(raw: str) -> dt.timedelta:
    """`90s`, `15m`, `8h`, `7d` → a lifetime, at most 30 days."""
    match = _TTL.match(raw.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"--ttl {raw!r}: use a number and s/m/h/d, e.g. 8h")
    ttl = dt.timedelta(seconds=int(match[1]) * _TTL_UNIT[match[2]])
    if not dt.timedelta(0) < ttl <= MAX_DEV_TTL:
        raise argparse.ArgumentTypeError("--ttl must be more than 0 and at most 30d")
    return ttl


def dev_token(args: argparse.Namespace) -> int:
    """Print a development token; it needs no database (so not Settings.from_env)."""
    from api.auth import sign_dev_token
    from geo.actor import Role

    env = os.environ
    if env.get("LANDGUARD_ENV", "development") == "production":
        print(
            "dev tokens are refused in production; tokens come from the bureau's OIDC "
            "provider there (README, Authentication)",
            file=sys.stderr,
        )
        return 2
    role = Role(args.role)
    counties = sorted(set(args.county or []))
    if role is Role.COUNTY_OFFICER and not counties:
        print("a COUNTY_OFFICER token needs --county CODE (e.g. 140521)", file=sys.stderr)
        return 2
    if role is not Role.COUNTY_OFFICER and counties:
        print(f"--county is only for COUNTY_OFFICER; {role.value} is city-wide", file=sys.stderr)
        return 2
    from schema.permissions import COUNTY_CODES

    unknown = [c for c in counties if c not in COUNTY_CODES]
    if unknown:
        print(f"unknown county {unknown}; one of {sorted(COUNTY_CODES)}", file=sys.stderr)
        return 2
    settings = AuthSettings.from_env(env, production=False)
    print(sign_dev_token(settings, sub=args.sub, role=role, counties=counties, ttl=args.ttl))
    return 0


def serve(settings: Settings) -> None:
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "api.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,
        lifespan="on",
    )
    if settings.workers <= 1:
        uvicorn.Server(config).run()
        return
    # uvicorn's own socket for --workers is made without proto=IPPROTO_TCP, so asyncio
    # never sets TCP_NODELAY on accepted connections and every keep-alive response waits
    # ~40 ms for the client's delayed ACK (measured: /healthz 44 ms instead of 0.7 ms).
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    sock.set_inheritable(True)
    log.info(
        "serving on http://%s:%d with %d workers", settings.host, settings.port, settings.workers
    )
    Multiprocess(config, sockets=[sock]).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api", description="landguard command line")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("serve", help="serve the API (LANDGUARD_HOST/LANDGUARD_PORT)")
    sub.add_parser("schema", help="print the GraphQL schema (SDL); schema.graphql is its copy")
    m = sub.add_parser("migrate", help="alembic upgrade")
    m.add_argument("revision", nargs="?", default="head")
    d = sub.add_parser("downgrade", help="alembic downgrade")
    d.add_argument("revision")
    s = sub.add_parser("seed", help="load a data set")
    s.add_argument("--demo", action="store_true", required=True, help="the Jincheng 2024 demo set")
    s.add_argument("--seed", type=int, default=2024, help="random seed (same seed, same data)")
    s.add_argument("--if-empty", action="store_true", help="do nothing when data is present")
    t = sub.add_parser(
        "token",
        help="print a signed development token (the local dev key; not in production)",
        description="Sign a bearer token with the local development key (LANDGUARD_JWT_DEV_KEY, "
        "made on first use). Use it as `Authorization: Bearer <token>`.",
    )
    from geo.actor import Role

    t.add_argument("--role", required=True, choices=[r.value for r in Role])
    t.add_argument("--county", action="append", help="GB/T 2260 code (COUNTY_OFFICER; repeatable)")
    t.add_argument("--sub", default="dev", help="the token's subject (user id); default dev")
    t.add_argument("--ttl", type=parse_ttl, default=dt.timedelta(hours=8), help="e.g. 8h, 30m, 7d")
    _import_parser(sub)
    dp = sub.add_parser("dispatch", help="四级调度 four-level dispatch jobs")
    dsub = dp.add_subparsers(dest="dispatch_cmd", required=True)
    de = dsub.add_parser(
        "escalate",
        help="escalate every unresolved issue due on or before --as-of (idempotent; "
        "geo/dispatch_rules.py)",
    )
    de.add_argument("--as-of", type=dt.date.fromisoformat, help="YYYY-MM-DD (default today)")
    de.add_argument("--as", dest="actor", default="system:dispatch", metavar="SUB")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.cmd == "token":
        return dev_token(args)
    if args.cmd == "schema":
        from schema.build import build_schema

        print(build_schema().as_str())
        return 0
    settings = Settings.from_env()
    if args.cmd == "serve":
        serve(settings)
    elif args.cmd == "migrate":
        migrate(settings, args.revision)
    elif args.cmd == "downgrade":
        downgrade(settings, args.revision)
    elif args.cmd == "seed":
        return seed_demo(settings, seed=args.seed, if_empty=args.if_empty)
    elif args.cmd == "import" and args.kind == "investment":
        return import_investment_file(settings, args)
    elif args.cmd == "import":
        return import_file(settings, args)
    elif args.cmd == "dispatch":
        return escalate(
            settings, args.as_of or settings.reference_date or dt.date.today(), args.actor
        )
    return 0


def escalate(settings: Settings, as_of: dt.date, actor_sub: str) -> int:
    """`python -m api dispatch escalate --as-of DATE`: the escalation job in one transaction,
    as a system actor (audited); prints one line per escalation."""
    import asyncio

    from geo.actor import Actor, Role, bind_actor
    from geo.db import create_engine as create_async
    from geo.db import session_factory
    from geo.dispatch import escalate_due

    async def run() -> list[object]:
        engine = create_async(settings.database_url, pool_size=1)
        try:
            async with session_factory(engine)() as s, s.begin():
                await bind_actor(s, Actor(sub=actor_sub, role=Role.CITY_ADMIN, counties=None))
                return await escalate_due(s, as_of)
        finally:
            await engine.dispose()

    rows = asyncio.run(run())
    for r in rows:
        print(f"{r.code}: {r.from_level} → {r.to_level} on {r.escalated_on} (due {r.new_due})")  # type: ignore[attr-defined]
    print(f"escalated as of {as_of.isoformat()}: {len(rows)} escalations")
    return 0


def _import_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    i = sub.add_parser(
        "import",
        help="bulk import (批量导入) parcels, zones, admin areas (GeoJSON/Shapefile/GeoPackage) "
        "or projects (.xlsx)",
        description="Validates every row first; writes nothing when a row is bad unless "
        "--skip-invalid; one transaction. See README 'Bulk import'.",
    )
    i.add_argument("kind", choices=["parcels", "zones", "admin-areas", "projects", "investment"])
    i.add_argument(
        "file", help=".geojson, .shp, .gpkg (spatial) or .xlsx (projects, investment reports)"
    )
    i.add_argument("--skip-invalid", action="store_true", help="write the good rows anyway")
    i.add_argument("--dry-run", action="store_true", help="validate and write, then roll back")
    i.add_argument(
        "--mode",
        choices=["insert", "upsert"],
        default="insert",
        help="insert: an existing code is a row error (default); upsert: update it "
        "(zones, admin areas, projects)",
    )
    i.add_argument("--report", help="write the bad rows to FILE.json or FILE.csv")
    i.add_argument(
        "--as",
        dest="actor",
        default="system:import",
        metavar="SUB",
        help="who imports, for the audit trail (default system:import)",
    )
    i.add_argument("--layer", help="GeoPackage layer (needed when there are several)")
    i.add_argument("--encoding", help="attribute encoding of a Shapefile without .cpg, e.g. GBK")
    i.add_argument("--srid", type=int, help="CRS of a file that does not say (e.g. no .prj)")
    i.add_argument("--sheet", help="Excel sheet name (default: the first)")
    i.add_argument("--max-vertices", type=int, default=20_000, help="per geometry")
    i.add_argument("--year", type=int, help="key-list year of key projects (default: this year)")
    i.add_argument("--plan-type", help="plan type when the sheet has no column: 计划开工/前期/续建")
    i.add_argument("--source", help="source note for zones/admin areas (default: the file name)")
