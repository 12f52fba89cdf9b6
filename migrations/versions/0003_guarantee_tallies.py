"""Land-guarantee tallies: the current state of demand, procedure steps, stock and quota,
kept by triggers so `landGuarantee` reads a few thousand rows instead of a million.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

Without `asOf`, the land-guarantee figures are the *recorded* state: every procedure step,
link and ledger entry on file (writes are not dated in the future, so this is the state
as of today). Recomputing it per request costs 0.6 s at 100,000 parcels and 7 s at a
million (measured, 2 cores), so it is kept incrementally:

- `project_land_demand`: one row per active project and county its demand parcels lie in
  (land not yet approved, DEMAND_STATUSES in geo/guarantee_rules.py), with the project's
  priority tier, planned start and code for the ranking, conflicts and outside-UDB counts.
  Refreshed by statement-level triggers for exactly the projects a statement touched via
  parcel, parcel_overlay, project_parcel or project; a refresh locks the projects' rows
  first so two concurrent writers cannot leave a stale aggregate behind.
- `county_demand_tally`: the county sums of `project_land_demand`, kept by deltas, so the
  ranking pass over the demand rows only counts the projects at risk.
- `parcel_land_step` → `county_step_tally`: per parcel and plan year, the area approved
  (still approved now) and supplied that year; the county sums are kept by deltas.
- `county_stock_tally`: 批而未供 area and count per county, kept by deltas from parcel.
- `land_quota_tally`: ledger sums per account and entry type, kept like the balance.

Sums that are kept by deltas are `numeric` (exact: adding and subtracting the same
amounts returns to the same value). The tables are written only by these triggers;
tests compare each with a from-scratch computation. `asOf` queries still rebuild
everything from the dated events (geo/guarantee.py).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of geo/guarantee_rules.py (a test checks they still agree).
DEMAND = "'DEMAND', 'PRE_REVIEWED', 'DOSSIER_PREP', 'SUBMITTED'"


def _delta(rows: str) -> str:
    """Add the signed rows' sums to county_demand_tally (+ new images, − old images)."""
    return f"""INSERT INTO county_demand_tally AS t
        SELECT county_code,
               coalesce(sum(sign * demand_m2) FILTER (WHERE is_key), 0),
               coalesce(sum(sign * demand_m2) FILTER (WHERE NOT is_key), 0),
               sum(sign * conflict_parcels), sum(sign * farmland_m2::numeric),
               sum(sign * redline_m2::numeric),
               coalesce(sum(sign * conflict_demand_m2) FILTER (WHERE is_key), 0),
               sum(sign * outside_urban_parcels), sum(sign)
          FROM ({rows}) d
         GROUP BY county_code ORDER BY county_code
        ON CONFLICT (county_code) DO UPDATE SET
            demand_key_m2 = t.demand_key_m2 + EXCLUDED.demand_key_m2,
            demand_other_m2 = t.demand_other_m2 + EXCLUDED.demand_other_m2,
            conflict_parcels = t.conflict_parcels + EXCLUDED.conflict_parcels,
            farmland_m2 = t.farmland_m2 + EXCLUDED.farmland_m2,
            redline_m2 = t.redline_m2 + EXCLUDED.redline_m2,
            key_conflict_demand_m2 = t.key_conflict_demand_m2 + EXCLUDED.key_conflict_demand_m2,
            outside_urban_parcels = t.outside_urban_parcels + EXCLUDED.outside_urban_parcels,
            projects = t.projects + EXCLUDED.projects;"""


