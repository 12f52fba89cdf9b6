"""The deterministic Jincheng 2024 demo data set (and its scaled benchmark variant).

    with engine.begin() as conn:
        counts = load_demo(conn, seed=2024)

Order: admin areas → protected zones → grid of candidate sites → the whole set planned
in Python from one seeded generator → parcels and projects through COPY into TEMP
staging tables and one INSERT … SELECT with ST_Transform each → events, links,
approvals, issues and reports by COPY → the quota ledger, which needs the parcel areas
PostGIS computed. Same seed, same bytes: no unseeded randomness, no `random()` in SQL,
no current date (the set is a snapshot of plan year 2024 as of 2024-10-31).

At scale (`parcels=N`) projects ≈ N / 2.5 with the same plan-type and key shares; the
sites shrink so that every project still has its own grid cell, and parcel sizes shrink
with them (below 0.5 ha once N is more than a few tens of thousands).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator

from sqlalchemy import Connection, text

from geo.crs import DEV_ZONE_CODE, STORAGE_SRID
from geo.seed import ledger, promotion, workload
from geo.seed.admin import GRID_SRID, load_admin_areas
from geo.seed.bulk import copy_rows, count_rows, drop_temp, id_map
from geo.seed.names import COMMAND_OFFICE
from geo.seed.plan import PLAN_YEAR, Plan, ProjectPlan, Shape, cell_side, plan_demo
from geo.seed.sites import county_areas, load_cells
from geo.seed.zones import load_zones

log = logging.getLogger(__name__)

TABLES = (
    "admin_area",
    "protected_zone",
    "project",
    "project_stage_event",
    "parcel",
    "parcel_status_event",
    "project_parcel",
    "land_quota_entry",
    "land_quota_balance",
    "approval_item",
    "project_issue",
    "issue_escalation",
    "investment_report",
    "promotion_trip",
)
TEMP_TABLES = ("seed_parcel", "seed_project", "seed_cell", "seed_zone_m", "seed_county")

STAGE_NOTE = {
    "FILING": "完成备案赋码",
    "PROCEDURES": "进入前期手续办理",
    "FACTORS": "用地、资金、能耗等要素配置",
    "CONSTRUCTION_START": "主体工程开工",
    "IN_PROGRESS": "进入实施阶段，按月调度投资进度",
    "COMPLETED": "竣工验收，投产运营",
}


def load_demo(
    connection: Connection, *, seed: int = 2024, parcels: int | None = None
) -> dict[str, int]:
    """Load the Jincheng 2024 demo set into an empty, migrated database, inside the caller's
    transaction (the caller commits). Returns counts per table."""
    _require_empty(connection)
    rng = random.Random(seed)
    shape = Shape.demo() if parcels is None else Shape.for_parcels(parcels)
    timer = _Timer()
    work_mem = connection.execute(text("SELECT current_setting('work_mem')")).scalar_one()
    connection.execute(text("SET LOCAL work_mem = '256MB'"))  # the big INSERT … SELECTs sort
    load_admin_areas(connection, rng)
    load_zones(connection, rng)
    timer.lap("admin areas and zones")
    side = cell_side(shape, county_areas(connection))
    cells = load_cells(connection, side)
    timer.lap(f"grid of {sum(map(len, cells.values()))} cells of {side:.0f} m")
    plan = plan_demo(rng, shape, side, cells)
    timer.lap(f"plan of {len(plan.projects)} projects")
    _load_parcels(connection, plan)
    timer.lap("parcels")
    _load_projects(connection, plan)
    timer.lap("projects")
    project_ids = id_map(connection, "project")
    parcel_ids = id_map(connection, "parcel")
    _load_events(connection, plan, project_ids, parcel_ids)
    timer.lap("events and links")
    quota = ledger.load_ledger(connection, rng)
    timer.lap("quota ledger")
    for county, mu in quota.items():
        log.info("  quota %s: %s", county, ", ".join(f"{k} {v:,.1f}" for k, v in mu.items()))
    _load_workload(connection, rng, plan, project_ids)
    timer.lap("approval items, issues, reports")
    copy_rows(connection, "promotion_trip", promotion.COLUMNS, promotion.trips(seed))
    drop_temp(connection, TEMP_TABLES)
    connection.execute(text("SELECT set_config('work_mem', :v, true)"), {"v": work_mem})
    counts = count_rows(connection, TABLES)
    timer.lap("counts")
    return counts


def _require_empty(conn: Connection) -> None:
    busy = conn.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM project) OR EXISTS (SELECT 1 FROM parcel)"
            " OR EXISTS (SELECT 1 FROM admin_area) OR EXISTS (SELECT 1 FROM land_quota_entry)"
        )
    ).scalar_one()
    if busy:
        raise ValueError(
            "load_demo needs an empty, migrated database: it already holds admin areas, "
            "projects, parcels or quota entries"
        )


class _Timer:
    """Logs how long each phase took (the benchmark prints these)."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()

    def lap(self, what: str) -> None:
        now = time.perf_counter()
        log.info("%-40s %7.1f s (total %.1f s)", what, now - self.last, now - self.start)
        self.last = now


