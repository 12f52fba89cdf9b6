"""One input row → the typed attributes of one record, and every problem with its column.

Each `*_record` function reads cells through a `Cells` view (a feature's properties or
an Excel row) and returns a JSON-able dict for the staging table; problems are added to
the `Cells` and none stops the others from being checked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from geo import enums as E
from geo.imports.fields import (
    Counties,
    FieldError,
    bool_value,
    date_value,
    enum_value,
    enum_values,
    heading_unit,
    is_blank,
    money_value,
    split_leader,
    text_value,
    year_value,
)

# Statuses that carry a supply method (the parcel table's CHECKs, said once more here so the
# row error names the column instead of a constraint).
SUPPLIED_STATUSES = {"SUPPLIED", "LAND_PLANNING_PERMIT", "REGISTERED"}
SUPPLY_ALLOWED = SUPPLIED_STATUSES | {"IDLE"}


@dataclass
class Cells:
    """The cells of one row by target field: value, column label, number format."""

    values: Mapping[str, Any]
    columns: Mapping[str, str]
    formats: Mapping[str, str | None] = field(default_factory=dict)
    problems: list[tuple[str, str, str | None]] = field(default_factory=list)

    def raw(self, name: str) -> Any:
        value = self.values.get(name)
        return None if is_blank(value) else value

    def column(self, name: str) -> str | None:
        return self.columns.get(name)

    def problem(self, code: str, message: str, name: str | None) -> None:
        self.problems.append((code, message, self.column(name) if name else None))

    def get(
        self, name: str, parse: Callable[[Any], Any] = text_value, *, required: bool = False
    ) -> Any:
        """The parsed value, None when blank; a blank required cell is MISSING_FIELD."""
        value = self.raw(name)
        if value is None:
            if required:
                label = self.column(name) or name
                self.problem("MISSING_FIELD", f"{label} is empty", name)
            return None
        try:
            return parse(value)
        except FieldError as exc:
            self.problem(exc.code, exc.message, name)
            return None


def _code(cells: Cells, max_len: int = 40) -> str | None:
    code = cells.get("code", required=True)
    if code is not None and len(code) > max_len:
        cells.problem("BAD_VALUE", f"code {code!r} is longer than {max_len} characters", "code")
        return None
    return code


def parcel_record(cells: Cells, counties: Counties, today: dt.date) -> dict[str, Any]:
    status = cells.get("procedure_status", lambda v: enum_value(E.LandStatus, v))
    supply = cells.get("supply_method", lambda v: enum_value(E.SupplyMethod, v))
    status = status or ("DEMAND" if cells.raw("procedure_status") is None else None)
    if status and supply and status not in SUPPLY_ALLOWED:
        cells.problem(
            "BAD_VALUE",
            f"a supply method only goes with a supplied parcel (status {status})",
            "supply_method",
        )
    if status in SUPPLIED_STATUSES and supply is None and cells.raw("supply_method") is None:
        cells.problem(
            "MISSING_FIELD", f"status {status} needs a supply method (供地方式)", "supply_method"
        )
    return {
        "code": _code(cells),
        "name": cells.get("name"),
        "county_code": cells.get("county_code", counties.code, required=True),
        "land_class": cells.get("land_class", lambda v: enum_value(E.LandClass, v), required=True),
        "procedure_status": status,
        "status_date": _iso(cells.get("status_date", date_value)) or today.isoformat(),
        "supply_method": supply,
        "agreed_start_date": _iso(cells.get("agreed_start_date", date_value)),
        "approval_doc": cells.get("approval_doc"),
        "project_code": cells.get("project_code"),
    }


def zone_record(cells: Cells, counties: Counties, default_source: str) -> dict[str, Any]:
    return {
        "code": _code(cells),
        "kind": cells.get("kind", lambda v: enum_value(E.ZoneKind, v), required=True),
        "name": cells.get("name", required=True),
        "county_code": cells.get("county_code", counties.code),
        "source": cells.get("source") or default_source,
    }


def admin_record(cells: Cells, default_source: str) -> dict[str, Any]:
    code = _code(cells, 12)
    if code is not None and not (len(code) == 6 and code.isdigit()):
        cells.problem("BAD_VALUE", f"{code!r} is not a 6-digit GB/T 2260 code", "code")
    kind = cells.get("kind", lambda v: enum_value(E.AdminKind, v), required=True)
    parent = cells.get("parent_code")
    if kind == "CITY" and parent:
        cells.problem("BAD_VALUE", "a city (市) has no parent", "parent_code")
    if kind not in (None, "CITY") and not parent:
        cells.problem("MISSING_FIELD", "every area but the city needs a parent code", "parent_code")
    return {
        "code": code,
        "name": cells.get("name", required=True),
        "name_en": cells.get("name_en"),
        "kind": kind,
        "parent_code": parent,
        "source": cells.get("source") or default_source,
    }


@dataclass(frozen=True)
class ProjectDefaults:
    key_list_year: int
    plan_type: str | None
    headings: Mapping[str, str]
    """field → heading as written, for units (总投资（亿元）)."""


# Where a project stands when the sheet says nothing: from its plan type.
DEFAULT_STAGE = {"PRE_STAGE": "FILING", "PLANNED_START": "PROCEDURES", "CONTINUING": "IN_PROGRESS"}


def project_record(cells: Cells, counties: Counties, d: ProjectDefaults) -> dict[str, Any]:
    def money(name: str) -> Callable[[Any], Any]:
        return lambda v: money_value(v, heading_unit(d.headings.get(name, "")))

    def date(name: str, *, end: bool = False) -> Callable[[Any], Any]:
        return lambda v: date_value(v, end=end, number_format=cells.formats.get(name))

    total = cells.get("total_investment", money("total_investment"), required=True)
    annual = cells.get("annual_target", money("annual_target"))
    if total is not None and annual is not None and annual > total:
        cells.problem(
            "BAD_VALUE",
            f"annual target {annual} 万元 exceeds the total investment {total} 万元",
            "annual_target",
        )
    start = cells.get("planned_start", date("planned_start"))
    finish = cells.get("planned_finish", date("planned_finish", end=True))
    if start and finish and finish < start:
        cells.problem(
            "BAD_VALUE", f"planned finish {finish} is before the start {start}", "planned_finish"
        )
    plan_type = cells.get("plan_type", lambda v: enum_value(E.PlanType, v)) or (
        d.plan_type if cells.raw("plan_type") is None else None
    )
    if plan_type is None and cells.raw("plan_type") is None:
        cells.problem(
            "MISSING_FIELD",
            "no plan type (计划开工/前期/续建): add a column or pass --plan-type",
            "plan_type",
        )
    stage = cells.get("stage", lambda v: enum_value(E.ProjectStage, v))
    if stage is None and cells.raw("stage") is None and plan_type:
        stage = DEFAULT_STAGE[plan_type]
    categories = cells.get("categories", lambda v: enum_values(E.KeyCategory, v)) or []
    is_key = cells.get("is_key", bool_value)
    if is_key is None and cells.raw("is_key") is None:
        is_key = bool(categories)
    if is_key and not categories and cells.raw("categories") is None:
        cells.problem("MISSING_FIELD", "a key project (重点) needs its 项目类别", "categories")
    lead = cells.get("lead_official")
    lead_name, lead_title = split_leader(lead) if lead else (None, None)
    return {
        "code": _code(cells),
        "name": cells.get("name", required=True),
        "county_code": cells.get("county_code", counties.code, required=True),
        "plan_type": plan_type,
        "stage": stage,
        "industry": cells.get("industry"),
        "is_key": bool(is_key),
        "key_list_year": (cells.get("key_list_year", year_value) or d.key_list_year)
        if is_key
        else None,
        "categories": categories,
        "total_investment": None if total is None else str(total),
        "annual_target": None if annual is None else str(annual),
        "progress_target": cells.get("progress_target"),
        "planned_start": _iso(start),
        "planned_finish": _iso(finish),
        "actual_start": _iso(cells.get("actual_start", date("actual_start"))),
        "lead_official": lead_name,
        "lead_official_title": lead_title,
        "responsible_entity": cells.get("responsible_entity"),
        "signing_status": cells.get("signing_status", lambda v: enum_value(E.SigningStatus, v)),
        "stats_status": cells.get("stats_status", lambda v: enum_value(E.StatsStatus, v))
        or "NOT_ELIGIBLE",
    }


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()
