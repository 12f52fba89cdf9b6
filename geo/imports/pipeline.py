"""One import from file to store: read → check each row in Python → stage → check in
PostGIS → write the good rows (or nothing) → summary. All in one transaction.

Nothing is written when any row is bad, unless `skip_invalid`; a dry run does the writes
too (so write-time failures show) and rolls everything back. Before anything else the
transaction is bound to the importing actor (`system:import` by default), so the audit
trail and row-level security see who imported.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from sqlalchemy import Connection, Engine, text

from geo.actor import Actor, Role, bind_actor
from geo.geometry_input import DEFAULT_MAX_VERTICES, GeometryInputError, check_geometry
from geo.imports import fields as F
from geo.imports import records, staging, writers
from geo.imports.progress import phase, progress
from geo.imports.report import ImportFileError, ImportResult, Kind, RowError
from geo.imports.sheet import open_sheet
from geo.imports.sources import SpatialSource, open_spatial

POLYGONAL = frozenset({"Polygon", "MultiPolygon"})
FIELDS = {
    Kind.PARCELS: F.PARCEL_FIELDS,
    Kind.ZONES: F.ZONE_FIELDS,
    Kind.ADMIN_AREAS: F.ADMIN_FIELDS,
    Kind.PROJECTS: F.PROJECT_FIELDS,
}


@dataclass(frozen=True)
class ImportOptions:
    kind: Kind
    path: Path
    skip_invalid: bool = False
    dry_run: bool = False
    mode: str = "insert"  # insert | upsert
    actor_sub: str = "system:import"
    layer: str | None = None
    encoding: str | None = None
    srid: int | None = None
    sheet: str | None = None
    max_vertices: int = DEFAULT_MAX_VERTICES
    key_list_year: int | None = None
    plan_type: str | None = None
    source: str | None = None
    today: dt.date = field(default_factory=dt.date.today)
    progress: bool = False


def run_import(engine: Engine, options: ImportOptions) -> ImportResult:
    """Import one file in one transaction; raise ImportFileError when the file as a whole
    cannot be read. Database errors at write time roll everything back and propagate."""
    if options.mode not in ("insert", "upsert"):
        raise ImportFileError("BAD_VALUE", f"--mode {options.mode!r}: use insert or upsert")
    if options.mode == "upsert" and options.kind is Kind.PARCELS:
        raise ImportFileError(
            "BAD_VALUE",
            "parcels are imported insert-only: change existing parcels through the API "
            "(status steps are dated, versions checked)",
        )
    started = time.perf_counter()
    result = ImportResult(options.kind, str(options.path), dry_run=options.dry_run)
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            _bind(conn, options)
            update_fields = None
            if options.kind.spatial:
                _spatial(conn, options, result)
            else:
                update_fields = _projects(conn, options, result)
            write = not result.errors or options.skip_invalid
            if write and result.valid:
                phase(f"writing {result.valid} rows", enabled=options.progress)
                done = writers.write(
                    conn,
                    options.kind,
                    upsert=options.mode == "upsert",
                    actor=options.actor_sub,
                    today=options.today,
                    update_fields=update_fields,
                )
                result.written, result.updated = done.inserted + done.updated, done.updated
                result.written_area_m2 = done.area_m2
            conn.execute(staging.DROP)
            if options.dry_run or not write:
                tx.rollback()
                if options.dry_run:
                    result.would_write = result.written
                    result.written = result.updated = 0
                    result.written_area_m2 = None
            else:
                tx.commit()
        except BaseException:
            if tx.is_active:
                tx.rollback()
            raise
    result.errors.sort(key=lambda e: e.row)
    result.seconds = time.perf_counter() - started
    return result


def _bind(conn: Connection, options: ImportOptions) -> None:
    actor = Actor(sub=options.actor_sub, role=Role.CITY_ADMIN, counties=None)
    _run_sync(bind_actor(_SyncConnection(conn), actor))


class _SyncConnection:
    """bind_actor awaits `conn.execute`; this lets it run on a sync connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def execute(self, *args: Any) -> Any:
        return self.conn.execute(*args)


def _run_sync(coro: Coroutine[Any, Any, None]) -> None:
    """Drive a coroutine that never suspends (its awaits are sync calls) to completion."""
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise RuntimeError("bind_actor suspended: it must not do real async I/O here")


def _counties(conn: Connection) -> F.Counties:
    rows = conn.execute(text("SELECT code, name, name_en, kind::text FROM admin_area"))
    return F.Counties((r[0], r[1], r[2], r[3]) for r in rows)


# --------------------------------------------------------------------------- spatial


