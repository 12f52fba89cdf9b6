"""项目 Project writes: create, update (with dated stage changes) and key-list membership.

Rules checked before SQL, each mirroring a CHECK of migration 0001 (`PROJECT_CONSTRAINTS`
maps the database's names back to the same refusal, for a concurrent or direct writer):
code unique; name not blank; money in 万元 with at most two decimals, total ≥ 0 and
0 ≤ annual target ≤ total; planned finish not before planned start; key ⇒ list year
(2000–2100) and at least one category; location a point inside Jincheng's extent.

Stages (DESIGN.md §1/§2: 备案审批 → 手续办理 → 要素配置 → 开工建设 → 实施进度 → 竣工投产)
move forward ONE step at a time — no skipping, because each stage is a tracked node of
the closed loop and its dated event is what progress reports read; a project that really
passed two stages records two changes (dates may be equal). Going back any number of
steps is allowed with a reason (kept as the event's note), for corrections and projects
sent back to procedures. Each change writes one `project_stage_event` dated `entered_on`
(not in the future, not before the current stage was entered), by the writing `sub`, in
the same transaction. Entering 开工建设 sets `actual_start` when it is still empty.

Updates are optimistic: the row is locked, its version compared with the one the client
read, and a mismatch refused as StaleVersion (two concurrent updates with the same version:
the second waits for the lock, then sees the new version). The version trigger of
migration 0004 bumps the counter; the audit trigger writes one audit row per changed row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from geo.crs import DEV_ZONE_CODE, STORAGE_SRID
from geo.enums import KeyCategory, PlanType, ProjectStage, SigningStatus, StatsStatus
from geo.geometry_input import InputGeometry
from geo.models import Project, ProjectStageEvent
from geo.seed.admin import COUNTY_BY_CODE, DEV_ZONE_COUNTIES
from geo.write_rules import JINCHENG_BBOX
from geo.writes.project_errors import (
    DuplicateCode,
    InvalidInput,
    InvalidTransition,
    NotFound,
    StaleVersion,
    WriteRefused,
    translate,
)

CODE_MAX = 40
MONEY_MAX = Decimal("999999999999.99")
"""numeric(14, 2): the largest amount (万元) the columns hold."""
STAGES: tuple[ProjectStage, ...] = tuple(ProjectStage)
_UNSET: Any = object()


def _problem(field_name: str, message: str) -> InvalidInput:
    return InvalidInput([(field_name, message)])


PROJECT_CONSTRAINTS: dict[str, WriteRefused] = {
    # PostgreSQL's names for the CHECKs of migration 0001 (a test checks they exist)
    "project_code_key": DuplicateCode("project", "?"),
    "project_name_check": _problem("name", "项目名称不能为空 name must not be blank"),
    "project_total_investment_check": _problem(
        "totalInvestment", "总投资不能为负 total investment must be ≥ 0"
    ),
    "project_check": _problem(
        "annualTarget", "年度目标须在 0 与总投资之间 annual target must be 0 … total investment"
    ),
    "project_check1": _problem(
        "isKey", "重点项目须有清单年度和类别 a key project needs a list year and a category"
    ),
    "project_check2": _problem(
        "plannedFinish", "计划竣工不能早于计划开工 planned finish is before planned start"
    ),
    "project_key_list_year_check": _problem("keyListYear", "清单年度须在 2000–2100 之间"),
    "project_location_check": _problem("location", "项目位置超出范围 location out of range"),
    "project_county_code_fkey": _problem("countyCode", "未知的县（市、区） unknown county"),
    "project_dev_zone_code_fkey": _problem("devZoneCode", "未知的开发区 unknown development zone"),
}


@dataclass
class ProjectValues:
    """Column values of a project (money in 万元). On update, fields left at `_UNSET`
    keep their stored value; see `ProjectChanges`."""

    name: str
    plan_type: PlanType
    stage: ProjectStage
    total_investment: Decimal
    industry: str | None = None
    dev_zone_code: str | None = None
    annual_target: Decimal | None = None
    progress_target: str | None = None
    planned_start: dt.date | None = None
    planned_finish: dt.date | None = None
    actual_start: dt.date | None = None
    lead_official: str | None = None
    lead_official_title: str | None = None
    responsible_entity: str | None = None
    signing_status: SigningStatus | None = None
    stats_status: StatsStatus = StatsStatus.NOT_ELIGIBLE
    location: InputGeometry | None = None


EDITABLE = tuple(f for f in ProjectValues.__dataclass_fields__ if f != "stage")
"""Fields updateProject may set besides the stage (code and county never change: the
county is the owner, a move between counties is a new project)."""


@dataclass
class StageChange:
    stage: ProjectStage
    entered_on: dt.date
    note: str | None = None


@dataclass
class ProjectChanges:
    """An update: only the fields present in `values` change (None clears a nullable one)."""

    values: dict[str, Any] = field(default_factory=dict)
    stage: StageChange | None = None


# ----------------------------------------------------------------------------- checks


def money(value: Decimal | float | int | str, field_name: str) -> Decimal:
    """An amount in 万元 as numeric(14, 2) holds it; refused rather than rounded."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise _problem(field_name, f"{field_name}: not a number") from None
    if not amount.is_finite():
        raise _problem(field_name, f"{field_name}: must be a finite number")
    if amount != amount.quantize(Decimal("0.01")):
        raise _problem(field_name, f"{field_name}: at most two decimals (万元)")
    if abs(amount) > MONEY_MAX:
        raise _problem(field_name, f"{field_name}: at most {MONEY_MAX} 万元")
    return amount


