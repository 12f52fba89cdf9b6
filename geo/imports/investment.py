"""Monthly investment reports (月度投资完成) from an .xlsx sheet: `python -m api import
investment FILE.xlsx`.

The counties' monthly returns: one row per project-month, Chinese headings (项目代码 or
项目名称, 年/年度, 月/月份, 完成投资（万元）, optional 填报日期). Every row is checked
first and every bad row reported (Excel row number, column, code, reason); when any row
is bad nothing is written. Otherwise one transaction upserts every row (a project-month
reported again replaces the earlier figure), bound to the importing actor.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from geo.actor import Role
from geo.imports.fields import (
    FieldError,
    date_value,
    f,
    heading_unit,
    is_blank,
    map_columns,
    money_value,
    text_value,
    year_value,
)
from geo.imports.report import ImportFileError, RowError

INVESTMENT_FIELDS = (
    f("code", "项目代码", "项目编号", "项目编码", "代码", "project_code"),
    f("name", "项目名称", "名称", "project_name"),
    f("year", "年", "年度", "年份", "year"),
    f("month", "月", "月份", "month"),
    f(
        "amount",
        "完成投资",
        "当月完成投资",
        "本月完成投资",
        "完成投资额",
        "月度完成投资",
        "completed_investment",
    ),
    f("reported_on", "填报日期", "报送日期", "上报日期", "reported_on"),
)
HEADER_SCAN_ROWS = 15


@dataclass
class InvestmentRow:
    row: int
    project_id: int
    project_code: str
    year: int
    month: int
    amount: Decimal
    reported_on: dt.date


@dataclass
class InvestmentImportResult:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    written: bool = False

    def text(self) -> str:
        if not self.written:
            return f"{self.rows} rows read, {len(self.errors)} bad: nothing written"
        return (
            f"{self.rows} rows written: {self.inserted} new project-months, {self.updated} replaced"
        )


def _grid(path: Path, sheet: str | None) -> list[list[Any]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    if not path.exists():
        raise ImportFileError("UNSUPPORTED_FORMAT", f"{path} does not exist")
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise ImportFileError("UNSUPPORTED_FORMAT", f"{path.name}: reports are read from .xlsx")
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise ImportFileError(
            "UNSUPPORTED_FORMAT", f"{path.name}: not an Excel file ({exc})"
        ) from None
    try:
        ws = wb[sheet] if sheet else wb.worksheets[0]
    except KeyError:
        raise ImportFileError("UNSUPPORTED_FORMAT", f"{path.name} has no sheet {sheet!r}") from None
    grid = [[c.value for c in r] for r in ws.iter_rows()]
    wb.close()
    return grid


def read_rows(
    engine: Engine, path: Path, *, sheet: str | None = None
) -> tuple[list[InvestmentRow], list[RowError], int]:
    """(good rows, every bad row, rows read). Projects are looked up in one statement."""
    grid = _grid(path, sheet)
    best, best_found = -1, {}
    for i, r in enumerate(grid[:HEADER_SCAN_ROWS]):
        found, _ = map_columns(["" if v is None else str(v) for v in r], INVESTMENT_FIELDS)
        if len(found) > len(best_found):
            best, best_found = i, found
    need = {"year", "month", "amount"}
    if best < 0 or not need <= best_found.keys() or not best_found.keys() & {"code", "name"}:
        raise ImportFileError(
            "MISSING_FIELD",
            f"{path.name}: no heading row with 项目代码 or 项目名称, 年, 月 and 完成投资（万元）",
        )
    headings = grid[best]
    unit = heading_unit(str(headings[best_found["amount"]]))
    label = {k: f"{headings[i]}" for k, i in best_found.items()}
    raw: list[tuple[int, dict[str, Any]]] = []
    for offset, r in enumerate(grid[best + 1 :]):
        cells = {k: (r[i] if i < len(r) else None) for k, i in best_found.items()}
        if all(is_blank(v) for v in cells.values()):
            continue
        raw.append((best + 2 + offset, cells))
    with engine.connect() as conn:
        projects = conn.execute(text("SELECT id, code, name FROM project")).all()
    by_code = {p.code: p for p in projects}
    by_name: dict[str, list[Any]] = {}
    for p in projects:
        by_name.setdefault(p.name, []).append(p)
    good: list[InvestmentRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[int, int, int], int] = {}
    for number, cells in raw:
        row_errors: list[RowError] = []

        def bad(
            column: str,
            code: str,
            message: str,
            _n: int = number,
            _out: list[RowError] = row_errors,
        ) -> None:
            _out.append(RowError(_n, code, message, column=label.get(column, column)))

        project = None
        code = None if is_blank(cells.get("code")) else text_value(cells["code"])
        name = None if is_blank(cells.get("name")) else text_value(cells["name"])
        if code is not None:
            project = by_code.get(code)
            if project is None:
                bad("code", "UNKNOWN_PROJECT", f"no project with code {code!r}")
        elif name is not None:
            matches = by_name.get(name, [])
            if len(matches) == 1:
                project = matches[0]
            elif not matches:
                bad("name", "UNKNOWN_PROJECT", f"no project named {name!r}")
            else:
                bad(
                    "name",
                    "BAD_VALUE",
                    f"{len(matches)} projects are named {name!r}: give 项目代码",
                )
        else:
            bad("code", "MISSING_FIELD", "项目代码 or 项目名称 is required")
        values: dict[str, Any] = {}
        for column, parse in (
            ("year", year_value),
            ("month", _month),
            ("amount", lambda v: money_value(v, unit)),
        ):
            value = cells.get(column)
            if is_blank(value):
                bad(column, "MISSING_FIELD", f"{label[column]} is required")
                continue
            try:
                values[column] = parse(value)
            except FieldError as exc:
                bad(column, exc.code, exc.message)
        reported = cells.get("reported_on")
        if not is_blank(reported):
            try:
                values["reported_on"] = date_value(reported)
            except FieldError as exc:
                bad("reported_on", exc.code, exc.message)
        if "year" in values and "month" in values:
            y, m = values["year"], values["month"]
            values.setdefault("reported_on", dt.date(y, m, calendar.monthrange(y, m)[1]))
            if "reported_on" in values and values["reported_on"] < dt.date(y, m, 1):
                bad("reported_on", "BAD_VALUE", "填报日期 is before the reported month")
            if project is not None:
                key = (project.id, y, m)
                if key in seen:
                    bad(
                        "month",
                        "DUPLICATE_CODE",
                        f"{project.code} {y}-{m:02d} is already in row {seen[key]}",
                    )
                else:
                    seen[key] = number
        if row_errors:
            errors.extend(row_errors)
            continue
        assert project is not None
        good.append(
            InvestmentRow(
                number,
                project.id,
                project.code,
                values["year"],
                values["month"],
                values["amount"],
                values["reported_on"],
            )
        )
    return good, errors, len(raw)


def _month(value: Any) -> int:
    s = text_value(value).rstrip("月份").rstrip("月")
    try:
        month = int(float(s))
    except ValueError:
        raise FieldError("BAD_VALUE", f"{value!r} is not a month") from None
    if not 1 <= month <= 12:
        raise FieldError("BAD_VALUE", f"{value!r}: a month is 1–12")
    return month


_UPSERT = text(
    """
    INSERT INTO investment_report AS r (project_id, year, month, completed_investment, reported_on)
    SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:years AS smallint[]),
                         CAST(:months AS smallint[]), CAST(:amounts AS numeric[]),
                         CAST(:dates AS date[]))
    ON CONFLICT (project_id, year, month) DO UPDATE
       SET completed_investment = EXCLUDED.completed_investment,
           reported_on = EXCLUDED.reported_on
    RETURNING (xmax = 0) AS inserted
    """
)


def import_investment(
    engine: Engine,
    path: Path,
    *,
    actor_sub: str = "system:import",
    sheet: str | None = None,
    dry_run: bool = False,
) -> InvestmentImportResult:
    """Validate every row; write all of them in one statement and one transaction, or none."""
    good, errors, count = read_rows(engine, path, sheet=sheet)
    result = InvestmentImportResult(rows=count, errors=errors)
    if errors or not good:
        return result
    with engine.connect() as conn, conn.begin() as tx:
        bind_actor_sync(conn, actor_sub)
        flags = (
            conn.execute(
                _UPSERT,
                {
                    "ids": [r.project_id for r in good],
                    "years": [r.year for r in good],
                    "months": [r.month for r in good],
                    "amounts": [r.amount for r in good],
                    "dates": [r.reported_on for r in good],
                },
            )
            .scalars()
            .all()
        )
        if dry_run:
            tx.rollback()
            return result
    result.inserted = sum(1 for x in flags if x)
    result.updated = len(flags) - result.inserted
    result.written = True
    return result


def bind_actor_sync(conn: Any, sub: str) -> None:
    """The audit/RLS settings for a synchronous connection (geo.actor.bind_actor is async):
    a city-level import job, recorded as `sub`."""
    conn.execute(
        text(
            "SELECT set_config('landguard.sub', :sub, true), "
            "set_config('landguard.role', :role, true), "
            "set_config('landguard.counties', '*', true)"
        ),
        {"sub": sub, "role": Role.CITY_ADMIN.value},
    )