UPGRADE = f"""
-- 用地保障优先级 (guarantee_rules.PRIORITY_TIERS): 1 provincial key, 2 municipal key,
-- 3 signed-to-land, 4 about-to-sign, 5 the rest.
CREATE FUNCTION project_priority_tier(categories key_category[], is_key boolean, signing signing_status)
RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE WHEN 'PROVINCIAL_KEY' = ANY (categories) THEN 1
                 WHEN is_key THEN 2
                 WHEN signing = 'SIGNED' THEN 3
                 WHEN signing = 'ABOUT_TO_SIGN' THEN 4
                 ELSE 5 END)::smallint
$$;

-- ---------------------------------------------------------------- demand per project
CREATE TABLE project_land_demand (
    project_id            bigint NOT NULL REFERENCES project (id) ON DELETE CASCADE,
    county_code           varchar(12) NOT NULL,
    is_key                boolean NOT NULL,
    tier                  smallint NOT NULL,
    planned_start         date,
    code                  varchar(40) NOT NULL,
    demand_m2             numeric NOT NULL,
    demand_parcels        integer NOT NULL,
    conflict_parcels      integer NOT NULL,
    conflict_demand_m2    numeric NOT NULL,
    farmland_m2           double precision NOT NULL,
    redline_m2            double precision NOT NULL,
    outside_urban_parcels integer NOT NULL,
    PRIMARY KEY (project_id, county_code)
);
COMMENT ON TABLE project_land_demand IS '用地需求: new construction land still to approve per active project and county (kept by triggers)';
-- the ranking walks a county in priority order straight off this index
CREATE INDEX project_land_demand_rank_idx ON project_land_demand
    (county_code, tier, planned_start, code)
    INCLUDE (demand_m2, conflict_parcels, is_key, conflict_demand_m2, farmland_m2, redline_m2,
             outside_urban_parcels);

CREATE FUNCTION project_land_demand_refresh(ids bigint[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    -- Serialise refreshers of one project: a second writer waits here, and its next
    -- statement (a new snapshot under READ COMMITTED) sees the first one's changes.
    PERFORM 1 FROM project WHERE id = ANY (ids) ORDER BY id FOR NO KEY UPDATE;
    WITH fresh AS (
        SELECT pr.id AS project_id, p.county_code, pr.is_key,
               project_priority_tier(pr.categories, pr.is_key, pr.signing_status) AS tier,
               pr.planned_start, pr.code,
               sum(round(p.new_construction_area_m2::numeric, 2)) AS demand_m2,
               count(*)::integer AS demand_parcels,
               count(*) FILTER (WHERE o.conflict)::integer AS conflict_parcels,
               coalesce(sum(round(p.new_construction_area_m2::numeric, 2)) FILTER (WHERE o.conflict), 0)
                   AS conflict_demand_m2,
               sum(coalesce(o.basic_farmland_m2, 0)) AS farmland_m2,
               sum(coalesce(o.redline_m2, 0)) AS redline_m2,
               count(*) FILTER (WHERE coalesce(o.outside_urban, true))::integer AS outside_urban_parcels
          FROM project pr
          JOIN project_parcel l ON l.project_id = pr.id AND l.unlinked_on IS NULL
          JOIN parcel p ON p.id = l.parcel_id AND p.procedure_status IN ({DEMAND})
          LEFT JOIN parcel_overlay o ON o.parcel_id = p.id
         WHERE pr.id = ANY (ids) AND pr.stage <> 'COMPLETED'
         GROUP BY pr.id, p.county_code
    ), gone AS (
        DELETE FROM project_land_demand d
         WHERE d.project_id = ANY (ids)
           AND NOT EXISTS (SELECT 1 FROM fresh f
                            WHERE f.project_id = d.project_id AND f.county_code = d.county_code)
    )
    INSERT INTO project_land_demand AS d
    SELECT * FROM fresh
    ON CONFLICT (project_id, county_code) DO UPDATE SET
        is_key = EXCLUDED.is_key, tier = EXCLUDED.tier, planned_start = EXCLUDED.planned_start,
        code = EXCLUDED.code, demand_m2 = EXCLUDED.demand_m2,
        demand_parcels = EXCLUDED.demand_parcels, conflict_parcels = EXCLUDED.conflict_parcels,
        conflict_demand_m2 = EXCLUDED.conflict_demand_m2, farmland_m2 = EXCLUDED.farmland_m2,
        redline_m2 = EXCLUDED.redline_m2, outside_urban_parcels = EXCLUDED.outside_urban_parcels
     WHERE (d.is_key, d.tier, d.planned_start, d.code, d.demand_m2, d.demand_parcels,
            d.conflict_parcels, d.conflict_demand_m2, d.farmland_m2, d.redline_m2,
            d.outside_urban_parcels)
           IS DISTINCT FROM
           (EXCLUDED.is_key, EXCLUDED.tier, EXCLUDED.planned_start, EXCLUDED.code,
            EXCLUDED.demand_m2, EXCLUDED.demand_parcels, EXCLUDED.conflict_parcels,
            EXCLUDED.conflict_demand_m2, EXCLUDED.farmland_m2, EXCLUDED.redline_m2,
            EXCLUDED.outside_urban_parcels);
END $$;

-- parcel: status, area, land class or county changed → its active project
CREATE FUNCTION project_land_demand_on_parcel_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM project_land_demand_refresh(ARRAY(
        SELECT DISTINCT l.project_id
          FROM new_rows n JOIN old_rows o ON o.id = n.id
          JOIN project_parcel l ON l.parcel_id = n.id AND l.unlinked_on IS NULL
         WHERE (o.procedure_status, o.new_construction_area_m2, o.county_code)
               IS DISTINCT FROM (n.procedure_status, n.new_construction_area_m2, n.county_code)));
    RETURN NULL;
END $$;
CREATE TRIGGER project_land_demand_parcel_update AFTER UPDATE ON parcel
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION project_land_demand_on_parcel_update();

-- overlay (conflicts, outside the urban boundary) changed → the parcel's active project
CREATE FUNCTION project_land_demand_on_overlay() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM project_land_demand_refresh(ARRAY(
            SELECT DISTINCT l.project_id FROM new_rows n
              JOIN project_parcel l ON l.parcel_id = n.parcel_id AND l.unlinked_on IS NULL));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM project_land_demand_refresh(ARRAY(
            SELECT DISTINCT l.project_id FROM old_rows o
              JOIN project_parcel l ON l.parcel_id = o.parcel_id AND l.unlinked_on IS NULL));
    ELSE
        PERFORM project_land_demand_refresh(ARRAY(
            SELECT DISTINCT l.project_id
              FROM new_rows n JOIN old_rows o ON o.parcel_id = n.parcel_id
              JOIN project_parcel l ON l.parcel_id = n.parcel_id AND l.unlinked_on IS NULL
             WHERE (o.conflict, o.basic_farmland_m2, o.redline_m2, o.outside_urban)
                   IS DISTINCT FROM (n.conflict, n.basic_farmland_m2, n.redline_m2, n.outside_urban)));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER project_land_demand_overlay_insert AFTER INSERT ON parcel_overlay
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION project_land_demand_on_overlay();
CREATE TRIGGER project_land_demand_overlay_update AFTER UPDATE ON parcel_overlay
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION project_land_demand_on_overlay();
CREATE TRIGGER project_land_demand_overlay_delete AFTER DELETE ON parcel_overlay
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION project_land_demand_on_overlay();

-- links made, ended or moved → both projects
CREATE FUNCTION project_land_demand_on_link() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM project_land_demand_refresh(ARRAY(SELECT DISTINCT project_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM project_land_demand_refresh(ARRAY(SELECT DISTINCT project_id FROM old_rows));
    ELSE
        PERFORM project_land_demand_refresh(ARRAY(
            SELECT project_id FROM new_rows UNION SELECT project_id FROM old_rows));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER project_land_demand_link_insert AFTER INSERT ON project_parcel
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION project_land_demand_on_link();
CREATE TRIGGER project_land_demand_link_update AFTER UPDATE ON project_parcel
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION project_land_demand_on_link();
CREATE TRIGGER project_land_demand_link_delete AFTER DELETE ON project_parcel
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION project_land_demand_on_link();

-- the project's stage, key flag, categories, signing status, planned start or code changed
CREATE FUNCTION project_land_demand_on_project_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM project_land_demand_refresh(ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE (o.stage, o.is_key, o.categories, o.signing_status, o.planned_start, o.code)
               IS DISTINCT FROM (n.stage, n.is_key, n.categories, n.signing_status, n.planned_start, n.code)));
    RETURN NULL;
END $$;
CREATE TRIGGER project_land_demand_project_update AFTER UPDATE ON project
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION project_land_demand_on_project_update();

-- county sums of project_land_demand, kept by deltas (the ranking pass then only counts)
CREATE TABLE county_demand_tally (
    county_code            varchar(12) PRIMARY KEY,
    demand_key_m2          numeric NOT NULL DEFAULT 0,
    demand_other_m2        numeric NOT NULL DEFAULT 0,
    conflict_parcels       bigint NOT NULL DEFAULT 0,
    farmland_m2            numeric NOT NULL DEFAULT 0,
    redline_m2             numeric NOT NULL DEFAULT 0,
    key_conflict_demand_m2 numeric NOT NULL DEFAULT 0,
    outside_urban_parcels  bigint NOT NULL DEFAULT 0,
    projects               bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE county_demand_tally IS '用地需求 per county: sums of project_land_demand (kept by deltas)';

CREATE FUNCTION county_demand_tally_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_delta("SELECT 1 AS sign, * FROM new_rows")}
    ELSIF TG_OP = 'DELETE' THEN
        {_delta("SELECT -1 AS sign, * FROM old_rows")}
    ELSE
        {_delta("SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1, * FROM old_rows")}
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER county_demand_tally_insert AFTER INSERT ON project_land_demand
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION county_demand_tally_apply();
CREATE TRIGGER county_demand_tally_update AFTER UPDATE ON project_land_demand
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION county_demand_tally_apply();
CREATE TRIGGER county_demand_tally_delete AFTER DELETE ON project_land_demand
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION county_demand_tally_apply();

-- ---------------------------------------------------------------- procedure steps per year
CREATE TABLE parcel_land_step (
    parcel_id   bigint NOT NULL REFERENCES parcel (id) ON DELETE CASCADE,
    year        smallint NOT NULL,
    county_code varchar(12) NOT NULL,
    approved_m2 numeric NOT NULL,
    supplied_m2 numeric NOT NULL,
    PRIMARY KEY (parcel_id, year)
);
COMMENT ON TABLE parcel_land_step IS 'per parcel and year: area approved that year and still approved, area supplied that year (kept by triggers)';

CREATE TABLE county_step_tally (
    county_code varchar(12) NOT NULL,
    year        smallint NOT NULL,
    approved_m2 numeric NOT NULL DEFAULT 0,
    supplied_m2 numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (county_code, year)
);
COMMENT ON TABLE county_step_tally IS '已批 / 已供 per county and year: sums of parcel_land_step (kept by deltas)';

CREATE FUNCTION parcel_land_step_refresh(ids bigint[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    WITH fresh AS (
        SELECT e.parcel_id, extract(year FROM e.occurred_on)::smallint AS year, p.county_code,
               CASE WHEN bool_or(e.status = 'APPROVED_UNSUPPLIED') AND p.procedure_status NOT IN ({DEMAND})
                    THEN p.area_m2::numeric ELSE 0 END AS approved_m2,
               CASE WHEN bool_or(e.status = 'SUPPLIED') THEN p.area_m2::numeric ELSE 0 END AS supplied_m2
          FROM parcel_status_event e JOIN parcel p ON p.id = e.parcel_id
         WHERE e.parcel_id = ANY (ids) AND e.status IN ('APPROVED_UNSUPPLIED', 'SUPPLIED')
         GROUP BY e.parcel_id, 2, p.county_code, p.procedure_status, p.area_m2
    ), gone AS (
        DELETE FROM parcel_land_step s
         WHERE s.parcel_id = ANY (ids)
           AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.parcel_id = s.parcel_id AND f.year = s.year)
    )
    INSERT INTO parcel_land_step AS s SELECT * FROM fresh
    ON CONFLICT (parcel_id, year) DO UPDATE SET
        county_code = EXCLUDED.county_code, approved_m2 = EXCLUDED.approved_m2,
        supplied_m2 = EXCLUDED.supplied_m2
     WHERE (s.county_code, s.approved_m2, s.supplied_m2)
           IS DISTINCT FROM (EXCLUDED.county_code, EXCLUDED.approved_m2, EXCLUDED.supplied_m2);
END $$;

CREATE FUNCTION parcel_land_step_on_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM parcel_land_step_refresh(ARRAY(
            SELECT DISTINCT parcel_id FROM new_rows WHERE status IN ('APPROVED_UNSUPPLIED', 'SUPPLIED')));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM parcel_land_step_refresh(ARRAY(SELECT DISTINCT parcel_id FROM old_rows));
    ELSE
        PERFORM parcel_land_step_refresh(ARRAY(
            SELECT parcel_id FROM new_rows UNION SELECT parcel_id FROM old_rows));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER parcel_land_step_event_insert AFTER INSERT ON parcel_status_event
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION parcel_land_step_on_event();
CREATE TRIGGER parcel_land_step_event_update AFTER UPDATE ON parcel_status_event
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION parcel_land_step_on_event();
CREATE TRIGGER parcel_land_step_event_delete AFTER DELETE ON parcel_status_event
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION parcel_land_step_on_event();

-- county sums by delta: + what the statement wrote, − what it replaced
CREATE FUNCTION county_step_tally_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO county_step_tally AS t (county_code, year, approved_m2, supplied_m2)
        SELECT county_code, year, sum(approved_m2), sum(supplied_m2) FROM new_rows
         GROUP BY county_code, year ORDER BY county_code, year
        ON CONFLICT (county_code, year) DO UPDATE SET
            approved_m2 = t.approved_m2 + EXCLUDED.approved_m2,
            supplied_m2 = t.supplied_m2 + EXCLUDED.supplied_m2;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO county_step_tally AS t (county_code, year, approved_m2, supplied_m2)
        SELECT county_code, year, -sum(approved_m2), -sum(supplied_m2) FROM old_rows
         GROUP BY county_code, year ORDER BY county_code, year
        ON CONFLICT (county_code, year) DO UPDATE SET
            approved_m2 = t.approved_m2 + EXCLUDED.approved_m2,
            supplied_m2 = t.supplied_m2 + EXCLUDED.supplied_m2;
    ELSE
        INSERT INTO county_step_tally AS t (county_code, year, approved_m2, supplied_m2)
        SELECT county_code, year, sum(a), sum(s) FROM (
            SELECT county_code, year, approved_m2 AS a, supplied_m2 AS s FROM new_rows
            UNION ALL
            SELECT county_code, year, -approved_m2, -supplied_m2 FROM old_rows) d
         GROUP BY county_code, year ORDER BY county_code, year
        ON CONFLICT (county_code, year) DO UPDATE SET
            approved_m2 = t.approved_m2 + EXCLUDED.approved_m2,
            supplied_m2 = t.supplied_m2 + EXCLUDED.supplied_m2;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER county_step_tally_insert AFTER INSERT ON parcel_land_step
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION county_step_tally_apply();
CREATE TRIGGER county_step_tally_update AFTER UPDATE ON parcel_land_step
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION county_step_tally_apply();
CREATE TRIGGER county_step_tally_delete AFTER DELETE ON parcel_land_step
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION county_step_tally_apply();

-- a parcel's status, area or county changed: its step rows (approved counts only while
-- the parcel is not back in demand)
CREATE FUNCTION parcel_land_step_on_parcel_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM parcel_land_step_refresh(ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE (o.procedure_status, o.area_m2, o.county_code)
               IS DISTINCT FROM (n.procedure_status, n.area_m2, n.county_code)
           AND EXISTS (SELECT 1 FROM parcel_land_step s WHERE s.parcel_id = n.id)));
    RETURN NULL;
END $$;
CREATE TRIGGER parcel_land_step_parcel_update AFTER UPDATE ON parcel
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION parcel_land_step_on_parcel_update();

-- ---------------------------------------------------------------- 批而未供 stock per county
CREATE TABLE county_stock_tally (
    county_code                 varchar(12) PRIMARY KEY,
    approved_unsupplied_m2      numeric NOT NULL DEFAULT 0,
    approved_unsupplied_parcels bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE county_stock_tally IS '批而未供 per county: parcels now APPROVED_UNSUPPLIED (kept by deltas)';

CREATE FUNCTION county_stock_tally_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO county_stock_tally AS t
        SELECT county_code, sum(area_m2::numeric), count(*) FROM new_rows
         WHERE procedure_status = 'APPROVED_UNSUPPLIED' GROUP BY county_code ORDER BY county_code
        ON CONFLICT (county_code) DO UPDATE SET
            approved_unsupplied_m2 = t.approved_unsupplied_m2 + EXCLUDED.approved_unsupplied_m2,
            approved_unsupplied_parcels = t.approved_unsupplied_parcels + EXCLUDED.approved_unsupplied_parcels;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO county_stock_tally AS t
        SELECT county_code, -sum(area_m2::numeric), -count(*) FROM old_rows
         WHERE procedure_status = 'APPROVED_UNSUPPLIED' GROUP BY county_code ORDER BY county_code
        ON CONFLICT (county_code) DO UPDATE SET
            approved_unsupplied_m2 = t.approved_unsupplied_m2 + EXCLUDED.approved_unsupplied_m2,
            approved_unsupplied_parcels = t.approved_unsupplied_parcels + EXCLUDED.approved_unsupplied_parcels;
    ELSE
        INSERT INTO county_stock_tally AS t
        SELECT county_code, sum(m2), sum(n) FROM (
            SELECT county_code, area_m2::numeric AS m2, 1 AS n FROM new_rows
             WHERE procedure_status = 'APPROVED_UNSUPPLIED'
            UNION ALL
            SELECT county_code, -area_m2::numeric, -1 FROM old_rows
             WHERE procedure_status = 'APPROVED_UNSUPPLIED') d
         GROUP BY county_code ORDER BY county_code
        ON CONFLICT (county_code) DO UPDATE SET
            approved_unsupplied_m2 = t.approved_unsupplied_m2 + EXCLUDED.approved_unsupplied_m2,
            approved_unsupplied_parcels = t.approved_unsupplied_parcels + EXCLUDED.approved_unsupplied_parcels;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER county_stock_tally_insert AFTER INSERT ON parcel
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION county_stock_tally_apply();
CREATE TRIGGER county_stock_tally_update AFTER UPDATE ON parcel
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION county_stock_tally_apply();
CREATE TRIGGER county_stock_tally_delete AFTER DELETE ON parcel
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION county_stock_tally_apply();

-- ---------------------------------------------------------------- ledger sums by entry type
CREATE TABLE land_quota_tally (
    year        smallint NOT NULL,
    holder_code varchar(12) NOT NULL,
    kind        quota_kind NOT NULL,
    entry_type  ledger_entry_type NOT NULL,
    amount_m2   numeric NOT NULL,
    PRIMARY KEY (year, holder_code, kind, entry_type)
);
COMMENT ON TABLE land_quota_tally IS 'sums of land_quota_entry per account and entry type (kept by trigger; the ledger is append-only)';

CREATE FUNCTION land_quota_tally_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO land_quota_tally AS t
    SELECT year, holder_code, kind, entry_type, sum(amount_m2) FROM new_entries
     GROUP BY year, holder_code, kind, entry_type ORDER BY 1, 2, 3, 4
    ON CONFLICT (year, holder_code, kind, entry_type) DO UPDATE SET amount_m2 = t.amount_m2 + EXCLUDED.amount_m2;
    RETURN NULL;
END $$;
CREATE TRIGGER land_quota_tally_insert AFTER INSERT ON land_quota_entry
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION land_quota_tally_apply();

-- ---------------------------------------------------------------- backfill
SELECT project_land_demand_refresh(ARRAY(SELECT DISTINCT project_id FROM project_parcel WHERE unlinked_on IS NULL));
SELECT parcel_land_step_refresh(ARRAY(
    SELECT DISTINCT parcel_id FROM parcel_status_event WHERE status IN ('APPROVED_UNSUPPLIED', 'SUPPLIED')));
INSERT INTO county_stock_tally
SELECT county_code, sum(area_m2::numeric), count(*) FROM parcel
 WHERE procedure_status = 'APPROVED_UNSUPPLIED' GROUP BY county_code;
INSERT INTO land_quota_tally
SELECT year, holder_code, kind, entry_type, sum(amount_m2) FROM land_quota_entry
 GROUP BY year, holder_code, kind, entry_type;
"""

