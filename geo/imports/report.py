"""What an import found and did: one `RowError` per problem, the counts and the areas.

Codes are the names of `schema.errors.ErrorCode` (a test keeps the two in step); `geo`
cannot import `schema`, so they are plain strings here, like geo.geometry_input's.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from geo.crs import ha, mu


class Kind(StrEnum):
    PARCELS = "parcels"
    ZONES = "zones"
    ADMIN_AREAS = "admin-areas"
    PROJECTS = "projects"

    @property
    def spatial(self) -> bool:
        return self is not Kind.PROJECTS


# Every code an import reports (all are ErrorCode members).
IMPORT_CODES = frozenset(
    {
        "INVALID_GEOJSON",
        "INVALID_GEOMETRY",
        "UNSUPPORTED_SRID",
        "UNSUPPORTED_GEOMETRY_TYPE",
        "UNSUPPORTED_FORMAT",
        "EMPTY_GEOMETRY",
        "NOT_2D",
        "TOO_MANY_VERTICES",
        "COORDINATE_OUT_OF_RANGE",
        "UNKNOWN_COUNTY",
        "UNKNOWN_PROJECT",
        "UNKNOWN_ADMIN_AREA",
        "DUPLICATE_CODE",
        "PARCEL_OVERLAP",
        "MISSING_FIELD",
        "BAD_VALUE",
    }
)


@dataclass(frozen=True)
class RowError:
    """One bad row: where (row number, feature id, column), what (code) and why (message)."""

    row: int
    """1-based feature number in the file, or the Excel row number as Excel shows it."""
    code: str
    message: str
    column: str | None = None
    fid: str | None = None
    record_code: str | None = None
    """The row's own code (地块编号, 项目代码 …) when it has one."""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in IMPORT_CODES:
            raise ValueError(f"unknown import error code {self.code}")

    def line(self) -> str:
        where = [f"row {self.row}"]
        if self.fid is not None:
            where.append(f"fid {self.fid}")
        if self.record_code:
            where.append(f"code {self.record_code}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.code} — {self.message}"


class ImportFileError(Exception):
    """The file as a whole cannot be imported (unreadable, unsupported CRS, no code column)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ImportResult:
    kind: Kind
    source: str
    rows_read: int = 0
    errors: list[RowError] = field(default_factory=list)
    written: int = 0
    updated: int = 0
    valid_area_m2: float | None = None
    written_area_m2: float | None = None
    source_srid: int | None = None
    skipped_rows: list[int] = field(default_factory=list)
    """Excel section/total rows (一、城区 / 合计) passed over, not data."""
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False
    would_write: int = 0
    """In a dry run: how many rows were written before the rollback."""
    seconds: float = 0.0

    @property
    def bad_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors})

    @property
    def invalid(self) -> int:
        return len(self.bad_rows)

    @property
    def valid(self) -> int:
        return self.rows_read - self.invalid

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind.value,
            "source": self.source,
            "rows_read": self.rows_read,
            "valid": self.valid,
            "invalid": self.invalid,
            "written": self.written,
            "updated": self.updated,
            "dry_run": self.dry_run,
            "would_write": self.would_write,
            "seconds": round(self.seconds, 3),
        }
        if self.source_srid is not None:
            out["source_srid"] = self.source_srid
        for name, m2 in (
            ("valid_area", self.valid_area_m2),
            ("written_area", self.written_area_m2),
        ):
            if m2 is not None:
                out[name] = {"m2": round(m2, 2), "mu": round(mu(m2), 4), "ha": round(ha(m2), 4)}
        if self.skipped_rows:
            out["skipped_rows"] = self.skipped_rows
        if self.ignored_columns:
            out["ignored_columns"] = self.ignored_columns
        return out

    def text(self) -> str:
        """The human summary the CLI prints."""
        srid = f" (EPSG:{self.source_srid} → EPSG:4490)" if self.source_srid else ""
        lines = [
            f"import {self.kind.value} from {self.source}{srid}",
            f"rows read {self.rows_read} · valid {self.valid} · invalid {self.invalid} · "
            f"written {self.written}"
            + (f" (of which updated {self.updated})" if self.updated else "")
            + f" · {self.seconds:.1f} s",
        ]
        for label, m2 in (("valid rows", self.valid_area_m2), ("written", self.written_area_m2)):
            if m2 is not None:
                lines.append(f"area of {label}: {_area(m2)}")
        if self.skipped_rows:
            lines.append(f"section/total rows passed over: {self.skipped_rows}")
        if self.ignored_columns:
            lines.append(f"columns not imported: {', '.join(self.ignored_columns)}")
        if self.dry_run:
            lines.append(f"dry run: {self.would_write} rows would be written; all rolled back")
        elif self.errors and self.written:
            lines.append(f"{self.invalid} bad rows skipped (--skip-invalid)")
        elif self.errors:
            lines.append(
                f"nothing written: {self.invalid} bad rows "
                f"(--skip-invalid writes the {self.valid} good ones)"
            )
        return "\n".join(lines)


def _area(m2: float) -> str:
    return f"{m2:,.2f} m² = {mu(m2):,.4f} 亩 = {ha(m2):,.4f} 公顷"


def write_report(result: ImportResult, path: Path) -> None:
    """The bad rows as JSON (with the summary) or CSV (one line per problem), by suffix."""
    if path.suffix.lower() == ".csv":
        with path.open("w", newline="", encoding="utf-8-sig") as f:  # BOM: Excel opens it right
            w = csv.writer(f)
            w.writerow(["row", "fid", "record_code", "column", "code", "message", "details"])
            for e in result.errors:
                w.writerow(
                    [
                        e.row,
                        e.fid or "",
                        e.record_code or "",
                        e.column or "",
                        e.code,
                        e.message,
                        json.dumps(e.details, ensure_ascii=False) if e.details else "",
                    ]
                )
        return
    body = {"summary": result.summary(), "errors": [asdict(e) for e in result.errors]}
    path.write_text(json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")
