"""Parcel overlay cache: each parcel's shared area with basic farmland, the ecological
red line and the urban development boundary, kept current by triggers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

The land-guarantee status aggregates conflicts over every parcel of a county; computing
ST_Intersection against the zones at read time would cost seconds at a million parcels.
Statement-level triggers (with transition tables) recompute the rows of exactly the
parcels a statement inserted or re-shaped, and of the parcels near a zone that changed.
Areas are measured like parcel areas: in the parcel's Gauss-Krüger plane (gk_srid).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE TABLE parcel_overlay (
    parcel_id         bigint PRIMARY KEY REFERENCES parcel (id) ON DELETE CASCADE,
    basic_farmland_m2 double precision NOT NULL DEFAULT 0 CHECK (basic_farmland_m2 >= 0),
    redline_m2        double precision NOT NULL DEFAULT 0 CHECK (redline_m2 >= 0),
    urban_boundary_m2 double precision NOT NULL DEFAULT 0 CHECK (urban_boundary_m2 >= 0),
    conflict          boolean NOT NULL,
    outside_urban     boolean NOT NULL
);
COMMENT ON TABLE parcel_overlay IS '地块三区三线叠加缓存: shared area (m², Gauss-Krüger plane) with each zone kind, kept by triggers';
COMMENT ON COLUMN parcel_overlay.conflict IS 'interior shared with basic farmland or the red line (a 冲突)';
COMMENT ON COLUMN parcel_overlay.outside_urban IS 'more than 1 m² outside the urban development boundary: needs 单独选址 (1 m² absorbs boundary digitisation)';

-- Recompute the overlay rows of the given parcels (one set-based statement).
CREATE FUNCTION parcel_overlay_refresh(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO parcel_overlay AS o (parcel_id, basic_farmland_m2, redline_m2, urban_boundary_m2, conflict, outside_urban)
    SELECT p.id,
           coalesce(k.farmland, 0), coalesce(k.redline, 0), coalesce(k.urban, 0),
           coalesce(k.conflict, false),
           p.area_m2 - coalesce(k.urban, 0) > 1.0
      FROM parcel p
      LEFT JOIN LATERAL (
          SELECT ST_Area(ST_Intersection(ST_Transform(ST_Union(z.geom) FILTER (WHERE z.kind = 'BASIC_FARMLAND'), p.gk_srid),
                                         ST_Transform(p.geom, p.gk_srid))) AS farmland,
                 ST_Area(ST_Intersection(ST_Transform(ST_Union(z.geom) FILTER (WHERE z.kind = 'ECOLOGICAL_REDLINE'), p.gk_srid),
                                         ST_Transform(p.geom, p.gk_srid))) AS redline,
                 ST_Area(ST_Intersection(ST_Transform(ST_Union(z.geom) FILTER (WHERE z.kind = 'URBAN_BOUNDARY'), p.gk_srid),
                                         ST_Transform(p.geom, p.gk_srid))) AS urban,
                 bool_or(z.kind IN ('BASIC_FARMLAND', 'ECOLOGICAL_REDLINE') AND ST_Relate(z.geom, p.geom, '2********')) AS conflict
            FROM protected_zone z
           WHERE z.geom && p.geom AND ST_Intersects(z.geom, p.geom)
      ) k ON true
     WHERE p.id = ANY(ids)
    ON CONFLICT (parcel_id) DO UPDATE SET
        basic_farmland_m2 = EXCLUDED.basic_farmland_m2, redline_m2 = EXCLUDED.redline_m2,
        urban_boundary_m2 = EXCLUDED.urban_boundary_m2, conflict = EXCLUDED.conflict,
        outside_urban = EXCLUDED.outside_urban;
$$;

CREATE FUNCTION parcel_overlay_on_parcel_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM parcel_overlay_refresh(ARRAY(SELECT id FROM new_rows));
    RETURN NULL;
END $$;
CREATE TRIGGER parcel_overlay_after_insert AFTER INSERT ON parcel
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION parcel_overlay_on_parcel_insert();

CREATE FUNCTION parcel_overlay_on_parcel_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM parcel_overlay_refresh(ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE ST_AsBinary(o.geom) IS DISTINCT FROM ST_AsBinary(n.geom)));
    RETURN NULL;
END $$;
CREATE TRIGGER parcel_overlay_after_update AFTER UPDATE ON parcel
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION parcel_overlay_on_parcel_update();

-- A zone inserted, re-shaped, re-kinded or deleted: refresh every parcel it touched or touches.
CREATE FUNCTION parcel_overlay_on_zone_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM parcel_overlay_refresh(ARRAY(SELECT DISTINCT p.id FROM parcel p JOIN new_rows z ON p.geom && z.geom));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM parcel_overlay_refresh(ARRAY(SELECT DISTINCT p.id FROM parcel p JOIN old_rows z ON p.geom && z.geom));
    ELSE
        PERFORM parcel_overlay_refresh(ARRAY(
            SELECT DISTINCT p.id FROM parcel p
              JOIN (SELECT geom FROM new_rows UNION ALL SELECT geom FROM old_rows) z ON p.geom && z.geom));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER protected_zone_overlay_insert AFTER INSERT ON protected_zone
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION parcel_overlay_on_zone_change();
CREATE TRIGGER protected_zone_overlay_update AFTER UPDATE ON protected_zone
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION parcel_overlay_on_zone_change();
CREATE TRIGGER protected_zone_overlay_delete AFTER DELETE ON protected_zone
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION parcel_overlay_on_zone_change();

SELECT parcel_overlay_refresh(ARRAY(SELECT id FROM parcel));

-- the land-guarantee statements look procedure steps up by status and date
CREATE INDEX parcel_status_event_status_idx ON parcel_status_event (status, occurred_on);
CREATE INDEX project_stage_event_stage_idx ON project_stage_event (project_id, stage, entered_on);
"""

DOWNGRADE = """
DROP TRIGGER IF EXISTS protected_zone_overlay_insert ON protected_zone;
DROP TRIGGER IF EXISTS protected_zone_overlay_update ON protected_zone;
DROP TRIGGER IF EXISTS protected_zone_overlay_delete ON protected_zone;
DROP TRIGGER IF EXISTS parcel_overlay_after_insert ON parcel;
DROP TRIGGER IF EXISTS parcel_overlay_after_update ON parcel;
DROP FUNCTION IF EXISTS parcel_overlay_on_zone_change(), parcel_overlay_on_parcel_update(),
    parcel_overlay_on_parcel_insert(), parcel_overlay_refresh(bigint[]);
DROP TABLE IF EXISTS parcel_overlay;
DROP INDEX IF EXISTS parcel_status_event_status_idx, project_stage_event_stage_idx;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