def _spatial(conn: Connection, options: ImportOptions, result: ImportResult) -> None:
    kind = options.kind
    source = open_spatial(
        options.path, layer=options.layer, encoding=options.encoding, srid=options.srid
    )
    result.source_srid = source.srid
    fields = FIELDS[kind]
    found, unknown = F.map_columns(source.columns, fields)
    missing = F.missing_required(found, fields)
    if missing:
        names = "; ".join(f"{m.name} ({'/'.join(m.aliases[:3])})" for m in missing)
        raise ImportFileError("MISSING_FIELD", f"{options.path.name}: no column for {names}")
    result.ignored_columns = unknown
    column_of = {name: source.columns[i] for name, i in found.items()}
    counties = _counties(conn)
    default_source = options.source or options.path.name
    if kind is Kind.PARCELS:
        conn.execute(text("LOCK TABLE parcel IN SHARE ROW EXCLUSIVE MODE"))

    def staged() -> Iterator[staging.StagedRow]:
        for feat in progress(
            source.features, total=source.count, desc="reading", enabled=options.progress
        ):
            result.rows_read += 1
            cells = records.Cells(
                {name: feat.properties.get(col) for name, col in column_of.items()}, column_of
            )
            if kind is Kind.PARCELS:
                attrs = records.parcel_record(cells, counties, options.today)
            elif kind is Kind.ZONES:
                attrs = records.zone_record(cells, counties, default_source)
            else:
                attrs = records.admin_record(cells, default_source)
            code = attrs.get("code")
            for c, message, column in cells.problems:
                result.errors.append(RowError(feat.row, c, message, column, feat.fid, code))
            wkb = _checked_wkb(feat, source, options, result, code)
            yield staging.StagedRow(feat.row, feat.fid, code, attrs, wkb, source.srid)

    staging.stage_rows(conn, staged(), spatial=True)
    phase("checking geometries, codes and overlaps in PostGIS", enabled=options.progress)
    _check_staged(conn, options, result, column_of)
    result.valid_area_m2 = staging.valid_area(conn, legal=kind is Kind.PARCELS)


def _checked_wkb(
    feat: Any, source: SpatialSource, options: ImportOptions, result: ImportResult, code: Any
) -> bytes | None:
    """The feature's 2-D WKB when the strict Python checks pass; else None and an error."""
    error = feat.error
    if error is None and feat.geometry is not None:
        try:
            check_geometry(
                feat.geometry,
                max_vertices=options.max_vertices,
                allowed_types=POLYGONAL,
                degrees=source.degrees,
            )
        except GeometryInputError as exc:
            error = exc
    if error is not None:
        details = {"x": error.location[0], "y": error.location[1]} if error.location else {}
        result.errors.append(
            RowError(feat.row, error.code, error.reason, "geometry", feat.fid, code, details)
        )
        return None
    return bytes(shapely.to_wkb(feat.geometry))


def _check_staged(
    conn: Connection, options: ImportOptions, result: ImportResult, labels: dict[str, str]
) -> None:
    """The checks that need the whole file or the store; `labels` names the file's columns."""
    kind = options.kind
    info = {e.row: (e.fid, e.record_code) for e in result.errors}
    fid_code = {
        r.seq: (r.fid, r.code)
        for r in conn.execute(text(f"SELECT seq, fid, code FROM {staging.STAGE}"))
    }
    info.update(fid_code)

    def add(seq: int, code: str, message: str, column: str | None, **details: Any) -> None:
        fid, record_code = info.get(seq, (None, None))
        column = labels.get(column, column) if column else None
        result.errors.append(RowError(seq, code, message, column, fid, record_code, details))

    if kind.spatial:
        for p in staging.geometry_problems(
            conn, max_vertices=options.max_vertices, city_extent=kind is not Kind.ADMIN_AREAS
        ):
            code, message, details = _geometry_message(p, options.max_vertices)
            add(p["seq"], code, message, "geometry", **details)
    table = None if options.mode == "upsert" else writers.TABLE[kind]
    in_file, in_store = staging.duplicates(conn, table)
    hint = "" if kind is Kind.PARCELS else " (--mode upsert updates it)"
    for seq, code, first in in_file:
        add(
            seq,
            "DUPLICATE_CODE",
            f"code {code} already appears in row {first}",
            "code",
            first_row=first,
        )
    for seq, code in in_store:
        add(
            seq,
            "DUPLICATE_CODE",
            f"code {code} is already in the store" + hint,
            "code",
        )
    if kind is Kind.PARCELS:
        for seq, project in conn.execute(staging.UNKNOWN_PROJECTS):
            add(seq, "UNKNOWN_PROJECT", f"no project with code {project}", "project_code")
    staging.mark_bad(conn, result.bad_rows)
    if kind is Kind.ADMIN_AREAS:
        # A parent must be stored or a good row of the file; a bad parent makes its children
        # bad too, so repeat until nothing changes.
        while found := conn.execute(staging.UNKNOWN_PARENTS).all():
            for seq, parent in found:
                add(
                    seq,
                    "UNKNOWN_ADMIN_AREA",
                    f"no admin area {parent} in the store or among the good rows of the file",
                    "parent_code",
                )
            staging.mark_bad(conn, result.bad_rows)
    if kind is Kind.PARCELS:
        _overlaps(conn, result, add)


