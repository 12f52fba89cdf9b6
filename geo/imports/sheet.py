"""An Excel project list (.xlsx) → rows of cells keyed by target field.

City lists have a title row or two above the headings, merged heading cells, section rows
(一、城区（12个）) and total rows (合计) between the data: the heading row is the one among
the first 15 that names the most known columns, and section/total rows are passed over
(and listed in the summary), never taken for projects.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo.imports.fields import Field, is_blank, map_columns
from geo.imports.report import ImportFileError

HEADER_SCAN_ROWS = 15
_SECTION = re.compile(
    r"^([一二三四五六七八九十]+[、.．]|\(?[一二三四五六七八九十]+\)|合计|小计|总计|全市合计)"
)


@dataclass
class Cell:
    value: Any
    number_format: str | None
    column: str
    """Excel column letter plus heading, e.g. 'F 计划开工时间' (the location of an error)."""


@dataclass
class SheetRow:
    row: int
    cells: dict[str, Cell]


@dataclass
class SheetSource:
    path: Path
    sheet: str
    headings: dict[str, str]
    """field name → the heading as written (units and all)."""
    unknown: list[str]
    labels: dict[str, str]
    """field name → its column as errors name it: letter and heading ('B 项目代码')."""
    count: int
    rows: Iterator[SheetRow]
    skipped: list[int] = field(default_factory=list)


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def open_sheet(path: Path, fields: Sequence[Field], *, sheet: str | None = None) -> SheetSource:
    """Open the sheet (the first one unless named) and find its heading row."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    if not path.exists():
        raise ImportFileError("UNSUPPORTED_FORMAT", f"{path} does not exist")
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise ImportFileError(
            "UNSUPPORTED_FORMAT", f"{path.name}: project lists are read from .xlsx"
        )
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise ImportFileError(
            "UNSUPPORTED_FORMAT", f"{path.name}: not an Excel file ({exc})"
        ) from None
    try:
        ws = wb[sheet] if sheet else wb.worksheets[0]
    except KeyError:
        raise ImportFileError(
            "UNSUPPORTED_FORMAT", f"{path.name} has no sheet {sheet!r} (sheets: {wb.sheetnames})"
        ) from None
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()  # some exporters write a wrong sheet size; read every row
    grid = [list(r) for r in ws.iter_rows()]
    wb.close()
    best, best_score = -1, 0
    for i, r in enumerate(grid[:HEADER_SCAN_ROWS]):
        found, _ = map_columns([c.value if c.value is not None else "" for c in r], fields)
        score = len(found) if "name" in found else 0
        if score > best_score:
            best, best_score = i, score
    if best < 0 or best_score < 2:
        raise ImportFileError(
            "MISSING_FIELD", f"{path.name}: no heading row with 项目名称 and other known columns"
        )
    headings = [c.value for c in grid[best]]
    found, unknown = map_columns(["" if h is None else str(h) for h in headings], fields)
    missing = [fl for fl in fields if fl.required and fl.name not in found]
    if missing:
        names = "; ".join(f"{fl.name} ({'/'.join(fl.aliases[:3])})" for fl in missing)
        raise ImportFileError("MISSING_FIELD", f"{path.name}: no column for {names}")
    heading_of = {name: str(headings[i]).strip() for name, i in found.items()}
    labels = {name: f"{_letter(i)} {heading_of[name]}" for name, i in found.items()}
    data = grid[best + 1 :]
    skipped: list[int] = []
    rows: list[SheetRow] = []
    for offset, r in enumerate(data):
        number = best + 2 + offset  # Excel's 1-based row number
        cells = {
            name: Cell(
                r[i].value if i < len(r) else None,
                getattr(r[i], "number_format", None) if i < len(r) else None,
                labels[name],
            )
            for name, i in found.items()
        }
        if all(is_blank(c.value) for c in cells.values()):
            continue
        if _is_section(cells):
            skipped.append(number)
            continue
        rows.append(SheetRow(number, cells))
    return SheetSource(path, ws.title, heading_of, unknown, labels, len(rows), iter(rows), skipped)


def _is_section(cells: dict[str, Cell]) -> bool:
    """一、城区（12个） or 合计 rows: no code and no county, a section mark where the number or
    the name would be."""
    if not is_blank(cells["code"].value if "code" in cells else None):
        return False
    for name in ("seq_no", "name"):
        value = cells[name].value if name in cells else None
        if isinstance(value, str) and _SECTION.match(re.sub(r"\s", "", value)):
            return True
    return False