DOWNGRADE = """
DROP TRIGGER IF EXISTS land_quota_tally_insert ON land_quota_entry;
DROP TRIGGER IF EXISTS county_stock_tally_insert ON parcel;
DROP TRIGGER IF EXISTS county_stock_tally_update ON parcel;
DROP TRIGGER IF EXISTS county_stock_tally_delete ON parcel;
DROP TRIGGER IF EXISTS parcel_land_step_parcel_update ON parcel;
DROP TRIGGER IF EXISTS parcel_land_step_event_insert ON parcel_status_event;
DROP TRIGGER IF EXISTS parcel_land_step_event_update ON parcel_status_event;
DROP TRIGGER IF EXISTS parcel_land_step_event_delete ON parcel_status_event;
DROP TRIGGER IF EXISTS project_land_demand_parcel_update ON parcel;
DROP TRIGGER IF EXISTS project_land_demand_overlay_insert ON parcel_overlay;
DROP TRIGGER IF EXISTS project_land_demand_overlay_update ON parcel_overlay;
DROP TRIGGER IF EXISTS project_land_demand_overlay_delete ON parcel_overlay;
DROP TRIGGER IF EXISTS project_land_demand_link_insert ON project_parcel;
DROP TRIGGER IF EXISTS project_land_demand_link_update ON project_parcel;
DROP TRIGGER IF EXISTS project_land_demand_link_delete ON project_parcel;
DROP TRIGGER IF EXISTS project_land_demand_project_update ON project;
DROP TRIGGER IF EXISTS county_demand_tally_insert ON project_land_demand;
DROP TRIGGER IF EXISTS county_demand_tally_update ON project_land_demand;
DROP TRIGGER IF EXISTS county_demand_tally_delete ON project_land_demand;
DROP TABLE IF EXISTS land_quota_tally, county_stock_tally, county_step_tally, parcel_land_step,
    county_demand_tally, project_land_demand;
DROP FUNCTION IF EXISTS land_quota_tally_apply(), county_stock_tally_apply(), county_demand_tally_apply(),
    parcel_land_step_on_parcel_update(), county_step_tally_apply(), parcel_land_step_on_event(),
    parcel_land_step_refresh(bigint[]), project_land_demand_on_project_update(),
    project_land_demand_on_link(), project_land_demand_on_overlay(),
    project_land_demand_on_parcel_update(), project_land_demand_refresh(bigint[]),
    project_priority_tier(key_category[], boolean, signing_status);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
