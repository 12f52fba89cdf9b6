"""The committed schema.graphql is the contract the front end reviews: keep it current."""

from pathlib import Path

from schema.build import build_schema


def test_committed_schema_matches_code() -> None:
    committed = (Path(__file__).parent.parent / "schema.graphql").read_text(encoding="utf-8")
    assert committed.strip() == build_schema().as_str().strip(), (
        "run `make schema` and commit schema.graphql"
    )