def check_code(code: str) -> str:
    if not code or len(code) > CODE_MAX or code != code.strip() or any(c.isspace() for c in code):
        raise _problem(
            "code", f"项目代码须为 1–{CODE_MAX} 个字符且不含空格 code: 1–{CODE_MAX} chars"
        )
    return code


def check_values(v: ProjectValues, county_code: str) -> None:
    """Every table rule at once, so the client sees all its mistakes in one answer."""
    problems: list[tuple[str, str]] = []
    if not v.name or not v.name.strip():
        problems.append(("name", "项目名称不能为空 name must not be blank"))
    if county_code not in COUNTY_BY_CODE:
        problems.append(
            (
                "countyCode",
                f"须为六个县（市、区）之一 county must be one of {sorted(COUNTY_BY_CODE)}",
            )
        )
    if v.dev_zone_code is not None and (
        v.dev_zone_code != DEV_ZONE_CODE or county_code not in DEV_ZONE_COUNTIES
    ):
        problems.append(
            (
                "devZoneCode",
                f"开发区代码须为 {DEV_ZONE_CODE}，且项目位于 {'/'.join(DEV_ZONE_COUNTIES)} "
                f"devZoneCode must be {DEV_ZONE_CODE} (the zone lies in {DEV_ZONE_COUNTIES})",
            )
        )
    if v.total_investment < 0:
        problems.append(("totalInvestment", "总投资不能为负 total investment must be ≥ 0"))
    if v.annual_target is not None and not 0 <= v.annual_target <= v.total_investment:
        problems.append(
            (
                "annualTarget",
                f"年度投资目标须在 0 与总投资之间 annual target {v.annual_target} must be "
                f"between 0 and the total investment {v.total_investment} 万元",
            )
        )
    if v.planned_start and v.planned_finish and v.planned_finish < v.planned_start:
        problems.append(
            ("plannedFinish", "计划竣工不能早于计划开工 planned finish is before planned start")
        )
    if v.location is not None:
        x0, y0, x1, y1 = JINCHENG_BBOX
        bx0, by0, _, _ = v.location.bounds
        if v.location.geom_type != "Point":
            problems.append(
                ("location", f"项目位置须为点 location must be a Point, not {v.location.geom_type}")
            )
        elif not (x0 <= bx0 <= x1 and y0 <= by0 <= y1):
            problems.append(
                (
                    "location",
                    f"项目位置不在晋城市范围内 location ({bx0}, {by0}) is outside Jincheng",
                )
            )
    for name in ("name", "industry", "progress_target", "lead_official", "responsible_entity"):
        text = getattr(v, name)
        if text is not None and len(text) > 500:
            problems.append((_camel(name), f"{_camel(name)}: at most 500 characters"))
    if problems:
        raise InvalidInput(problems)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _location_sql(location: InputGeometry | None) -> Any:
    if location is None:
        return None
    geom = func.ST_GeomFromWKB(location.wkb, location.srid)
    return geom if location.srid == STORAGE_SRID else func.ST_Transform(geom, STORAGE_SRID)


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (_location_sql(v) if k == "location" else v) for k, v in values.items()}


# ----------------------------------------------------------------------------- stages


def check_stage_move(current: ProjectStage, wanted: ProjectStage, note: str | None) -> None:
    """Forward one step, or back any number of steps with a reason."""
    i, j = STAGES.index(current), STAGES.index(wanted)
    allowed = [s.value for s in STAGES[i + 1 : i + 2]] + [s.value for s in STAGES[:i]]
    if j == i + 1:
        return
    if j < i:
        if note and note.strip():
            return
        why = "退回需说明原因 going back to an earlier stage needs a reason (stageNote)"
    else:
        why = "阶段须逐级推进 stages move forward one step at a time (no skipping)"
    raise InvalidTransition(current.value, wanted.value, allowed, why)


