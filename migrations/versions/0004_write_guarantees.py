"""Write guarantees: version counters, parcel geometry rules, no shared parcel area, the
audit trail, the API's database role and county row-level security.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

What the database itself refuses, so that a direct SQL write cannot store what the API
would refuse (issue #5). Constants are frozen copies of geo/write_rules.py (a test checks
they agree); the constraint names and SQLSTATEs are the contract the mutation layer maps
to GraphQL error codes.

1. Optimistic concurrency: project, parcel, approval_item and project_issue carry
   `version` (0001); a BEFORE UPDATE row trigger sets version = OLD.version + 1 and
   updated_at = now(), whatever the writer sent. An UPDATE … WHERE version = :seen that
   matches nothing is a stale write. Protected zones and admin areas are replaced by bulk
   import, never edited one by one, so they get no counter.
2. Parcel geometry: named CHECKs (type, 2-D, Jincheng's extent, vertex cap, validity, a
   legal area of at least 1 m²) replace 0001's combined check; a BEFORE row trigger
   refuses NaN/Infinity coordinates (as constraint parcel_geom_finite, SQLSTATE 23514)
   and another stores every polygon with RFC 7946 orientation (exterior rings
   counter-clockwise). Nothing is ever repaired: invalid input is refused. The column's
   type modifier already refuses other types, Z/M and other SRIDs (SQLSTATE 22023);
   PostGIS gives SRID-0 input the column's SRID before any trigger sees it, so an
   SRID-less geometry in range is stored as 4490 (the API refuses it at input).
3. No two parcels share area: an AFTER statement trigger takes one transaction-scoped
   advisory lock (PARCEL_WRITE_LOCK_KEY) and then, with a fresh READ COMMITTED snapshot,
   tests the rows the statement inserted or re-shaped against every parcel with
   `&& AND ST_Relate(…, '2********')` (interiors meet). Neighbours sharing an edge or a
   vertex pass; a bounding-box exclusion constraint would refuse them. Refusals raise
   SQLSTATE LG001 with JSON DETAIL. Under REPEATABLE READ the check could miss a parcel
   committed after the snapshot, so geometry writes there are refused (LG003).
4. Audit: one audit_log row per inserted, updated or deleted row of project, parcel,
   project_parcel, land_quota_entry, approval_item and project_issue, written by
   statement-level triggers from the transition tables (set-based: bulk loads stay
   linear). The actor comes from `landguard.sub` (geo/actor.py); unset, the API role is
   refused (LG002) and any other role is recorded as `system:<role>`. Parcel images omit
   the geometry (kilobytes each) and carry its MD5 (of the EWKB) and vertex count
   instead; the legal area is in the row anyway. audit_log is append-only for everyone
   (a trigger), and the API role holds only SELECT on it.
5. Role `landguard_api` (NOLOGIN, created once per cluster, never dropped here) with
   SELECT on every table, writes on the editable ones, and FORCE ROW LEVEL SECURITY on
   the county-owned tables: reads are city-wide; its writes need `landguard.counties`
   to be `*` or to list the row's county (unset: no writes). The migrating owner keeps
   a permissive policy of its own (seed, CLI, import, SECURITY DEFINER triggers).
   Trigger functions of 0001/0002 that maintain derived tables become SECURITY DEFINER,
   so the API role needs no write grant on caches and balances.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of geo/write_rules.py and geo/actor.py (tests/test_write_guarantees.py
# checks they agree).
API_ROLE = "landguard_api"
BBOX = (111.90, 35.15, 113.70, 36.10)
MAX_VERTICES = 20_000
MIN_AREA_M2 = 1.0
LOCK_KEY = 0x4C47_0001

VERSIONED = ("project", "parcel", "approval_item", "project_issue")
# Tables the API writes itself (derived tables are kept by SECURITY DEFINER triggers).
API_WRITES = {
    "project": "INSERT, UPDATE, DELETE",
    "project_stage_event": "INSERT, UPDATE, DELETE",
    "parcel": "INSERT, UPDATE, DELETE",
    "parcel_status_event": "INSERT, UPDATE, DELETE",
    "project_parcel": "INSERT, UPDATE, DELETE",
    "approval_item": "INSERT, UPDATE, DELETE",
    "project_issue": "INSERT, UPDATE, DELETE",
    "issue_escalation": "INSERT, UPDATE, DELETE",
    "investment_report": "INSERT, UPDATE, DELETE",
    "land_quota_entry": "INSERT",  # append-only (0001 refuses UPDATE and DELETE)
    # geo.ledger locks the balance row (SELECT … FOR NO KEY UPDATE), which needs UPDATE on
    # some column; 0001's land_quota_balance_guard still refuses every direct write
    "land_quota_balance": "UPDATE (balance_m2)",
}
# County rule per county-owned table: a boolean SQL expression over the row's columns.
COUNTY_RULE = {
    "project": "landguard_may_write(county_code)",
    "parcel": "landguard_may_write(county_code)",
    "approval_item": "landguard_may_write_project(project_id)",
    "project_issue": "landguard_may_write_project(project_id)",
    "investment_report": "landguard_may_write_project(project_id)",
    "project_stage_event": "landguard_may_write_project(project_id)",
    "parcel_status_event": "landguard_may_write_parcel(parcel_id)",
    "issue_escalation": "landguard_may_write_issue(issue_id)",
    # a link is a write on the project and on the parcel: both must be in scope
    "project_parcel": "landguard_may_write_project(project_id) AND landguard_may_write_parcel(parcel_id)",
    "land_quota_entry": "landguard_may_write(holder_code)",
}
# 0001/0002 trigger functions that write derived tables: made SECURITY DEFINER.
DEFINER_FUNCTIONS = (
    "land_quota_apply_entries()",
    "parcel_overlay_refresh(bigint[])",
    "parcel_overlay_on_parcel_insert()",
    "parcel_overlay_on_parcel_update()",
    "parcel_overlay_on_zone_change()",
)

# 0001's combined CHECK on parcel.geom, restored by downgrade.
GK_SRID = "(CASE WHEN ST_X(ST_Centroid(geom)) < 112.5 THEN 4546 ELSE 4547 END)"
IN_CHINA = (
    "ST_XMin(geom) >= 73 AND ST_XMax(geom) <= 136 AND ST_YMin(geom) >= 3 AND ST_YMax(geom) <= 54"
)
OLD_GEOM_CHECK = f"ST_IsValid(geom) AND NOT ST_IsEmpty(geom) AND ST_NDims(geom) = 2 AND {IN_CHINA}"
X0, Y0, X1, Y1 = BBOX
GEOM_CHECKS = {
    "parcel_geom_2d": "ST_NDims(geom) = 2",
    "parcel_geom_extent": f"ST_XMin(geom) >= {X0} AND ST_XMax(geom) <= {X1} "
    f"AND ST_YMin(geom) >= {Y0} AND ST_YMax(geom) <= {Y1}",
    "parcel_geom_max_vertices": f"ST_NPoints(geom) <= {MAX_VERTICES}",
    "parcel_geom_not_empty": "NOT ST_IsEmpty(geom)",
    "parcel_geom_polygonal": "GeometryType(geom) = 'MULTIPOLYGON'",
    "parcel_geom_valid": "ST_IsValid(geom)",
    # area_m2 is the generated legal area (NULL only outside China, refused by extent)
    "parcel_geom_valid_area": f"area_m2 >= {MIN_AREA_M2}",
}

# ---------------------------------------------------------------- audit specs
# table → (county expression, object-code expression, JSON image, joins), templated on
# {r} (the transition-table row: r new/deleted, o old) and {p} (prefix of its lookups).
# Joins look the county up through the project.
_PROJECT_JOIN = "LEFT JOIN project {p}pr ON {p}pr.id = {r}.project_id"
AUDITED = {
    "project": ("r.county_code", "r.code", "to_jsonb({r})", ""),
    "parcel": (
        "r.county_code",
        "r.code",
        "(to_jsonb({r}) - 'geom') || jsonb_build_object("
        "'geom_md5', md5(ST_AsEWKB({r}.geom)), 'geom_vertices', ST_NPoints({r}.geom))",
        "",
    ),
    "project_parcel": (
        "pr.county_code",
        "pr.code",
        "to_jsonb({r}) || jsonb_build_object('project_code', {p}pr.code, 'parcel_code', {p}pa.code)",
        _PROJECT_JOIN + " LEFT JOIN parcel {p}pa ON {p}pa.id = {r}.parcel_id",
    ),
    "land_quota_entry": (
        "r.holder_code",
        "r.year || '/' || r.holder_code || '/' || r.kind",
        "to_jsonb({r})",
        "",
    ),
    "approval_item": ("pr.county_code", "r.code", "to_jsonb({r})", _PROJECT_JOIN),
    "project_issue": ("pr.county_code", "r.code", "to_jsonb({r})", _PROJECT_JOIN),
}


def _audit_function(table: str) -> str:
    county, code, image_t, joins_t = AUDITED[table]
    image, joins = image_t.format(r="r", p=""), joins_t.format(r="r", p="")
    old_image, old_joins = image_t.format(r="o", p="o"), joins_t.format(r="o", p="o")
    columns = (
        "actor_sub, actor_role, request_id, county_code, table_name, object_id, object_code, "
        "action, before, after"
    )
    head = (
        "who, audit_setting('landguard.role'), audit_setting('landguard.request_id'), "
        f"{county}, TG_TABLE_NAME, r.id, {code}"
    )
    return f"""