def _overlaps(conn: Connection, result: ImportResult, add: Any) -> None:
    """Shared area with a stored parcel, then with an earlier (still good) row of the file:
    of two overlapping rows the first in the file is kept."""
    for seq, other, shared in conn.execute(staging.OVERLAPS_STORE):
        add(
            seq,
            "PARCEL_OVERLAP",
            f"shares {shared:,.2f} m² with stored parcel {other}",
            "geometry",
            other_code=other,
            shared_area_m2=round(shared, 2),
        )
    staging.mark_bad(conn, result.bad_rows)
    for seq, other_seq, other_code, other_fid, shared in conn.execute(staging.OVERLAPS_IN_FILE):
        add(
            seq,
            "PARCEL_OVERLAP",
            f"shares {shared:,.2f} m² with row {other_seq} ({other_code}) of this file",
            "geometry",
            other_row=other_seq,
            other_code=other_code,
            other_fid=other_fid,
            shared_area_m2=round(shared, 2),
        )
    staging.mark_bad(conn, result.bad_rows)


def _geometry_message(p: dict[str, Any], max_vertices: int) -> tuple[str, str, dict[str, Any]]:
    problem = p["problem"]
    if problem == "NO_TRANSFORM":
        return (
            "COORDINATE_OUT_OF_RANGE",
            f"PostGIS cannot transform these coordinates from EPSG:{p['src_srid']} to EPSG:4490",
            {},
        )
    if problem in ("OUTSIDE_CHINA", "OUTSIDE_CITY"):
        where = "China (73–136°E, 3–54°N)" if problem == "OUTSIDE_CHINA" else "Jincheng's extent"
        bbox = [round(v, 6) for v in p["bbox"]]
        return (
            "COORDINATE_OUT_OF_RANGE",
            f"the geometry (bbox {bbox}) is outside {where}",
            {"bbox": bbox},
        )
    if problem == "TOO_MANY_VERTICES":
        return "TOO_MANY_VERTICES", f"{p['npoints']} vertices; at most {max_vertices}", {}
    if problem == "INVALID_GEOMETRY":
        details = {} if p["x"] is None else {"x": p["x"], "y": p["y"]}
        return "INVALID_GEOMETRY", f"invalid geometry (PostGIS): {p['reason']}", details
    if problem == "UNSUPPORTED_GEOMETRY_TYPE":
        return problem, f"{p['geom_type']} is not a polygon or multipolygon", {}
    messages = {
        "EMPTY_GEOMETRY": "the geometry is empty",
        "NOT_2D": "only 2-D coordinates are accepted",
        "UNSUPPORTED_SRID": "the geometry is not in EPSG:4490 after transformation",
    }
    return problem, messages[problem], {}


# --------------------------------------------------------------------------- projects


def _projects(conn: Connection, options: ImportOptions, result: ImportResult) -> list[str]:
    """Stage and check a project sheet; returns the fields its columns decide (an upsert
    updates only those)."""
    source = open_sheet(options.path, F.PROJECT_FIELDS, sheet=options.sheet)
    result.skipped_rows = source.skipped
    result.ignored_columns = source.unknown + [
        source.headings[n] for n in F.IGNORED if n in source.headings
    ]
    plan_type = None
    if options.plan_type:
        try:
            plan_type = F.enum_value(F.E.PlanType, options.plan_type)
        except F.FieldError as exc:
            raise ImportFileError("BAD_VALUE", f"--plan-type: {exc.message}") from None
    defaults = records.ProjectDefaults(
        key_list_year=options.key_list_year or options.today.year,
        plan_type=plan_type,
        headings=source.headings,
    )
    present = [n for n in source.headings if n not in F.IGNORED]
    if plan_type and "plan_type" not in present:
        present.append("plan_type")
    counties = _counties(conn)

    def staged() -> Iterator[staging.StagedRow]:
        for row in progress(
            source.rows, total=source.count, desc="reading", enabled=options.progress
        ):
            result.rows_read += 1
            cells = records.Cells(
                {n: c.value for n, c in row.cells.items()},
                {n: c.column for n, c in row.cells.items()},
                {n: c.number_format for n, c in row.cells.items()},
            )
            attrs = records.project_record(cells, counties, defaults)
            for code, message, column in cells.problems:
                result.errors.append(RowError(row.row, code, message, column, None, attrs["code"]))
            yield staging.StagedRow(row.row, None, attrs["code"], attrs, None, None)

    staging.stage_rows(conn, staged(), spatial=False)
    _check_staged(conn, options, result, source.labels)
    return present
