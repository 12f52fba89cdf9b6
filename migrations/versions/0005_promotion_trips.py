"""Investment-promotion trips (招商引资外出): who went where, pitching how many projects.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

The policy's 招商引资 special action sets minimums per county leader per quarter and per
promotion bureau per month (geo/horse_race_rules.py); checking them needs the trips.
`promoter_kind` COUNTY_LEADER (县（市、区）、开发区主要领导) or BUREAU (投促部门; the city's
bureau holds the city code). Owned by the unit (county, development zone or city): the
API role may insert trips only for a unit in its scope (row-level security as 0004).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

API_ROLE = "landguard_api"

UPGRADE_SQL = f"""
CREATE TABLE promotion_trip (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_code        varchar(12) NOT NULL REFERENCES admin_area (code),
    promoter_kind    text NOT NULL CHECK (promoter_kind IN ('COUNTY_LEADER', 'BUREAU')),
    promoter         text NOT NULL CHECK (btrim(promoter) <> ''),
    trip_on          date NOT NULL,
    destination      text NOT NULL CHECK (btrim(destination) <> ''),
    projects_pitched integer NOT NULL CHECK (projects_pitched BETWEEN 0 AND 1000),
    note             text,
    actor            text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE promotion_trip IS '招商引资外出: promotion trips of county leaders and promotion bureaus';
COMMENT ON COLUMN promotion_trip.projects_pitched IS '对接项目个数 projects pitched on the trip';
CREATE INDEX promotion_trip_unit_idx ON promotion_trip (unit_code, trip_on);

ALTER TABLE promotion_trip ENABLE ROW LEVEL SECURITY;
ALTER TABLE promotion_trip FORCE ROW LEVEL SECURITY;
CREATE POLICY promotion_trip_read ON promotion_trip FOR SELECT USING (true);
CREATE POLICY promotion_trip_owner ON promotion_trip FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY promotion_trip_county_insert ON promotion_trip FOR INSERT TO {API_ROLE}
    WITH CHECK (landguard_may_write(unit_code));
GRANT SELECT, INSERT ON promotion_trip TO {API_ROLE};
"""

DOWNGRADE_SQL = "DROP TABLE IF EXISTS promotion_trip;"


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