# --------------------------------------------------------------------------- parcels

CREATE_SEED_PARCEL = text(
    """
    CREATE TEMP TABLE seed_parcel (
        seq integer NOT NULL, project_seq integer NOT NULL, code text NOT NULL,
        county_code text NOT NULL, name text, wkt text NOT NULL, land_class land_class NOT NULL,
        status land_status NOT NULL, status_date date NOT NULL, supply_method supply_method,
        agreed_start date, approval_doc text, approval_no text, approved_on date,
        withdrawn_on date, withdrawal_doc text
    ) ON COMMIT DROP
    """
)
SEED_PARCEL_COLUMNS = (
    "seq",
    "project_seq",
    "code",
    "county_code",
    "name",
    "wkt",
    "land_class",
    "status",
    "status_date",
    "supply_method",
    "agreed_start",
    "approval_doc",
    "approval_no",
    "approved_on",
    "withdrawn_on",
    "withdrawal_doc",
)
INSERT_PARCELS = text(
    """
    INSERT INTO parcel (code, name, county_code, geom, land_class, procedure_status, status_date,
                        supply_method, agreed_start_date, approval_doc)
    SELECT code, name, county_code,
           ST_Multi(ST_Transform(ST_GeomFromText(wkt, :grid), :srid)),
           land_class, status, status_date, supply_method, agreed_start, approval_doc
    FROM seed_parcel ORDER BY seq
    """
)


def _load_parcels(conn: Connection, plan: Plan) -> None:
    conn.execute(CREATE_SEED_PARCEL)
    copy_rows(conn, "seed_parcel", SEED_PARCEL_COLUMNS, _parcel_rows(plan))
    conn.execute(text("CREATE INDEX ON seed_parcel (code)"))
    conn.execute(text("ANALYZE seed_parcel"))
    conn.execute(INSERT_PARCELS, {"grid": GRID_SRID, "srid": STORAGE_SRID})


def _parcel_rows(plan: Plan) -> Iterator[tuple[object, ...]]:
    seq = 0
    for p in plan.projects:
        for x in p.parcels:
            seq += 1
            yield (
                seq,
                p.seq,
                x.code,
                x.county,
                x.name,
                x.wkt,
                x.land_class.value,
                x.status.value,
                x.events[-1][1],
                x.supply_method.value if x.supply_method else None,
                x.agreed_start,
                x.approval_doc,
                x.approval_no,
                x.approved_on,
                x.withdrawn_on,
                x.withdrawal_doc,
            )


# --------------------------------------------------------------------------- projects

CREATE_SEED_PROJECT = text(
    """
    CREATE TEMP TABLE seed_project (
        seq integer NOT NULL, code text NOT NULL, name text NOT NULL, county_code text NOT NULL,
        plan_type plan_type NOT NULL, stage project_stage NOT NULL, industry text,
        is_key boolean NOT NULL, key_list_year smallint, categories key_category[] NOT NULL,
        total_investment numeric(14, 2) NOT NULL, annual_target numeric(14, 2),
        progress_target text, planned_start date, planned_finish date, actual_start date,
        lead_official text, lead_official_title text, responsible_entity text,
        signing_status signing_status, stats_status stats_status NOT NULL,
        site_x double precision NOT NULL, site_y double precision NOT NULL
    ) ON COMMIT DROP
    """
)
SEED_PROJECT_COLUMNS = (
    "seq",
    "code",
    "name",
    "county_code",
    "plan_type",
    "stage",
    "industry",
    "is_key",
    "key_list_year",
    "categories",
    "total_investment",
    "annual_target",
    "progress_target",
    "planned_start",
    "planned_finish",
    "actual_start",
    "lead_official",
    "lead_official_title",
    "responsible_entity",
    "signing_status",
    "stats_status",
    "site_x",
    "site_y",
)
PROJECT_COLUMNS = SEED_PROJECT_COLUMNS[1:-2]
# Location: the centroid of the project's parcels, or the centre of its site when it has none.
INSERT_PROJECTS = text(
    f"""
    WITH loc AS (
        SELECT sp.project_seq AS seq, ST_Centroid(ST_Collect(p.geom)) AS g
        FROM seed_parcel sp JOIN parcel p ON p.code = sp.code
        GROUP BY sp.project_seq
    ),
    located AS (
        SELECT s.*, COALESCE(loc.g, ST_Transform(ST_SetSRID(ST_MakePoint(s.site_x, s.site_y), :grid), :srid)) AS g
        FROM seed_project s LEFT JOIN loc ON loc.seq = s.seq
    )
    INSERT INTO project ({", ".join(PROJECT_COLUMNS)}, location, dev_zone_code)
    SELECT {", ".join("l." + c for c in PROJECT_COLUMNS)}, l.g,
           CASE WHEN ST_Within(l.g, dz.geom) THEN dz.code END
    FROM located l CROSS JOIN (SELECT code, geom FROM admin_area WHERE code = :dz) AS dz
    ORDER BY l.seq
    """
)


