"""Measure the landguard API against the same SQL run directly with pgbench.

Normally started by `scripts/bench.sh run`, which loads the data set, starts the API on a
free port and passes everything below. By hand:

    DATABASE_URL=postgresql+psycopg://u:p@127.0.0.1:5432/db .venv/bin/python bench/run.py \\
        --api-url http://127.0.0.1:8000 [--api-pid PID] [--duration 20] [--clients 8]

For each scenario (SCENARIOS below) it sends the GraphQL query to POST /graphql from
`--clients` concurrent keep-alive connections for `--duration` seconds, then runs the
scenario's SQL file (bench/queries/) with `pgbench -M prepared` and the same number of
clients for the same time, each after a short warm-up. It prints requests/s and p50/p99
latency of both sides and their ratio, the CPU each party used, and writes everything
to bench/results/<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import platform
import pwd
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import psycopg

HERE = Path(__file__).resolve().parent
QUERIES = HERE / "queries"
RESULTS = HERE / "results"
NAGLE_MS = 20  # a keep-alive GET /healthz slower than this: the ~40 ms delayed-ACK stall
DISTURBED_CORES = 0.15  # `other` CPU above this during a measurement: the row is suspect
STATS_SETTLE_S = 1.2  # PostgreSQL backends flush their statistics at most once a second
PREFERRED_COUNTY = "140525"  # 泽州县
BBOX_PARCELS = 1000  # the map-view case of DESIGN.md §6: ~1,000 parcels in a bounding box
# (at most this many: featureCollection is asked for first: 1000)


# ---------------------------------------------------------------------------------------
# The data set: values the scenarios need, picked from the benchmark database.


@dataclass
class DataSet:
    parcels: int
    counties: list[str]  # county codes that have parcels, by code
    county: str  # the county of the parcels_county scenario
    county_parcels: int
    project: str | None  # the project of the project_nested scenario
    project_parcels: int
    project_approval_items: int
    today: str  # ISO date: the API judges `overdue` as of the server's today
    bbox: list[float]  # [minLon, minLat, maxLon, maxLat] holding about BBOX_PARCELS parcels
    bbox_parcels: int
    postgres: str = ""
    postgis: str = ""


def pick_dataset(conninfo: str) -> DataSet:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        parcels = conn.execute("SELECT count(*) FROM parcel").fetchone()[0]  # type: ignore[index]
        per_county = conn.execute(
            "SELECT county_code, count(*) FROM parcel GROUP BY county_code ORDER BY county_code"
        ).fetchall()
        counts = {code: n for code, n in per_county}
        county = PREFERRED_COUNTY
        if counts.get(county, 0) <= 500 and counts:
            county = max(counts, key=lambda c: counts[c])
        # A project with 5–10 active parcels, the most parcels first, then the most
        # approval items; failing that, the project closest to that size.
        row = conn.execute(
            """
            WITH p AS (
              SELECT pr.code,
                     (SELECT count(*) FROM project_parcel pp
                       WHERE pp.project_id = pr.id AND pp.unlinked_on IS NULL) AS parcels,
                     (SELECT count(*) FROM approval_item ai WHERE ai.project_id = pr.id) AS items
                FROM project pr)
            SELECT code, parcels, items FROM p
             ORDER BY (parcels BETWEEN 5 AND 10) DESC,
                      CASE WHEN parcels <= 10 THEN parcels ELSE -parcels END DESC,
                      items DESC, code
             LIMIT 1
            """
        ).fetchone()
        bbox, bbox_parcels = pick_bbox(conn, BBOX_PARCELS)
        postgres = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        postgis = conn.execute("SELECT postgis_lib_version()").fetchone()[0]  # type: ignore[index]
    return DataSet(
        parcels=parcels,
        counties=list(counts),
        county=county,
        county_parcels=counts.get(county, 0),
        project=row[0] if row else None,
        project_parcels=row[1] if row else 0,
        project_approval_items=row[2] if row else 0,
        today=os.environ.get("LANDGUARD_REFERENCE_DATE") or dt.date.today().isoformat(),
        bbox=bbox,
        bbox_parcels=bbox_parcels,
        postgres=postgres,
        postgis=postgis,
    )


def pick_bbox(conn: psycopg.Connection[Any], target: int) -> tuple[list[float], int]:
    """A square around the densest 0.05° cell of parcel centroids, sized (by bisection of
    its half-width) to intersect between 98 % of `target` and `target` parcels."""
    cell = conn.execute(
        """
        SELECT (floor(ST_X(c) / 0.05) + 0.5) * 0.05, (floor(ST_Y(c) / 0.05) + 0.5) * 0.05
          FROM (SELECT ST_Centroid(geom) AS c FROM parcel) p
         GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 1
        """
    ).fetchone()
    if cell is None:
        return [0.0, 0.0, 0.0, 0.0], 0
    x, y = float(cell[0]), float(cell[1])

    def box(h: float) -> list[float]:
        return [round(x - h, 6), round(y - h, 6), round(x + h, 6), round(y + h, 6)]

    def count(b: list[float]) -> int:
        row = conn.execute(
            "SELECT count(*) FROM parcel WHERE ST_Intersects(geom, "
            "ST_MakeEnvelope(%s, %s, %s, %s, 4490))",
            b,
        ).fetchone()
        return int(row[0]) if row else 0

    lo, hi = 0.0, 1.0
    best = (box(lo), 0)
    for _ in range(25):
        mid = (lo + hi) / 2
        n = count(box(mid))
        if n <= target and n > best[1]:
            best = (box(mid), n)
        if target * 0.98 <= n <= target:
            break
        lo, hi = (mid, hi) if n < target else (lo, mid)
    return best


# ---------------------------------------------------------------------------------------
# Scenarios. Add one (e.g. a bbox filter) by adding an entry: a GraphQL query with its
# variables, a pgbench script in bench/queries/ with its -D variables, and a check of the
# answer's data that returns a short description of it.


@dataclass(frozen=True)
class Scenario:
    title: str
    graphql: str | Callable[[DataSet], str]
    variables: Callable[[DataSet], dict[str, Any]]
    raw_sql: str  # file name in bench/queries/
    raw_vars: Callable[[DataSet], dict[str, str]]
    check: Callable[[dict[str, Any], DataSet], str]
    note: str = ""

    def query(self, ds: DataSet) -> str:
        return self.graphql(ds) if callable(self.graphql) else self.graphql


BBOX_QUERY = """
query Bbox($bbox: [Float!]!) {
  parcels(filter: {spatial: {bbox: $bbox}}, first: 500) {
    edges { node { code areaM2 procedureStatus geometry } }
  }
}"""


def _check_bbox(data: dict[str, Any], ds: DataSet) -> str:
    edges = data["parcels"]["edges"]
    expected = min(500, ds.bbox_parcels)
    if len(edges) != expected:
        raise ValueError(f"expected {expected} parcels, got {len(edges)}")
    if edges and edges[0]["node"]["geometry"].get("type") != "MultiPolygon":
        raise ValueError("parcel geometry is not a GeoJSON MultiPolygon")
    return f"first {len(edges)} of the {ds.bbox_parcels} parcels in the bbox, with GeoJSON"


FEATURES_QUERY = """
query Features($bbox: [Float!]!) {
  featureCollection(layer: PARCELS, filter: {spatial: {bbox: $bbox}}, first: 1000)
}"""


def _check_features(data: dict[str, Any], ds: DataSet) -> str:
    fc = data["featureCollection"]
    if fc.get("type") != "FeatureCollection" or len(fc["features"]) != min(1000, ds.bbox_parcels):
        raise ValueError(f"expected a FeatureCollection of {ds.bbox_parcels} features")
    return f"all {len(fc['features'])} parcels in the bbox as one GeoJSON FeatureCollection"


PARCELS_QUERY = """
query Parcels($county: String!) {
  parcels(filter: {countyCode: $county}, first: 500) {
    edges { node { code areaM2 procedureStatus geometry } }
  }
}"""


def _check_parcels(data: dict[str, Any], ds: DataSet) -> str:
    edges = data["parcels"]["edges"]
    expected = min(500, ds.county_parcels)
    if len(edges) != expected:
        raise ValueError(f"expected {expected} parcels, got {len(edges)}")
    if edges and edges[0]["node"]["geometry"].get("type") != "MultiPolygon":
        raise ValueError("parcel geometry is not a GeoJSON MultiPolygon")
    return f"{len(edges)} parcels with GeoJSON"


PROJECT_QUERY = """
query Project($code: String!) {
  project(code: $code) {
    code name county { name }
    parcels { code areaM2 procedureStatus }
    approvalItems { code status deadline }
  }
}"""


def _check_project(data: dict[str, Any], ds: DataSet) -> str:
    p = data["project"]
    if p is None or p["code"] != ds.project:
        raise ValueError(f"project {ds.project} not returned")
    if len(p["parcels"]) != ds.project_parcels:
        raise ValueError(f"expected {ds.project_parcels} parcels, got {len(p['parcels'])}")
    return f"{ds.project}: {len(p['parcels'])} parcels, {len(p['approvalItems'])} approval items"


def _county_totals_query(ds: DataSet) -> str:
    # No aggregate field exists yet: ask every county's totalCount in one request (one
    # alias per county), the closest equivalent of the raw GROUP BY. Replace this with the
    # aggregate field once it exists.
    fields = "\n".join(
        f'  c{code}: parcels(filter: {{countyCode: "{code}"}}, first: 0) {{ totalCount }}'
        for code in ds.counties
    )
    return "query CountyTotals {\n" + fields + "\n}"


def _county_summary_query(ds: DataSet) -> str:
    fields = "\n".join(
        f'  c{code}: countyLandSummary(countyCode: "{code}") '
        "{ total { parcelCount area { m2 } } }"
        for code in ds.counties
    )
    return "query CountySummaries {\n" + fields + "\n}"


def _check_county_summary(data: dict[str, Any], ds: DataSet) -> str:
    total = sum(v["total"]["parcelCount"] for v in data.values())
    if total != ds.parcels:
        raise ValueError(f"county summaries add up to {total}, the table holds {ds.parcels}")
    return f"{len(data)} counties, {total} parcels with area"


def _check_county_totals(data: dict[str, Any], ds: DataSet) -> str:
    total = sum(v["totalCount"] for v in data.values())
    if total != ds.parcels:
        raise ValueError(f"county totals add up to {total}, the table holds {ds.parcels}")
    return f"{len(data)} counties, {total} parcels"


GUARANTEE_QUERY = """
query LandGuarantee($year: Int!, $first: Int!) {
  landGuarantee(year: $year) {
    countyCode status reasons
    demandHa demandKeyHa demandOtherHa
    quotaAllocatedHa quotaFromPoolHa quotaUsedHa quotaRemainingHa gapHa coverageRatio
    approvedHa suppliedHa approvedNotSuppliedHa approvedNotSuppliedCount
    conflictCount conflictAreaHa keyConflictDemandHa outsideUrbanBoundaryCount
    atRiskProjectCount
    atRiskProjects(first: $first) {
      projectCode tier isKey plannedStart demandHa coveredHa unmetHa conflict cover reasons
    }
  }
}"""

GUARANTEE_FIGURES_QUERY = """
query LandGuaranteeFigures($year: Int!) {
  landGuarantee(year: $year) {
    countyCode status reasons
    demandHa demandKeyHa demandOtherHa
    quotaAllocatedHa quotaFromPoolHa quotaUsedHa quotaRemainingHa gapHa coverageRatio
    approvedHa suppliedHa approvedNotSuppliedHa approvedNotSuppliedCount
    conflictCount conflictAreaHa keyConflictDemandHa outsideUrbanBoundaryCount
    atRiskProjectCount
  }
}"""

GUARANTEE_YEAR = 2024
GUARANTEE_FIRST = 5


def _check_guarantee(data: dict[str, Any], ds: DataSet) -> str:
    counties = data["landGuarantee"]
    if [c["countyCode"] for c in counties] != ds.counties:
        raise ValueError(f"expected counties {ds.counties}")
    if "atRiskProjects" not in counties[0]:
        status = ", ".join(f"{c['countyCode']} {c['status']}" for c in counties)
        return f"{len(counties)} counties ({status})"
    risky = sum(len(c["atRiskProjects"]) for c in counties)
    if any(len(c["atRiskProjects"]) > GUARANTEE_FIRST for c in counties):
        raise ValueError("more at-risk projects than asked for")
    status = ", ".join(f"{c['countyCode']} {c['status']}" for c in counties)
    return f"{len(counties)} counties ({status}); {risky} at-risk projects listed"


SCENARIOS: dict[str, Scenario] = {
    "parcels_bbox": Scenario(
        title="parcels in a bbox (~1,000) with GeoJSON, first page of 500",
        graphql=BBOX_QUERY,
        variables=lambda ds: {"bbox": ds.bbox},
        raw_sql="parcels_bbox.sql",
        raw_vars=lambda ds: dict(
            zip(("xmin", "ymin", "xmax", "ymax"), map(str, ds.bbox), strict=True)
        ),
        check=_check_bbox,
        note="the API's page maximum is 500: it returns 500 of the ~1,000 (SQL: LIMIT 501)",
    ),
    "features_bbox": Scenario(
        title="parcels in a bbox (~1,000) as one GeoJSON FeatureCollection",
        graphql=FEATURES_QUERY,
        variables=lambda ds: {"bbox": ds.bbox},
        raw_sql="features_bbox.sql",
        raw_vars=lambda ds: dict(
            zip(("xmin", "ymin", "xmax", "ymax"), map(str, ds.bbox), strict=True)
        ),
        check=_check_features,
        note=(
            "featureCollection: the collection's JSON text is built by PostgreSQL (string_agg), "
            "each feature with the layer's properties incl. the 三区三线 conflict test"
        ),
    ),
    "parcels_county": Scenario(
        title="500 parcels of a county with GeoJSON",
        graphql=PARCELS_QUERY,
        variables=lambda ds: {"county": ds.county},
        raw_sql="parcels_county.sql",
        raw_vars=lambda ds: {"county": ds.county},
        check=_check_parcels,
        note="county filter instead of a bbox (an index scan in code order), first: 500",
    ),
    "project_nested": Scenario(
        title="one project with nested parcels and approval items",
        graphql=PROJECT_QUERY,
        variables=lambda ds: {"code": ds.project},
        raw_sql="project_nested.sql",
        raw_vars=lambda ds: {"code": ds.project or "", "today": ds.today},
        check=_check_project,
        note="raw: the API's 4 statements in one pgbench transaction",
    ),
    "county_stats": Scenario(
        title="parcel count (and area) per county",
        graphql=_county_totals_query,
        variables=lambda ds: {},
        raw_sql="county_stats.sql",
        raw_vars=lambda ds: {},
        check=_check_county_totals,
        note=(
            "API = parcels(filter: {countyCode}, first: 0) { totalCount } for every county "
            "(aliases, no area); raw = GROUP BY county_code with sum(area_m2)"
        ),
    ),
    "land_guarantee": Scenario(
        title="用地保障 landGuarantee(year) for every county, with the top 5 at-risk projects",
        graphql=GUARANTEE_QUERY,
        variables=lambda ds: {"year": GUARANTEE_YEAR, "first": GUARANTEE_FIRST},
        raw_sql="land_guarantee.sql",
        raw_vars=lambda ds: {"year": str(GUARANTEE_YEAR), "first": str(GUARANTEE_FIRST)},
        check=_check_guarantee,
        note=(
            "the server's today must be in the plan year (bench.sh sets "
            "LANDGUARD_REFERENCE_DATE=2024-10-31) so the current-state tallies answer; "
            "raw = the API's own statement (bench/guarantee_sql.py)"
        ),
    ),
    "land_guarantee_figures": Scenario(
        title="用地保障 landGuarantee(year) for every county: figures, status, reasons",
        graphql=GUARANTEE_FIGURES_QUERY,
        variables=lambda ds: {"year": GUARANTEE_YEAR},
        raw_sql="land_guarantee_figures.sql",
        raw_vars=lambda ds: {"year": str(GUARANTEE_YEAR)},
        check=_check_guarantee,
        note="the county statement alone (no at-risk lists asked, none fetched)",
    ),
    "county_summary": Scenario(
        title="parcel count and area per county (countyLandSummary)",
        graphql=_county_summary_query,
        variables=lambda ds: {},
        raw_sql="county_stats.sql",
        raw_vars=lambda ds: {},
        check=_check_county_summary,
        note=(
            "API = countyLandSummary(countyCode) { total { parcelCount area { m2 } } } for every "
            "county (aliases; each runs a GROUPING SETS statement); raw = the GROUP BY above"
        ),
    ),
}


# ---------------------------------------------------------------------------------------
# CPU accounting from /proc (Linux): the load generator, the API's process tree (and each
# worker) and the PostgreSQL server's process tree, so a reader can see who used the cores.

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_table() -> dict[int, tuple[int, float]]:
    """pid → (parent pid, CPU seconds incl. reaped children) of every process."""
    table: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        table[int(entry)] = (int(fields[1]), (utime + stime + cutime + cstime) / CLK_TCK)
    return table


def descendants(table: dict[int, tuple[int, float]], root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def tree_cpu(table: dict[int, tuple[int, float]], root: int | None) -> float | None:
    """CPU seconds of a process and its descendants (dead ones count via their reaper)."""
    if not root or root not in table:
        return None
    return sum(table[p][1] for p in descendants(table, root) if p in table)


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = parts[3] + parts[4]
    return (sum(parts) - idle) / CLK_TCK, sum(parts) / CLK_TCK


def wait_quiet(max_wait: float, threshold: float) -> tuple[float, float]:
    """Wait (at most max_wait s) until under `threshold` cores are busy over one second —
    other work on a shared machine (a test suite, a data load) skews every number.
    Returns (seconds waited, cores busy in the last second)."""
    started = time.perf_counter()
    told = False
    while True:
        b0 = machine_busy()
        time.sleep(1.0)
        b1 = machine_busy()
        busy = (b1[0] - b0[0]) / max(b1[1] - b0[1], 1e-9) * (os.cpu_count() or 1)
        waited = time.perf_counter() - started
        if busy < threshold or waited >= max_wait:
            if told:
                say(f"… went on after {waited:.0f} s with {busy:.2f} cores busy")
            return waited, busy
        if not told:
            say(f"the machine is busy ({busy:.2f} cores): waiting up to {max_wait:g} s")
            told = True


@dataclass
class CpuWindow:
    """Cores busy during a measurement (CPU seconds / wall seconds)."""

    client: float | None = None
    api: float | None = None
    api_workers: list[float] = field(default_factory=list)
    postgres: float | None = None  # the server minus backends of other databases
    postgres_other_dbs: float | None = None  # backends of other databases (sampled)
    machine: float | None = None
    other: float | None = None  # machine minus load gen, API, postgres: anything else


class OtherDbSampler(threading.Thread):
    """Samples, every 0.2 s, the CPU of the PostgreSQL backends serving *other* databases
    of the same server (process title `postgres: user dbname host(port) state`), so that
    a test suite or a data load on a neighbouring database counts as disturbance, not as
    the benchmark's database work. A backend's last ≤0.2 s before it exits is missed."""

    def __init__(self, postmaster: int, dbname: str, start: dict[int, tuple[int, float]]) -> None:
        super().__init__(daemon=True)
        self.postmaster = postmaster
        self.dbname = dbname
        self.baseline = {pid: cpu for pid, (ppid, cpu) in start.items() if ppid == postmaster}
        self.last: dict[int, float] = {}
        self.halt = threading.Event()
        self.titles: dict[int, bool] = {}  # pid → serves another database

    def _other(self, pid: int) -> bool:
        if pid not in self.titles:
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").split()
            except OSError:
                return False
            self.titles[pid] = (
                len(title) >= 4 and title[0] == b"postgres:" and title[2] != self.dbname.encode()
            )
        return self.titles[pid]

    def sample(self) -> None:
        try:
            kids = Path(f"/proc/{self.postmaster}/task/{self.postmaster}/children").read_text()
        except OSError:
            return
        for pid in map(int, kids.split()):
            if not self._other(pid):
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                self.last[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK

    def run(self) -> None:
        while not self.halt.wait(0.2):
            self.sample()

    def stop(self) -> float:
        self.halt.set()
        self.join()
        self.sample()
        return sum(max(0.0, cpu - self.baseline.get(pid, 0.0)) for pid, cpu in self.last.items())


@dataclass
class CpuMark:
    wall: float
    own: float
    children: float
    table: dict[int, tuple[int, float]]
    machine: tuple[float, float]
    sampler: OtherDbSampler | None = None


class CpuMeter:
    def __init__(self, api_pid: int | None, pg_pid: int | None, dbname: str) -> None:
        self.api_pid = api_pid
        self.pg_pid = pg_pid
        self.dbname = dbname

    def workers(self) -> list[int]:
        """The API's worker processes (children of the server process)."""
        if not self.api_pid:
            return []
        return [p for p, (ppid, _) in proc_table().items() if ppid == self.api_pid]

    def start(self) -> CpuMark:
        table = proc_table()
        sampler = None
        if self.pg_pid and self.pg_pid in table:
            sampler = OtherDbSampler(self.pg_pid, self.dbname, table)
            sampler.start()
        return CpuMark(
            wall=time.perf_counter(),
            own=time.process_time(),
            children=_children_cpu(),
            table=table,
            machine=machine_busy(),
            sampler=sampler,
        )

    def stop(self, t0: CpuMark, *, client: str) -> CpuWindow:
        """client: 'self' (this process is the load generator) or 'children' (pgbench)."""
        wall = time.perf_counter() - t0.wall
        own = time.process_time() - t0.own
        kids = _children_cpu() - t0.children
        table = proc_table()
        busy, total = machine_busy()
        other_dbs = t0.sampler.stop() / wall if t0.sampler else None

        def delta(root: int | None) -> float | None:
            a, b = tree_cpu(t0.table, root), tree_cpu(table, root)
            return None if a is None or b is None else (b - a) / wall

        workers = []
        if self.api_pid:
            for pid, (ppid, _) in sorted(table.items()):
                d = delta(pid) if ppid == self.api_pid else None
                if d is not None and d >= 0.005:
                    workers.append(round(d, 3))
        machine = (busy - t0.machine[0]) / max(total - t0.machine[1], 1e-9)
        postgres = delta(self.pg_pid)
        if postgres is not None and other_dbs is not None:
            postgres = max(0.0, postgres - other_dbs)
        w = CpuWindow(
            client=(own if client == "self" else kids) / wall,
            api=delta(self.api_pid),
            api_workers=workers,
            postgres=postgres,
            postgres_other_dbs=other_dbs,
            machine=machine * (os.cpu_count() or 1),
        )
        if w.api is not None and w.postgres is not None and w.machine is not None:
            w.other = max(0.0, w.machine - w.client - w.api - w.postgres)
        return w


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class DbCounters:
    """New sessions and transactions of the benchmark database (pg_stat_database)."""

    def __init__(self, conninfo: str) -> None:
        self.conn = psycopg.connect(conninfo, autocommit=True)

    def read(self) -> tuple[int, int]:
        self.conn.execute("SELECT pg_stat_clear_snapshot()")
        row = self.conn.execute(
            "SELECT sessions, xact_commit + xact_rollback FROM pg_stat_database"
            " WHERE datname = current_database()"
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])


