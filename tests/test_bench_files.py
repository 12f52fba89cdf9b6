"""Generated benchmark files stay in step with the code they measure."""

from __future__ import annotations

from pathlib import Path

from bench import guarantee_sql

ROOT = Path(__file__).resolve().parent.parent


def test_land_guarantee_scripts_are_the_apis_sql() -> None:
    for name, make in guarantee_sql.SCRIPTS.items():
        committed = (ROOT / "bench" / "queries" / name).read_text(encoding="utf-8")
        assert committed == make(), f"regenerate {name}: python -m bench.guarantee_sql --write"