async def _last_stage_date(session: AsyncSession, project_id: int) -> dt.date | None:
    stmt = select(func.max(ProjectStageEvent.entered_on)).where(
        ProjectStageEvent.project_id == project_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def _check_stage_date(entered_on: dt.date, today: dt.date, last: dt.date | None) -> None:
    if entered_on > today:
        raise _problem("stageDate", f"阶段日期不能晚于今天 stageDate {entered_on} is after {today}")
    if last is not None and entered_on < last:
        raise _problem(
            "stageDate",
            f"阶段日期早于上一阶段 stageDate {entered_on} is before the current stage was "
            f"entered ({last})",
        )


async def _record_stage(
    session: AsyncSession, project_id: int, change: StageChange, actor_sub: str
) -> None:
    await session.execute(
        insert(ProjectStageEvent).values(
            project_id=project_id,
            stage=change.stage,
            entered_on=change.entered_on,
            actor=actor_sub,
            note=(change.note or "").strip() or None,
        )
    )


# ----------------------------------------------------------------------------- writes


async def create_project(
    session: AsyncSession,
    *,
    code: str,
    county_code: str,
    values: ProjectValues,
    stage_date: dt.date,
    today: dt.date,
    actor_sub: str,
) -> int:
    """Insert a project (not on the key list: that is setProjectKeyList) and its first
    stage event dated `stage_date`; returns its id."""
    check_code(code)
    check_values(values, county_code)
    _check_stage_date(stage_date, today, None)
    taken = await session.execute(select(Project.id).where(Project.code == code))
    if taken.first() is not None:
        raise DuplicateCode("project", code)
    constraints = {**PROJECT_CONSTRAINTS, "project_code_key": DuplicateCode("project", code)}
    row = {k: getattr(values, k) for k in ProjectValues.__dataclass_fields__}
    with translate(constraints):
        async with session.begin_nested():
            project_id: int = (
                await session.execute(
                    insert(Project)
                    .values(code=code, county_code=county_code, **_columns(row))
                    .returning(Project.id)
                )
            ).scalar_one()
    await _record_stage(
        session, project_id, StageChange(values.stage, stage_date, "项目登记 created"), actor_sub
    )
    return project_id


async def lock_project(session: AsyncSession, code: str, version: int) -> Any:
    """The project row, locked until commit, at exactly `version` (else StaleVersion)."""
    stmt = select(Project).where(Project.code == code).with_for_update(key_share=True)
    current = (await session.execute(stmt)).scalar_one_or_none()
    if current is None:
        raise NotFound("project", code, "code")
    if current.version != version:
        raise StaleVersion("project", code, version, current.version)
    return current


async def update_project(
    session: AsyncSession,
    *,
    code: str,
    version: int,
    changes: ProjectChanges,
    today: dt.date,
    actor_sub: str,
) -> int:
    """Apply `changes` to the project at `version`; a stage change also records its
    dated event. Returns the project id."""
    current = await lock_project(session, code, version)
    unknown = set(changes.values) - set(EDITABLE)
    if unknown:
        raise _problem(sorted(unknown)[0], f"not editable: {sorted(unknown)}")
    merged = ProjectValues(
        **{
            k: changes.values.get(k, getattr(current, k))
            for k in ProjectValues.__dataclass_fields__
            if k != "location"
        },
        location=None,
    )
    for required in ("name", "plan_type", "total_investment", "stats_status"):
        if required in changes.values and changes.values[required] is None:
            raise _problem(_camel(required), f"{_camel(required)} cannot be cleared")
    merged.location = changes.values.get("location")
    check_values(merged, current.county_code)
    values = dict(changes.values)
    if changes.stage is not None and changes.stage.stage != current.stage:
        check_stage_move(current.stage, changes.stage.stage, changes.stage.note)
        _check_stage_date(
            changes.stage.entered_on, today, await _last_stage_date(session, current.id)
        )
        values["stage"] = changes.stage.stage
        if (
            changes.stage.stage == ProjectStage.CONSTRUCTION_START
            and current.actual_start is None
            and "actual_start" not in values
        ):
            values["actual_start"] = changes.stage.entered_on
    else:
        changes.stage = None
    if not values:
        raise _problem("input", "没有要修改的字段 nothing to change: give at least one field")
    with translate(PROJECT_CONSTRAINTS):
        async with session.begin_nested():
            done = await session.execute(
                update(Project)
                .where(Project.id == current.id, Project.version == version)
                .values(**_columns(values))
                .returning(Project.version)
            )
            if done.first() is None:  # unreachable while the row lock is held
                raise StaleVersion("project", code, version, version + 1)
    if changes.stage is not None:
        await _record_stage(session, current.id, changes.stage, actor_sub)
    return int(current.id)


async def set_key_list(
    session: AsyncSession,
    *,
    code: str,
    version: int,
    is_key: bool,
    key_list_year: int | None,
    categories: list[KeyCategory],
) -> int:
    """Put a project on (or take it off) the key list (300个重点项目清单)."""
    problems: list[tuple[str, str]] = []
    if key_list_year is not None and not 2000 <= key_list_year <= 2100:
        problems.append(("keyListYear", "清单年度须在 2000–2100 之间 keyListYear: 2000–2100"))
    if len(set(categories)) != len(categories):
        problems.append(("categories", "类别重复 a category is listed twice"))
    if is_key and key_list_year is None:
        problems.append(("keyListYear", "重点项目须有清单年度 a key project needs keyListYear"))
    if is_key and not categories:
        problems.append(
            ("categories", "重点项目须至少有一个来源类别 a key project needs at least one category")
        )
    if problems:
        raise InvalidInput(problems)
    current = await lock_project(session, code, version)
    with translate(PROJECT_CONSTRAINTS):
        async with session.begin_nested():
            await session.execute(
                update(Project)
                .where(Project.id == current.id, Project.version == version)
                .values(is_key=is_key, key_list_year=key_list_year, categories=list(categories))
            )
    return int(current.id)