CREATE FUNCTION audit_{table}() RETURNS trigger
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
        INSERT INTO audit_log ({columns})
        SELECT {head}, 'INSERT', NULL, {image} FROM new_rows r {joins};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO audit_log ({columns})
        SELECT {head}, 'DELETE', {image}, NULL FROM old_rows r {joins};
    ELSE
        INSERT INTO audit_log ({columns})
        SELECT {head}, 'UPDATE', {old_image}, {image}
          FROM new_rows r JOIN old_rows o ON o.id = r.id {joins} {old_joins};
    END IF;
    RETURN NULL;
END $$;
"""


AUDIT_SQL = f"""
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_sub   text NOT NULL,
    actor_role  text,
    request_id  text,
    county_code varchar(12),
    table_name  text NOT NULL,
    object_id   bigint,
    object_code text,
    action      text NOT NULL CHECK (action IN ('INSERT', 'UPDATE', 'DELETE')),
    before      jsonb,
    after       jsonb
);
COMMENT ON TABLE audit_log IS '审计日志: one row per inserted/updated/deleted row of the audited tables, written by triggers in the same transaction; append-only';
COMMENT ON COLUMN audit_log.actor_sub IS 'landguard.sub of the writing transaction (token sub), or system:<database role> for jobs';
COMMENT ON COLUMN audit_log.object_code IS 'code of the row (project_parcel: its project''s code; land_quota_entry: year/holder/kind)';
COMMENT ON COLUMN audit_log.after IS 'row image as JSON; parcel images replace geom by geom_md5 (MD5 of EWKB) and geom_vertices';
CREATE INDEX audit_log_object_idx ON audit_log (table_name, object_code, occurred_at);
CREATE INDEX audit_log_time_idx ON audit_log (occurred_at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER audit_log_immutable BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- A transaction-local setting, NULL when unset or empty.
CREATE FUNCTION audit_setting(name text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting(name, true), '')
$$;

-- Who writes. Inside these SECURITY DEFINER functions current_user is the owner; the
-- `role` setting still names the role the session switched to (SET ROLE), so it is
-- the caller's role that decides.
CREATE FUNCTION audit_actor() RETURNS text LANGUAGE plpgsql STABLE
SET search_path = public, pg_temp AS $$
DECLARE
    sub text := audit_setting('landguard.sub');
    caller text := coalesce(nullif(current_setting('role'), 'none'), session_user);
BEGIN
    IF sub IS NOT NULL THEN
        RETURN sub;
    END IF;
    IF caller = '{API_ROLE}' THEN
        RAISE EXCEPTION 'no actor: the API role must bind landguard.sub before writing'
            USING ERRCODE = 'LG002', HINT = 'FORBIDDEN';
    END IF;
    RETURN 'system:' || caller;
END $$;

{"".join(_audit_function(t) for t in AUDITED)}
"""


def _audit_triggers() -> str:
    out = []
    for table in AUDITED:
        ops = ("INSERT",) if table == "land_quota_entry" else ("INSERT", "UPDATE", "DELETE")
        for op_name in ops:
            ref = {
                "INSERT": "NEW TABLE AS new_rows",
                "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                "DELETE": "OLD TABLE AS old_rows",
            }[op_name]
            out.append(
                f"CREATE TRIGGER audit_{table}_{op_name.lower()} AFTER {op_name} ON {table} "
                f"REFERENCING {ref} FOR EACH STATEMENT EXECUTE FUNCTION audit_{table}();"
            )
    return "\n".join(out)


_BUMP_TRIGGERS = "\n".join(
    f"CREATE TRIGGER {t}_bump_version BEFORE UPDATE ON {t} "
    "FOR EACH ROW EXECUTE FUNCTION bump_version();"
    for t in VERSIONED
)
_GEOM_CHECKS = "\n".join(
    f"ALTER TABLE parcel ADD CONSTRAINT {name} CHECK ({expr});"
    for name, expr in GEOM_CHECKS.items()
)
_WRITE_GRANTS = "\n".join(
    f"GRANT {privs} ON {table} TO {API_ROLE};" for table, privs in API_WRITES.items()
)
_DEFINERS = "\n".join(
    f"ALTER FUNCTION {fn} SECURITY DEFINER SET search_path = public, pg_temp;"
    for fn in DEFINER_FUNCTIONS
)

GEOMETRY_SQL = f"""
-- version counters nobody can forget
CREATE FUNCTION bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
{_BUMP_TRIGGERS}

-- parcel geometry rules (named, one fault each)
ALTER TABLE parcel DROP CONSTRAINT parcel_geom_check;
{_GEOM_CHECKS}

-- NaN/Infinity: refused before the generated legal area runs them through PROJ (which
-- would fail with an internal error). NaN escapes the bounding box but not the planar
-- area. BEFORE row triggers fire by name: finite before orientation.
CREATE FUNCTION parcel_geom_refuse_non_finite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'parcel % has a NaN or infinite coordinate', NEW.code
        USING ERRCODE = 'check_violation', CONSTRAINT = 'parcel_geom_finite',
              TABLE = 'parcel', COLUMN = 'geom';
END $$;
CREATE TRIGGER parcel_geom_finite BEFORE INSERT OR UPDATE OF geom ON parcel
    FOR EACH ROW WHEN (ST_Area(NEW.geom) IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8))
    EXECUTE FUNCTION parcel_geom_refuse_non_finite();