def _load_projects(conn: Connection, plan: Plan) -> None:
    conn.execute(CREATE_SEED_PROJECT)
    copy_rows(conn, "seed_project", SEED_PROJECT_COLUMNS, (_project_row(p) for p in plan.projects))
    conn.execute(text("ANALYZE seed_project"))
    conn.execute(INSERT_PROJECTS, {"grid": GRID_SRID, "srid": STORAGE_SRID, "dz": DEV_ZONE_CODE})


def _project_row(p: ProjectPlan) -> tuple[object, ...]:
    assert p.cell is not None
    return (
        p.seq,
        p.code,
        p.name,
        p.county,
        p.plan_type.value,
        p.stage.value,
        p.industry.name,
        p.is_key,
        PLAN_YEAR if p.is_key else None,
        "{" + ",".join(c.value for c in p.categories) + "}",
        _money(p.total_c),
        _money(p.annual_c),
        p.progress_target,
        p.planned_start,
        p.planned_finish,
        p.actual_start,
        p.lead,
        p.lead_title,
        p.entity,
        p.signing.value if p.signing else None,
        p.stats.value,
        p.cell.x0 + p.cell.size / 2,
        p.cell.y0 + p.cell.size / 2,
    )


def _money(c: int) -> str:
    """Hundredths of 万元 as numeric text, exact."""
    return f"{c // 100}.{c % 100:02d}"


# --------------------------------------------------------------------------- events


def _load_events(
    conn: Connection, plan: Plan, project_ids: dict[str, int], parcel_ids: dict[str, int]
) -> None:
    copy_rows(
        conn,
        "project_stage_event",
        ("project_id", "stage", "entered_on", "actor", "note"),
        (
            (project_ids[p.code], stage.value, when, COMMAND_OFFICE, STAGE_NOTE[stage.value])
            for p in plan.projects
            for stage, when in p.stage_dates
        ),
    )
    copy_rows(
        conn,
        "parcel_status_event",
        ("parcel_id", "status", "occurred_on", "actor", "reason"),
        (
            (parcel_ids[x.code], status.value, when, actor, reason)
            for p in plan.projects
            for x in p.parcels
            for status, when, actor, reason in x.events
        ),
    )
    copy_rows(
        conn,
        "project_parcel",
        ("project_id", "parcel_id", "linked_on"),
        (
            (project_ids[p.code], parcel_ids[x.code], x.events[0][1])
            for p in plan.projects
            for x in p.parcels
        ),
    )


def _load_workload(
    conn: Connection, rng: random.Random, plan: Plan, project_ids: dict[str, int]
) -> None:
    copy_rows(
        conn,
        "approval_item",
        workload.ITEM_COLUMNS,
        workload.approval_items(rng, plan.projects, project_ids),
    )
    issues = workload.issues(rng, plan.projects, project_ids)
    copy_rows(conn, "project_issue", workload.ISSUE_COLUMNS, (i.row for i in issues))
    issue_ids = id_map(conn, "project_issue")
    copy_rows(
        conn,
        "issue_escalation",
        workload.ESCALATION_COLUMNS,
        (
            (issue_ids[i.code], a.value, b.value, when, reason)
            for i in issues
            for a, b, when, reason in i.escalations
        ),
    )
    copy_rows(
        conn,
        "investment_report",
        workload.REPORT_COLUMNS,
        workload.reports(rng, plan.projects, project_ids),
    )