# ---------------------------------------------------------------------------------------
# Results


@dataclass
class Side:
    """One measurement: throughput and latency of the API or of pgbench."""

    rate: float  # successful requests (transactions) per second
    ok: int
    failed: int
    seconds: float
    p50_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    cpu: CpuWindow = field(default_factory=CpuWindow)
    extra: dict[str, Any] = field(default_factory=dict)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = math.ceil(q / 100 * len(sorted_values))
    return sorted_values[min(len(sorted_values), max(rank, 1)) - 1]


def summarise(latencies_s: list[float], failed: int, seconds: float, cpu: CpuWindow) -> Side:
    lat = sorted(x * 1000 for x in latencies_s)
    return Side(
        rate=len(lat) / seconds,
        ok=len(lat),
        failed=failed,
        seconds=seconds,
        p50_ms=percentile(lat, 50),
        p99_ms=percentile(lat, 99),
        mean_ms=sum(lat) / len(lat) if lat else None,
        cpu=cpu,
    )


# ---------------------------------------------------------------------------------------
# The HTTP load generator: N keep-alive connections, one request in flight on each, for a
# fixed time. A minimal HTTP/1.1 client on asyncio streams keeps its own CPU low (it
# shares the cores with the server; its CPU is measured and printed).
#
# uvicorn's workers share one listening socket and the first idle worker accepts every
# connection that is waiting: 8 connections opened at once all land on one worker, and
# keep-alive keeps them there. So connections are opened one by one, each is traced
# (/proc/net/tcp + /proc/PID/fd) to the worker that accepted it, and a subset spread evenly
# over the workers is kept.

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def http_request(method: str, host: str, port: int, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    i = lower.find(b"\r\ncontent-length:")
    if i >= 0:
        end = lower.index(b"\r\n", i + 2)
        return status, await reader.readexactly(int(lower[i + 17 : end]))
    if b"\r\ntransfer-encoding: chunked" in lower:
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return status, b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    raise RuntimeError("response without Content-Length or chunked encoding")


def response_ok(status: int, body: bytes) -> bool:
    return status == 200 and b'"errors"' not in body


def socket_owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of `pids` holds the server end of the loopback connection from client_port."""
    inode = None
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if (
                int(f[1].rsplit(":", 1)[1], 16) == server_port
                and int(f[2].rsplit(":", 1)[1], 16) == client_port
            ):
                inode = f[9]
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
    return None


class Load:
    def __init__(self, url: str, clients: int) -> None:
        u = urlsplit(url)
        self.host = u.hostname or "127.0.0.1"
        self.port = u.port or 80
        self.clients = clients
        self.ping = http_request("GET", self.host, self.port, "/healthz")

    def graphql(self, payload: bytes) -> bytes:
        return http_request("POST", self.host, self.port, "/graphql", payload)

    async def _open(self) -> Conn:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        writer.write(self.ping)  # answered only once a worker has accepted the connection
        status, _ = await read_response(reader)
        if status != 200:
            raise RuntimeError(f"GET /healthz answered {status}")
        return reader, writer

    async def connect(self, workers: list[int], expected: int) -> tuple[list[Conn], list[int]]:
        """`clients` connections spread evenly over the `expected` busiest-to-be of
        `workers` (their pids); and how many each got. Connections are opened one by one
        and all kept open until the spread is possible, then the surplus is closed."""
        groups: dict[int | None, list[Conn]] = {}
        cap = math.ceil(self.clients / max(1, expected))
        opened = 0
        while True:
            reader, writer = await self._open()
            opened += 1
            owner = None
            if workers:
                owner = socket_owner(self.port, writer.get_extra_info("sockname")[1], workers)
            groups.setdefault(owner, []).append((reader, writer))
            sizes = sorted((len(v) for k, v in groups.items() if k is not None), reverse=True)
            possible = sum(min(n, cap) for n in sizes[:expected])
            done = possible >= self.clients or opened >= 8 * self.clients
            if done if workers else opened >= self.clients:
                break
        pools = sorted(groups.values(), key=len, reverse=True)
        chosen: list[Conn] = []
        spread = [0] * len(pools)
        while len(chosen) < self.clients:
            for i, pool in enumerate(pools):
                if pool and len(chosen) < self.clients:
                    chosen.append(pool.pop(0))
                    spread[i] += 1
        for pool in pools:
            for _, writer in pool:
                writer.close()
        return chosen, sorted((n for n in spread if n), reverse=True)

    @staticmethod
    async def _client(
        conn: Conn, request: bytes, stop_at: float, out: list[float], bad: list[int]
    ) -> int:
        reader, writer = conn
        size = 0
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                return size
            writer.write(request)
            status, body = await read_response(reader)
            t1 = time.perf_counter()
            if t1 > stop_at:  # finished after the window: not counted
                return size
            if response_ok(status, body):
                out.append(t1 - t0)
                size = len(body)
            else:
                bad.append(status)

    async def run(
        self, conns: list[Conn], payload: bytes, seconds: float
    ) -> tuple[list[float], list[int], int]:
        out: list[float] = []
        bad: list[int] = []
        request = self.graphql(payload)
        stop_at = time.perf_counter() + seconds
        sizes = await asyncio.gather(*(self._client(c, request, stop_at, out, bad) for c in conns))
        return out, bad, max(sizes)

    async def keepalive_rtt_ms(self, requests: int = 20) -> float:
        """Median round trip of GET /healthz on one keep-alive connection, first excluded."""
        reader, writer = await self._open()
        times = []
        try:
            for _ in range(requests):
                t0 = time.perf_counter()
                writer.write(self.ping)
                await read_response(reader)
                times.append((time.perf_counter() - t0) * 1000)
        finally:
            writer.close()
        return sorted(times)[len(times) // 2]

    async def once(self, payload: bytes) -> dict[str, Any]:
        reader, writer = await self._open()
        try:
            writer.write(self.graphql(payload))
            status, body = await read_response(reader)
        finally:
            writer.close()
        doc = orjson.loads(body)
        if status != 200 or doc.get("errors"):
            raise RuntimeError(f"HTTP {status}: {body[:500].decode(errors='replace')}")
        return doc["data"]


async def measure_api(
    load: Load,
    payload: bytes,
    seconds: float,
    warmup: float,
    meter: CpuMeter,
    db: DbCounters,
    workers: int,
) -> Side:
    conns, spread = await load.connect(meter.workers(), workers)
    try:
        if warmup > 0:
            await load.run(conns, payload, warmup)
        # Backends publish their statistics at most once a second: let them settle so
        # the pg_stat_database counters bracket exactly the measured requests.
        await asyncio.sleep(STATS_SETTLE_S)
        t0, (s0, x0) = meter.start(), db.read()
        latencies, bad, size = await load.run(conns, payload, seconds)
        cpu = meter.stop(t0, client="self")
        await asyncio.sleep(STATS_SETTLE_S)
        s1, x1 = db.read()
    finally:
        for _, writer in conns:
            writer.close()
    side = summarise(latencies, len(bad), seconds, cpu)
    requests = max(1, len(latencies) + len(bad))
    side.extra = {
        "response_bytes": size,
        "connections_per_worker": spread,
        "db_transactions_per_request": round((x1 - x0) / requests, 2),
        "db_new_connections_per_request": round((s1 - s0) / requests, 3),
    }
    if bad:
        side.extra["failed_statuses"] = sorted(set(bad))
    return side


# ---------------------------------------------------------------------------------------
# pgbench


@dataclass(frozen=True)
class PgTarget:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> PgTarget:
        u = urlsplit(re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url))
        return cls(
            host=u.hostname or "127.0.0.1",
            port=u.port or 5432,
            user=unquote(u.username or ""),
            password=unquote(u.password or ""),
            dbname=u.path.lstrip("/"),
        )

    def conninfo(self) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.dbname,
        )


def find_pgbench(explicit: str | None) -> str:
    if explicit:
        return explicit
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pgbench"), key=lambda p: int(p.parts[-3])
    )
    found = str(candidates[-1]) if candidates else shutil.which("pgbench")
    if not found:
        raise SystemExit("pgbench not found (Debian: apt-get install postgresql-client)")
    return found


class PgBench:
    """pgbench, run as the postgres system user when we are root."""

    def __init__(self, target: PgTarget, binary: str, clients: int, jobs: int) -> None:
        self.target = target
        self.binary = binary
        self.clients = clients
        self.jobs = jobs
        self.as_postgres = os.geteuid() == 0 and _user_exists("postgres")

    def _run(
        self, script: Path, variables: dict[str, str], seconds: float, log_prefix: Path | None
    ) -> str:
        cmd = [
            self.binary, "-n", "-M", "prepared",
            "-c", str(self.clients), "-j", str(self.jobs), "-T", str(max(1, round(seconds))),
            "-f", str(script),
            "-h", self.target.host, "-p", str(self.target.port), "-U", self.target.user,
        ]  # fmt: skip
        if log_prefix is not None:
            cmd += ["-l", f"--log-prefix={log_prefix}"]
        for k, v in variables.items():
            cmd += ["-D", f"{k}={v}"]
        cmd.append(self.target.dbname)
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        env = {**os.environ, "PGPASSWORD": self.target.password}
        proc = subprocess.run(
            cmd, cwd=script.parent, env=env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0 or "tps =" not in proc.stdout:
            raise RuntimeError(f"pgbench failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def measure(
        self,
        sql_file: Path,
        variables: dict[str, str],
        seconds: float,
        warmup: float,
        meter: CpuMeter,
    ) -> Side:
        work = Path(tempfile.mkdtemp(prefix="landguard-pgbench-"))
        try:
            script = work / sql_file.name
            shutil.copyfile(sql_file, script)
            if self.as_postgres:
                pw = pwd.getpwnam("postgres")
                for p in (work, script):
                    os.chown(p, pw.pw_uid, pw.pw_gid)
            if warmup > 0:
                self._run(script, variables, warmup, None)
            t0 = meter.start()
            out = self._run(script, variables, seconds, work / "tx")
            cpu = meter.stop(t0, client="children")
            latencies = read_pgbench_logs(work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        failed = int(_grab(r"number of failed transactions: (\d+)", out) or 0)
        side = summarise([x / 1e6 for x in latencies], failed, seconds, cpu)
        # pgbench's own figure: transactions / time, without the connection set-up
        side.rate = float(_grab(r"tps = ([\d.]+) \(without initial connection time\)", out) or 0)
        side.extra = {
            "transactions": int(_grab(r"actually processed: (\d+)", out) or 0),
            "latency_average_ms": float(_grab(r"latency average = ([\d.]+) ms", out) or 0),
        }
        return side


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _grab(pattern: str, text: str) -> str | None:
    m = re.search(pattern, text)
    return m.group(1) if m else None


def read_pgbench_logs(folder: Path) -> list[float]:
    """Per-transaction latencies (µs) from pgbench -l logs: `client tx latency_us ...`."""
    out: list[float] = []
    for log in folder.glob("tx.*"):
        for line in log.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[2].isdigit():
                out.append(float(parts[2]))
    return out


# ---------------------------------------------------------------------------------------
# Report


def _f(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def render(report: dict[str, Any]) -> str:
    m, ds, cfg = report["machine"], report["dataset"], report["config"]
    rows = report["scenarios"]
    lines = [
        "",
        f"landguard benchmark  {report['started']}",
        f"machine: nproc {m['nproc']} ({m['cpu']}); PostgreSQL {ds['postgres']}, "
        f"PostGIS {ds['postgis']}",
        f"data: {ds['parcels']:,} parcels; API: {cfg['api_workers']} uvicorn workers; "
        f"{cfg['clients']} clients; {cfg['duration']:g} s per measurement after "
        f"{cfg['warmup']:g} s warm-up; raw = pgbench -M prepared -c {cfg['clients']} "
        f"-j {cfg['jobs']}; keep-alive GET /healthz {report.get('keepalive_rtt_ms', 0):.1f} ms",
        "",
    ]
    head = (
        f"{'scenario':<16} {'API req/s':>10} {'p50 ms':>8} {'p99 ms':>8} | "
        f"{'raw tps':>9} {'p50 ms':>8} {'p99 ms':>8} | {'API/raw':>7}"
    )
    lines += [head, "-" * len(head)]
    for name, r in rows.items():
        a, w = r.get("api") or {}, r.get("raw") or {}
        pct = r.get("api_over_raw_pct")
        lines.append(
            f"{name:<16} {_f(a.get('rate')):>10} {_f(a.get('p50_ms')):>8} "
            f"{_f(a.get('p99_ms')):>8} | {_f(w.get('rate')):>9} {_f(w.get('p50_ms')):>8} "
            f"{_f(w.get('p99_ms')):>8} | {'-' if pct is None else f'{pct:.0f} %':>7}"
        )
    lines += ["", f"CPU busy during each measurement, in cores (nproc {m['nproc']}):"]
    head2 = (
        f"{'scenario':<16} {'side':<4} {'load gen':>8} {'API':>6} {'(per worker)':<13} "
        f"{'Postgres':>8} {'other':>6} {'machine':>8}"
    )
    lines += [head2, "-" * len(head2)]
    for name, r in rows.items():
        for side in ("api", "raw"):
            if not r.get(side) or (side == "raw" and r.get("raw_shared_with")):
                continue
            c = r[side]["cpu"]
            split = "+".join(f"{x:.2f}" for x in c["api_workers"]) if side == "api" else ""
            lines.append(
                f"{name:<16} {side:<4} {_f(c['client'], 2):>8} {_f(c['api'], 2):>6} "
                f"{split:<13} {_f(c['postgres'], 2):>8} {_f(c['other'], 2):>6} "
                f"{_f(c['machine'], 2):>8}"
            )
    lines += [
        "load gen = this script's own CPU (API rows) or pgbench's (raw rows); API and",
        "Postgres = their process trees, less the backends of other databases on that server;",
        "other = everything else (those backends too): when it is not near 0, the run was",
        "disturbed.",
        "Load generator, API and PostgreSQL share the same cores.",
        "",
        "notes:",
    ]
    for name, r in rows.items():
        bits = [r["answer"]]
        if r.get("note"):
            bits.append(r["note"])
        a, w = r.get("api") or {}, r.get("raw") or {}
        if a:
            x = a["extra"]
            bits.append(
                f"API response {x['response_bytes']:,} B, {x['db_transactions_per_request']:g} "
                f"DB transactions and {x['db_new_connections_per_request']:g} new DB connections "
                f"per request, client connections per worker "
                + "/".join(str(n) for n in x["connections_per_worker"])
            )
        if r.get("raw_shared_with"):
            bits.append(f"raw measured once, with {r['raw_shared_with']}")
        if r.get("rounds"):
            per = ", ".join(
                f"{x['api']['rate']:.1f}/{x['raw']['rate']:.1f} = {x['api_over_raw_pct']:.0f} %"
                for x in r["rounds"]
            )
            bits.append(
                f"{len(r['rounds'])} alternating rounds (API req/s / raw tps): {per}; the row "
                "shows the median round, API/raw is over all rounds"
            )
        if a.get("failed") or w.get("failed"):
            bits.append(f"FAILED requests: API {a.get('failed', 0)}, raw {w.get('failed', 0)}")
        lines.append(f"  {name}: " + "; ".join(bits))
    disturbed = [
        f"{name} {side} ({r[side]['cpu']['other']:.2f})"
        for name, r in rows.items()
        for side in ("api", "raw")
        if r.get(side)
        and not (side == "raw" and r.get("raw_shared_with"))
        and (r[side]["cpu"].get("other") or 0) > DISTURBED_CORES
    ]
    if disturbed:
        lines.append(
            "WARNING: other work used the machine (cores) during: "
            + ", ".join(disturbed)
            + ". Repeat on a quiet machine before trusting these rows."
        )
    rtt = report.get("keepalive_rtt_ms")
    if rtt is not None and rtt > NAGLE_MS:
        lines.append(
            f"WARNING: GET /healthz takes {rtt:.0f} ms on a keep-alive connection: every "
            "response waits for the client's delayed ACK (Nagle; uvicorn --workers N leaves "
            "TCP_NODELAY off, uvicorn issue #3149). It caps the API at about clients / 40 ms."
        )
    lines.append(f"results: {report['results_file']}")
    return "\n".join(lines)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def postmaster_pid(conninfo: str) -> int | None:
    """The PostgreSQL server's root process, when it runs on this machine."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        backend = proc_table().get(int(row[0]))
    return backend[0] if backend else None


def say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    ap.add_argument("--api-url", required=True, help="e.g. http://127.0.0.1:8000")
    ap.add_argument("--api-pid", type=int, help="pid of `python -m api serve` (CPU, balancing)")
    ap.add_argument("--api-workers", type=int, default=int(os.environ.get("LANDGUARD_WORKERS", 1)))
    ap.add_argument("--duration", type=float, default=20, help="seconds per measurement")
    ap.add_argument("--warmup", type=float, default=3, help="seconds of warm-up before each")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=2, help="pgbench threads (-j)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="alternate API and raw this many times per scenario (median round shown, "
        "ratio over all rounds)",
    )
    ap.add_argument("--pgbench", help="pgbench binary (default: newest /usr/lib/postgresql/*)")
    ap.add_argument("--skip-raw", action="store_true", help="measure the API only")
    ap.add_argument("--skip-api", action="store_true", help="measure pgbench only")
    ap.add_argument("--results-dir", type=Path, default=RESULTS)
    ap.add_argument(
        "--quiet-wait", type=float, default=90, help="max seconds to wait for an idle machine"
    )
    ap.add_argument(
        "--quiet-cores", type=float, default=0.3, help="'idle' = fewer cores busy than this"
    )
    args = ap.parse_args(argv)
    if not args.database_url:
        ap.error("--database-url (or DATABASE_URL) is required")
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s) {unknown}; known: {list(SCENARIOS)}")

    target = PgTarget.from_url(args.database_url)
    ds = pick_dataset(target.conninfo())
    if not ds.parcels:
        raise SystemExit("the benchmark database holds no parcels: run scripts/bench.sh generate")
    pgbench = PgBench(target, find_pgbench(args.pgbench), args.clients, args.jobs)
    load = Load(args.api_url, args.clients)
    meter = CpuMeter(args.api_pid, postmaster_pid(target.conninfo()), target.dbname)
    if not args.api_pid:
        say("no --api-pid: API CPU not measured, connections not balanced over workers")
    db = DbCounters(target.conninfo())
    started = dt.datetime.now(dt.UTC)
    results_file = args.results_dir / (started.strftime("%Y%m%dT%H%M%SZ") + ".json")
    report: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "machine": {"nproc": os.cpu_count(), "cpu": cpu_model(), "kernel": platform.release()},
        "dataset": asdict(ds),
        "config": {
            "api_url": args.api_url,
            "api_workers": args.api_workers,
            "clients": args.clients,
            "jobs": args.jobs,
            "duration": args.duration,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "pgbench": pgbench.binary,
        },
        "scenarios": {},
        "results_file": str(results_file),
    }
    rtt = asyncio.run(load.keepalive_rtt_ms())
    report["keepalive_rtt_ms"] = round(rtt, 2)
    if rtt > NAGLE_MS:
        say(
            f"GET /healthz takes {rtt:.0f} ms on a keep-alive connection: responses stall on "
            "Nagle + delayed ACK (TCP_NODELAY off; uvicorn --workers N, uvicorn issue #3149)"
        )
    say(
        f"{ds.parcels:,} parcels; county {ds.county} ({ds.county_parcels:,} parcels); project "
        f"{ds.project} ({ds.project_parcels} parcels, {ds.project_approval_items} approval items)"
    )
    raw_done: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
    for name in names:
        sc = SCENARIOS[name]
        body = orjson.dumps({"query": sc.query(ds), "variables": sc.variables(ds)})
        try:
            answer, broken = sc.check(asyncio.run(load.once(body)), ds), None
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            answer, broken = f"API answer not usable, API side skipped: {exc}", str(exc)
            say(f"{name}: {answer}")
        entry: dict[str, Any] = {
            "title": sc.title,
            "note": sc.note,
            "answer": answer,
            "error": broken,
            "graphql": sc.query(ds),
            "variables": sc.variables(ds),
            "raw_sql": f"bench/queries/{sc.raw_sql}",
            "raw_vars": sc.raw_vars(ds),
        }
        raw_key = (sc.raw_sql, tuple(sorted(sc.raw_vars(ds).items())))
        shared = args.rounds == 1 and raw_key in raw_done
        rounds: list[dict[str, Any]] = []
        for rnd in range(1, args.rounds + 1):
            # API and raw alternate round by round, so a machine that drifts (a shared VM)
            # weighs on both sides alike; each round is a full measurement.
            tag = f" round {rnd}/{args.rounds}" if args.rounds > 1 else ""
            one: dict[str, Any] = {}
            if not args.skip_api and not broken:
                waited, idle_busy = wait_quiet(args.quiet_wait, args.quiet_cores)
                say(f"{name}: API{tag}, {args.duration:g} s ({answer})")
                side = asyncio.run(
                    measure_api(load, body, args.duration, args.warmup, meter, db, args.api_workers)
                )
                side.extra.update(quiet_wait_s=round(waited, 1), busy_before=round(idle_busy, 2))
                one["api"] = asdict(side)
            if not args.skip_raw and not shared:
                waited, idle_busy = wait_quiet(args.quiet_wait, args.quiet_cores)
                say(f"{name}: pgbench {sc.raw_sql}{tag}, {args.duration:g} s")
                raw = pgbench.measure(
                    QUERIES / sc.raw_sql, sc.raw_vars(ds), args.duration, args.warmup, meter
                )
                raw.extra.update(quiet_wait_s=round(waited, 1), busy_before=round(idle_busy, 2))
                one["raw"] = asdict(raw)
            if one.get("api") and one.get("raw") and one["raw"]["rate"]:
                one["api_over_raw_pct"] = 100 * one["api"]["rate"] / one["raw"]["rate"]
            rounds.append(one)
        if shared:
            first = raw_done[raw_key]
            say(f"{name}: pgbench {sc.raw_sql} was measured with {first}: reusing it")
            rounds[0]["raw"] = report["scenarios"][first]["raw"]
            entry["raw_shared_with"] = first
        elif not args.skip_raw:
            raw_done[raw_key] = name
        # The rows shown are the round whose ratio is the median; the ratio reported is
        # over all rounds (all API requests / all raw transactions, equal durations).
        ratios = [r.get("api_over_raw_pct") for r in rounds]
        pick = rounds[0]
        if all(x is not None for x in ratios) and len(rounds) > 1:
            pick = sorted(rounds, key=lambda r: r["api_over_raw_pct"])[len(rounds) // 2]
            entry["rounds"] = rounds
        for side in ("api", "raw"):
            if pick.get(side):
                entry[side] = pick[side]
        if entry.get("api") and entry.get("raw") and entry["raw"]["rate"]:
            if len(rounds) > 1 and "rounds" in entry:
                api_ok = sum(r["api"]["ok"] for r in rounds)
                raw_ok = sum(r["raw"]["ok"] for r in rounds)
                api_s = sum(r["api"]["seconds"] for r in rounds)
                raw_s = sum(r["raw"]["seconds"] for r in rounds)
                entry["api_over_raw_pct"] = 100 * (api_ok / api_s) / (raw_ok / raw_s)
            else:
                entry["api_over_raw_pct"] = 100 * entry["api"]["rate"] / entry["raw"]["rate"]
        report["scenarios"][name] = entry

    args.results_dir.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(render(report))
    return 1 if any(e.get("error") for e in report["scenarios"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
