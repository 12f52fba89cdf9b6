"""Investment-promotion trips (招商引资外出): who went where, pitching how many projects.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

The policy's 招商引资 special action sets minimums per county leader per quarter and per
promotion bureau per month (geo/horse_race_rules.py); checking them needs the trips.
`promoter_kind` COUNTY_LEADER (县（市、区）、开发区主要领导) or BUREAU (投促部门; the city's
bureau holds the city code). Owned by the unit (county, development zone or city): the
API role may insert trips only for a unit in its scope (row-level security as 0004).

Audit: the new writes of issue 6 — promotion trips and monthly investment reports (the
recordInvestmentReport mutation and the investment import) — get audit_log rows like
0004's tables: statement-level triggers over the transition tables, actor from
landguard.sub (0004's audit_actor()). An investment report has no id: object_code is
"<project code>/<year>-<month>".
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
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

AUDIT_COLUMNS = (
    "actor_sub, actor_role, request_id, county_code, table_name, object_id, object_code, "
    "action, before, after"
)
AUDIT_SQL = f"""
CREATE FUNCTION audit_promotion_trip() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    who text;
BEGIN
    PERFORM 1 FROM new_rows LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    who := audit_actor();
    INSERT INTO audit_log ({AUDIT_COLUMNS})
    SELECT who, audit_setting('landguard.role'), audit_setting('landguard.request_id'),
           r.unit_code, TG_TABLE_NAME, r.id, r.unit_code || '/' || r.trip_on, 'INSERT', NULL,
           to_jsonb(r)
      FROM new_rows r;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_promotion_trip_insert AFTER INSERT ON promotion_trip
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_promotion_trip();

CREATE FUNCTION audit_investment_report() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    who text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM 1 FROM old_rows LIMIT 1;
    ELSE
        PERFORM 1 FROM new_rows LIMIT 1;
    END IF;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    who := audit_actor();
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_log ({AUDIT_COLUMNS})
        SELECT who, audit_setting('landguard.role'), audit_setting('landguard.request_id'),
               pr.county_code, TG_TABLE_NAME, NULL, pr.code || '/' || r.year || '-' || r.month,
               'INSERT', NULL, to_jsonb(r)
          FROM new_rows r LEFT JOIN project pr ON pr.id = r.project_id;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO audit_log ({AUDIT_COLUMNS})
        SELECT who, audit_setting('landguard.role'), audit_setting('landguard.request_id'),
               pr.county_code, TG_TABLE_NAME, NULL, pr.code || '/' || r.year || '-' || r.month,
               'DELETE', to_jsonb(r), NULL
          FROM old_rows r LEFT JOIN project pr ON pr.id = r.project_id;
    ELSE
        INSERT INTO audit_log ({AUDIT_COLUMNS})
        SELECT who, audit_setting('landguard.role'), audit_setting('landguard.request_id'),
               pr.county_code, TG_TABLE_NAME, NULL, pr.code || '/' || r.year || '-' || r.month,
               'UPDATE', to_jsonb(o), to_jsonb(r)
          FROM new_rows r
          JOIN old_rows o USING (project_id, year, month)
          LEFT JOIN project pr ON pr.id = r.project_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_investment_report_insert AFTER INSERT ON investment_report
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_investment_report();
CREATE TRIGGER audit_investment_report_update AFTER UPDATE ON investment_report
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION audit_investment_report();
CREATE TRIGGER audit_investment_report_delete AFTER DELETE ON investment_report
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_investment_report();
"""

DOWNGRADE_SQL = """
DROP TRIGGER IF EXISTS audit_investment_report_insert ON investment_report;
DROP TRIGGER IF EXISTS audit_investment_report_update ON investment_report;
DROP TRIGGER IF EXISTS audit_investment_report_delete ON investment_report;
DROP FUNCTION IF EXISTS audit_investment_report();
DROP TABLE IF EXISTS promotion_trip;
DROP FUNCTION IF EXISTS audit_promotion_trip();
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)
    op.execute(AUDIT_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