-- RFC 7946 orientation: exterior rings counter-clockwise, holes clockwise
CREATE FUNCTION parcel_geom_ccw() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.geom := ST_ForcePolygonCCW(NEW.geom);
    RETURN NEW;
END $$;
CREATE TRIGGER parcel_geom_orientation BEFORE INSERT OR UPDATE OF geom ON parcel
    FOR EACH ROW WHEN (NOT ST_IsPolygonCCW(NEW.geom)) EXECUTE FUNCTION parcel_geom_ccw();

-- no two parcels share area (edge- or vertex-sharing neighbours are fine)
CREATE FUNCTION parcel_no_shared_area() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    ids bigint[];
    hit record;
    shared numeric;
BEGIN
    IF TG_OP = 'INSERT' THEN
        ids := ARRAY(SELECT id FROM new_rows);
    ELSE
        ids := ARRAY(SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
                      WHERE ST_AsEWKB(o.geom) IS DISTINCT FROM ST_AsEWKB(n.geom));
    END IF;
    IF cardinality(ids) = 0 THEN
        RETURN NULL;
    END IF;
    IF current_setting('transaction_isolation') = 'repeatable read' THEN
        RAISE EXCEPTION 'parcel geometry cannot be written under REPEATABLE READ: the overlap check needs READ COMMITTED or SERIALIZABLE'
            USING ERRCODE = 'LG003';
    END IF;
    -- One writer of parcel geometry at a time, until commit. The query below runs after
    -- the lock is granted, so (READ COMMITTED) its snapshot includes every parcel that a
    -- previous holder committed.
    PERFORM pg_advisory_xact_lock({LOCK_KEY});
    SELECT n.code AS code, p.code AS other_code, n.gk_srid, n.geom AS a, p.geom AS b INTO hit
      FROM parcel n
      JOIN parcel p ON p.geom && n.geom AND p.id <> n.id
     WHERE n.id = ANY (ids) AND ST_Relate(n.geom, p.geom, '2********')
     LIMIT 1;
    IF FOUND THEN
        shared := round(ST_Area(ST_Transform(ST_Intersection(hit.a, hit.b), hit.gk_srid))::numeric, 2);
        RAISE EXCEPTION 'parcel % shares % m² with parcel %', hit.code, shared, hit.other_code
            USING ERRCODE = 'LG001', CONSTRAINT = 'parcel_no_shared_area',
                  DETAIL = jsonb_build_object('parcelCode', hit.code, 'otherParcelCode', hit.other_code,
                                              'sharedAreaM2', shared)::text,
                  HINT = 'PARCEL_OVERLAP';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER parcel_no_shared_area_insert AFTER INSERT ON parcel
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION parcel_no_shared_area();
CREATE TRIGGER parcel_no_shared_area_update AFTER UPDATE ON parcel
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION parcel_no_shared_area();
"""


def _policies() -> str:
    out = []
    for table, rule in COUNTY_RULE.items():
        out.append(f"""
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY {table}_read ON {table} FOR SELECT USING (true);
CREATE POLICY {table}_owner ON {table} FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY {table}_county_insert ON {table} FOR INSERT TO {API_ROLE} WITH CHECK ({rule});
CREATE POLICY {table}_county_update ON {table} FOR UPDATE TO {API_ROLE} USING ({rule}) WITH CHECK ({rule});
CREATE POLICY {table}_county_delete ON {table} FOR DELETE TO {API_ROLE} USING ({rule});""")
    return "\n".join(out)


ROLE_SQL = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{API_ROLE}') THEN
        CREATE ROLE {API_ROLE} NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- created meanwhile by a migration of another database of the cluster
END $$;
COMMENT ON ROLE {API_ROLE} IS 'landguard API: not the table owner; row-level security applies';
DO $$
BEGIN
    -- the owner may SET ROLE to it (tests, psql); superusers are not implicitly members
    IF NOT EXISTS (SELECT 1 FROM pg_auth_members m
                    WHERE m.roleid = (SELECT oid FROM pg_roles WHERE rolname = '{API_ROLE}')
                      AND m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user)) THEN
        EXECUTE format('GRANT {API_ROLE} TO %I', current_user);
    END IF;
END $$;

-- The county scope of the transaction (geo/actor.py: '*' or comma-separated codes).
CREATE FUNCTION landguard_may_write(county text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('landguard.counties', true) = '*'
                    OR county = ANY (string_to_array(nullif(current_setting('landguard.counties', true), ''), ',')),
                    false)
$$;
CREATE FUNCTION landguard_may_write_project(project_ref bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT public.landguard_may_write(county_code) FROM public.project WHERE id = project_ref), false)
$$;
CREATE FUNCTION landguard_may_write_parcel(parcel_ref bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT public.landguard_may_write(county_code) FROM public.parcel WHERE id = parcel_ref), false)
$$;
CREATE FUNCTION landguard_may_write_issue(issue_ref bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT public.landguard_may_write_project(project_id) FROM public.project_issue WHERE id = issue_ref), false)
$$;

{_policies()}

GRANT USAGE ON SCHEMA public TO {API_ROLE};
GRANT SELECT ON ALL TABLES IN SCHEMA public TO {API_ROLE};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {API_ROLE};
{_WRITE_GRANTS}
REVOKE ALL ON audit_log FROM PUBLIC;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_log FROM {API_ROLE};
-- tables of later migrations are readable by the API without a grant of their own
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {API_ROLE};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO {API_ROLE};
{_DEFINERS}
"""


