"""One small .xlsx writer for every bulletin (openpyxl, write-only mode: constant memory).

Headings are Chinese with their units (万元, 公顷, 亩, %, 天) the way the offices circulate
lists; a bold title row, a frozen heading row, column widths from the content, numbers kept
as numbers (never formatted into strings) so the recipients can sum and sort them.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    heading: str
    """Chinese heading with its unit, e.g. "年度计划投资（万元）"."""
    number_format: str | None = None
    """e.g. "#,##0.00" for 万元, "0.0%" for rates, "yyyy-mm-dd" for dates."""
    width: float | None = None


@dataclass(frozen=True)
class Sheet:
    title: str
    """Sheet tab name (≤ 31 characters) — also the bold first row unless `caption` is set."""
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]
    caption: str | None = None
    """First-row caption, e.g. "晋城市重点项目周调度清单（截至2024年10月31日）"."""


def _width(values: Iterable[Any]) -> float:
    longest = 0
    for v in values:
        text = v.isoformat() if isinstance(v, dt.date) else str(v if v is not None else "")
        # CJK characters take about two columns
        longest = max(longest, sum(2 if ord(ch) > 0x2E80 else 1 for ch in text))
    return min(60.0, max(8.0, longest + 2.0))


def workbook(sheets: Sequence[Sheet]) -> bytes:
    """The .xlsx file of one or more sheets, as bytes."""
    wb = Workbook(write_only=True)
    for sheet in sheets:
        rows = [list(r) for r in sheet.rows]
        ws = wb.create_sheet(title=sheet.title[:31])
        for i, col in enumerate(sheet.columns):
            letter = chr(ord("A") + i) if i < 26 else "A" + chr(ord("A") + i - 26)
            ws.column_dimensions[letter].width = col.width or _width(
                [col.heading, *(r[i] for r in rows[:500])]
            )
        ws.freeze_panes = "A3"
        title = WriteOnlyCell(ws, value=sheet.caption or sheet.title)
        title.font = Font(bold=True, size=14)
        ws.append([title])
        heads = []
        for col in sheet.columns:
            cell = WriteOnlyCell(ws, value=col.heading)
            cell.font = Font(bold=True)
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            heads.append(cell)
        ws.append(heads)
        for r in rows:
            out = []
            for col, value in zip(sheet.columns, r, strict=True):
                cell = WriteOnlyCell(ws, value=value)
                if col.number_format and value is not None:
                    cell.number_format = col.number_format
                out.append(cell)
            ws.append(out)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
