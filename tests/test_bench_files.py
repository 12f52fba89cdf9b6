"""Generated benchmark files stay in step with the code they measure."""

from __future__ import annotations

from pathlib import Path

from bench import guarantee_sql

ROOT = Path(__file__).resolve().parent.parent


def test_land_guarantee_script_is_the_apis_sql() -> None:
    committed = (ROOT / "bench" / "queries" / "land_guarantee.sql").read_text(encoding="utf-8")
    assert committed == guarantee_sql.script(), (
        "regenerate: python -m bench.guarantee_sql > bench/queries/land_guarantee.sql"
    )