def _downgrade_sql() -> str:
    out = [
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM {API_ROLE};",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE ON SEQUENCES FROM {API_ROLE};",
    ]
    for fn in DEFINER_FUNCTIONS:
        out.append(f"ALTER FUNCTION {fn} SECURITY INVOKER RESET search_path;")
    for table in COUNTY_RULE:
        for suffix in ("read", "owner", "county_insert", "county_update", "county_delete"):
            out.append(f"DROP POLICY IF EXISTS {table}_{suffix} ON {table};")
        out.append(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;")
        out.append(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;")
    out.append(
        "DROP FUNCTION IF EXISTS landguard_may_write_issue(bigint), "
        "landguard_may_write_parcel(bigint), landguard_may_write_project(bigint), "
        "landguard_may_write(text);"
    )
    for table in AUDITED:
        for op_name in ("insert", "update", "delete"):
            out.append(f"DROP TRIGGER IF EXISTS audit_{table}_{op_name} ON {table};")
        out.append(f"DROP FUNCTION IF EXISTS audit_{table}();")
    out.append("DROP TABLE IF EXISTS audit_log;")
    out.append(
        "DROP FUNCTION IF EXISTS audit_actor(), audit_setting(text), audit_log_append_only();"
    )
    out.append("DROP TRIGGER IF EXISTS parcel_no_shared_area_insert ON parcel;")
    out.append("DROP TRIGGER IF EXISTS parcel_no_shared_area_update ON parcel;")
    out.append("DROP FUNCTION IF EXISTS parcel_no_shared_area();")
    out.append("DROP TRIGGER IF EXISTS parcel_geom_orientation ON parcel;")
    out.append("DROP FUNCTION IF EXISTS parcel_geom_ccw();")
    out.append("DROP TRIGGER IF EXISTS parcel_geom_finite ON parcel;")
    out.append("DROP FUNCTION IF EXISTS parcel_geom_refuse_non_finite();")
    for name in GEOM_CHECKS:
        out.append(f"ALTER TABLE parcel DROP CONSTRAINT IF EXISTS {name};")
    out.append(f"ALTER TABLE parcel ADD CONSTRAINT parcel_geom_check CHECK ({OLD_GEOM_CHECK});")
    for table in VERSIONED:
        out.append(f"DROP TRIGGER IF EXISTS {table}_bump_version ON {table};")
    out.append("DROP FUNCTION IF EXISTS bump_version();")
    # The role is cluster-wide and other databases may use it: only its rights here go.
    out.append(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {API_ROLE};")
    out.append(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {API_ROLE};")
    out.append(f"REVOKE ALL ON SCHEMA public FROM {API_ROLE};")
    return "\n".join(out)


def upgrade() -> None:
    op.execute(GEOMETRY_SQL)
    op.execute(AUDIT_SQL)
    op.execute(_audit_triggers())
    op.execute(ROLE_SQL)


def downgrade() -> None:
    op.execute(_downgrade_sql())
