"""Domain model of DESIGN.md §2: admin areas, projects, parcels, quota ledger, approvals,
protected zones, issues, investment reports.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Geometry is CGCS2000 (EPSG:4490). Parcel areas are generated columns: the legal plane
area in the parcel's 3-degree Gauss-Krüger zone (4546 west of 112.5°E, 4547 east of it),
computed by PostGIS and impossible to type in. The quota ledger is append-only; the
running balance it feeds has CHECK (balance_m2 >= 0), which makes an over-draw fail
under any concurrency (the balance row is the lock).
"""

from collections.abc import Sequence

from alembic import op

from geo.enums import ALL_ENUMS

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The zone expression lives here once; both generated columns below use it.
GK_SRID = "(CASE WHEN ST_X(ST_Centroid(geom)) < 112.5 THEN 4546 ELSE 4547 END)"
# China's extent in degrees: a coordinate outside it is a unit or axis-order mistake.
IN_CHINA = (
    "ST_XMin(geom) >= 73 AND ST_XMax(geom) <= 136 AND ST_YMin(geom) >= 3 AND ST_YMax(geom) <= 54"
)
# Generated columns are computed before CHECKs run: guard the transform so an
# out-of-range geometry fails on the CHECK (a clear constraint name), not inside PROJ.
LEGAL_AREA = f"(CASE WHEN {IN_CHINA} THEN ST_Area(ST_Transform(geom, {GK_SRID})) END)"
VALID_POLYGONAL = f"ST_IsValid(geom) AND NOT ST_IsEmpty(geom) AND ST_NDims(geom) = 2 AND {IN_CHINA}"

TABLES_SQL = f"""
CREATE TABLE code_label (
    enum_type  text NOT NULL,
    value      text NOT NULL,
    name_zh    text NOT NULL,
    name_en    text NOT NULL,
    sort_order smallint NOT NULL,
    PRIMARY KEY (enum_type, value)
);
COMMENT ON TABLE code_label IS '枚举中文名 Chinese and English names of every enumeration value';

CREATE TABLE admin_area (
    code        varchar(12) PRIMARY KEY CHECK (code ~ '^[0-9]{{6}}$'),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    name_en     text,
    kind        admin_kind NOT NULL,
    parent_code varchar(12) REFERENCES admin_area (code),
    geom        geometry(MultiPolygon, 4490) NOT NULL CHECK ({VALID_POLYGONAL}),
    area_m2     double precision GENERATED ALWAYS AS (CASE WHEN {IN_CHINA} THEN ST_Area(geom::geography) END) STORED,
    source      text,
    CHECK ((kind = 'CITY') = (parent_code IS NULL))
);
COMMENT ON TABLE admin_area IS '行政区 GB/T 2260 divisions; the development zone is a custom-coded management area that overlaps them';
COMMENT ON COLUMN admin_area.area_m2 IS 'spheroidal area (m²) computed by PostGIS';
CREATE INDEX admin_area_geom_gix ON admin_area USING gist (geom);
CREATE INDEX admin_area_parent_idx ON admin_area (parent_code);

CREATE TABLE project (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code                varchar(40) NOT NULL UNIQUE,
    name                text NOT NULL CHECK (btrim(name) <> ''),
    county_code         varchar(12) NOT NULL REFERENCES admin_area (code),
    dev_zone_code       varchar(12) REFERENCES admin_area (code),
    plan_type           plan_type NOT NULL,
    stage               project_stage NOT NULL,
    industry            text,
    is_key              boolean NOT NULL DEFAULT false,
    key_list_year       smallint CHECK (key_list_year BETWEEN 2000 AND 2100),
    categories          key_category[] NOT NULL DEFAULT '{{}}',
    total_investment    numeric(14, 2) NOT NULL CHECK (total_investment >= 0),
    annual_target       numeric(14, 2) CHECK (annual_target >= 0 AND annual_target <= total_investment),
    progress_target     text,
    planned_start       date,
    planned_finish      date,
    actual_start        date,
    lead_official       text,
    lead_official_title text,
    responsible_entity  text,
    signing_status      signing_status,
    stats_status        stats_status NOT NULL DEFAULT 'NOT_ELIGIBLE',
    location            geometry(Point, 4490) CHECK (location IS NULL OR (ST_IsValid(location)
                            AND ST_X(location) BETWEEN 73 AND 136 AND ST_Y(location) BETWEEN 3 AND 54)),
    version             integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT is_key OR (key_list_year IS NOT NULL AND cardinality(categories) > 0)),
    CHECK (planned_finish IS NULL OR planned_start IS NULL OR planned_finish >= planned_start)
);
COMMENT ON TABLE project IS '项目 major projects of the 1355 mechanism; money in 万元';
CREATE INDEX project_county_idx ON project (county_code);
CREATE INDEX project_key_idx ON project (is_key) WHERE is_key;
CREATE INDEX project_location_gix ON project USING gist (location);

CREATE TABLE project_stage_event (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  bigint NOT NULL REFERENCES project (id) ON DELETE CASCADE,
    stage       project_stage NOT NULL,
    entered_on  date NOT NULL,
    actor       text NOT NULL,
    note        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX project_stage_event_project_idx ON project_stage_event (project_id, entered_on);

CREATE TABLE parcel (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code                     varchar(40) NOT NULL UNIQUE,
    name                     text,
    county_code              varchar(12) NOT NULL REFERENCES admin_area (code),
    geom                     geometry(MultiPolygon, 4490) NOT NULL CHECK ({VALID_POLYGONAL}),
    gk_srid                  integer GENERATED ALWAYS AS {GK_SRID} STORED,
    area_m2                  double precision GENERATED ALWAYS AS ({LEGAL_AREA}) STORED,
    land_class               land_class NOT NULL,
    new_construction_area_m2 double precision GENERATED ALWAYS AS
                                 (CASE WHEN land_class = 'CONSTRUCTION' THEN 0 ELSE {LEGAL_AREA} END) STORED,
    farmland_area_m2         double precision GENERATED ALWAYS AS
                                 (CASE WHEN land_class = 'FARMLAND' THEN {LEGAL_AREA} ELSE 0 END) STORED,
    procedure_status         land_status NOT NULL DEFAULT 'DEMAND',
    status_date              date NOT NULL,
    supply_method            supply_method,
    agreed_start_date        date,
    approval_doc             text,
    version                  integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CHECK (supply_method IS NULL
           OR procedure_status IN ('SUPPLIED', 'LAND_PLANNING_PERMIT', 'REGISTERED', 'IDLE')),
    CHECK (procedure_status NOT IN ('SUPPLIED', 'LAND_PLANNING_PERMIT', 'REGISTERED')
           OR supply_method IS NOT NULL)
);
COMMENT ON TABLE parcel IS '地块 land parcels; areas are legal plane areas (m²) in the Gauss-Krüger zone gk_srid';
COMMENT ON COLUMN parcel.gk_srid IS 'CGCS2000 3-degree Gauss-Krüger zone used for the legal area (4546: CM 111°E, 4547: CM 114°E)';
COMMENT ON COLUMN parcel.new_construction_area_m2 IS '新增建设用地: the part that is not already construction land';
COMMENT ON COLUMN parcel.farmland_area_m2 IS '耕地: the farmland part';
CREATE INDEX parcel_geom_gix ON parcel USING gist (geom);
CREATE INDEX parcel_county_idx ON parcel (county_code, code);
CREATE INDEX parcel_status_idx ON parcel (procedure_status);

CREATE TABLE parcel_status_event (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parcel_id   bigint NOT NULL REFERENCES parcel (id) ON DELETE CASCADE,
    status      land_status NOT NULL,
    occurred_on date NOT NULL,
    actor       text NOT NULL,
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE parcel_status_event IS '地块用地手续节点: each dated step of a parcel''s land procedure';
CREATE INDEX parcel_status_event_parcel_idx ON parcel_status_event (parcel_id, occurred_on);

CREATE TABLE project_parcel (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  bigint NOT NULL REFERENCES project (id) ON DELETE CASCADE,
    parcel_id   bigint NOT NULL REFERENCES parcel (id) ON DELETE CASCADE,
    linked_on   date NOT NULL,
    unlinked_on date,
    CHECK (unlinked_on IS NULL OR unlinked_on >= linked_on)
);
COMMENT ON TABLE project_parcel IS '项目用地: a parcel serves at most one active project';
CREATE UNIQUE INDEX project_parcel_one_active ON project_parcel (parcel_id) WHERE unlinked_on IS NULL;
CREATE INDEX project_parcel_project_idx ON project_parcel (project_id) WHERE unlinked_on IS NULL;

CREATE TABLE land_quota_entry (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    year         smallint NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    holder_code  varchar(12) NOT NULL REFERENCES admin_area (code),
    kind         quota_kind NOT NULL,
    entry_type   ledger_entry_type NOT NULL,
    amount_m2    numeric(14, 2) NOT NULL CHECK (amount_m2 <> 0),
    parcel_id    bigint REFERENCES parcel (id),
    transfer_id  uuid,
    effective_on date NOT NULL,
    actor        text NOT NULL CHECK (btrim(actor) <> ''),
    reason       text NOT NULL CHECK (btrim(reason) <> ''),
    document_no  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((entry_type IN ('ALLOCATION', 'POOL_TRANSFER_IN', 'WITHDRAWAL_CREDIT')) = (amount_m2 > 0)),
    CHECK ((entry_type IN ('APPROVAL_DEBIT', 'WITHDRAWAL_CREDIT')) = (parcel_id IS NOT NULL)),
    CHECK ((entry_type IN ('POOL_TRANSFER_IN', 'POOL_TRANSFER_OUT')) = (transfer_id IS NOT NULL))
);
COMMENT ON TABLE land_quota_entry IS '用地计划指标台账: append-only quota ledger (m²); balances are its sums';
CREATE INDEX land_quota_entry_holder_idx ON land_quota_entry (year, holder_code, kind);
CREATE INDEX land_quota_entry_parcel_idx ON land_quota_entry (parcel_id) WHERE parcel_id IS NOT NULL;
CREATE INDEX land_quota_entry_transfer_idx ON land_quota_entry (transfer_id) WHERE transfer_id IS NOT NULL;

CREATE TABLE land_quota_balance (
    year        smallint NOT NULL,
    holder_code varchar(12) NOT NULL REFERENCES admin_area (code),
    kind        quota_kind NOT NULL,
    balance_m2  numeric(14, 2) NOT NULL DEFAULT 0 CHECK (balance_m2 >= 0),
    PRIMARY KEY (year, holder_code, kind)
);
COMMENT ON TABLE land_quota_balance IS 'running balance of land_quota_entry, kept by trigger; CHECK (>= 0) refuses any over-draw';

CREATE FUNCTION land_quota_apply_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One UPDATE per account touched by the statement (linear in bulk loads). The UPDATE
    -- takes the balance row's lock, which serialises concurrent debits, and
    -- CHECK (balance_m2 >= 0) then refuses the one that would over-draw.
    WITH delta AS (
        SELECT year, holder_code, kind, sum(amount_m2) AS amount
          FROM new_entries GROUP BY year, holder_code, kind
    ), updated AS (
        UPDATE land_quota_balance b SET balance_m2 = b.balance_m2 + d.amount
          FROM delta d
         WHERE b.year = d.year AND b.holder_code = d.holder_code AND b.kind = d.kind
        RETURNING b.year, b.holder_code, b.kind
    )
    INSERT INTO land_quota_balance AS b (year, holder_code, kind, balance_m2)
    SELECT d.year, d.holder_code, d.kind, d.amount FROM delta d
     WHERE NOT EXISTS (SELECT 1 FROM updated u
                        WHERE u.year = d.year AND u.holder_code = d.holder_code AND u.kind = d.kind)
    ON CONFLICT (year, holder_code, kind) DO UPDATE SET balance_m2 = b.balance_m2 + EXCLUDED.balance_m2;
    RETURN NULL;
END $$;
CREATE TRIGGER land_quota_entry_apply AFTER INSERT ON land_quota_entry
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION land_quota_apply_entries();

CREATE FUNCTION land_quota_balance_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- only the ledger trigger (depth 2) may write balances; a direct write would drift
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'land_quota_balance is kept by the ledger trigger: book an entry instead'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN COALESCE(NEW, OLD);
END $$;
CREATE TRIGGER land_quota_balance_only_by_ledger BEFORE INSERT OR UPDATE OR DELETE
    ON land_quota_balance FOR EACH ROW EXECUTE FUNCTION land_quota_balance_guard();

CREATE FUNCTION land_quota_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'land_quota_entry is append-only: book a correcting entry instead'
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER land_quota_entry_immutable BEFORE UPDATE OR DELETE ON land_quota_entry
    FOR EACH ROW EXECUTE FUNCTION land_quota_append_only();

CREATE FUNCTION land_quota_transfer_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- exactly one leg out of the city pool and one into a county, same year and kind, summing to 0
    IF (SELECT count(*) <> 2 OR sum(amount_m2) <> 0 OR count(DISTINCT (year, kind)) <> 1
               OR count(*) FILTER (WHERE entry_type = 'POOL_TRANSFER_OUT' AND holder_code = '140500') <> 1
               OR count(*) FILTER (WHERE entry_type = 'POOL_TRANSFER_IN' AND holder_code <> '140500') <> 1
          FROM land_quota_entry WHERE transfer_id = NEW.transfer_id) THEN
        RAISE EXCEPTION 'pool transfer % is not one balanced pair of entries (pool out, county in)', NEW.transfer_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER land_quota_transfer_check AFTER INSERT ON land_quota_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.transfer_id IS NOT NULL)
    EXECUTE FUNCTION land_quota_transfer_balanced();

CREATE TABLE approval_item (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code           varchar(48) NOT NULL UNIQUE,
    project_id     bigint NOT NULL REFERENCES project (id) ON DELETE CASCADE,
    item_type      approval_item_type NOT NULL,
    name           text NOT NULL CHECK (btrim(name) <> ''),
    handling_level handling_level NOT NULL,
    measures       text,
    deadline       date,
    leader         text,
    handler        text,
    handler_phone  text,
    status         approval_status NOT NULL DEFAULT 'NOT_STARTED',
    started_on     date,
    completed_on   date,
    version        integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'COMPLETED') = (completed_on IS NOT NULL)),
    CHECK (completed_on IS NULL OR started_on IS NULL OR completed_on >= started_on)
);
COMMENT ON TABLE approval_item IS '审批事项清单: per-project approval items; overdue is derived (deadline passed, not completed)';
CREATE INDEX approval_item_project_idx ON approval_item (project_id);
CREATE INDEX approval_item_open_deadline_idx ON approval_item (deadline) WHERE status <> 'COMPLETED';

CREATE TABLE protected_zone (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        varchar(40) NOT NULL UNIQUE,
    kind        zone_kind NOT NULL,
    name        text NOT NULL,
    county_code varchar(12) REFERENCES admin_area (code),
    geom        geometry(MultiPolygon, 4490) NOT NULL CHECK ({VALID_POLYGONAL}),
    area_m2     double precision GENERATED ALWAYS AS (CASE WHEN {IN_CHINA} THEN ST_Area(geom::geography) END) STORED,
    source      text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE protected_zone IS '三区三线: basic farmland, ecological red line, urban development boundary';
CREATE INDEX protected_zone_geom_gix ON protected_zone USING gist (geom);
CREATE INDEX protected_zone_kind_idx ON protected_zone (kind);

CREATE TABLE project_issue (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        varchar(48) NOT NULL UNIQUE,
    project_id  bigint NOT NULL REFERENCES project (id) ON DELETE CASCADE,
    category    issue_category NOT NULL,
    title       text NOT NULL CHECK (btrim(title) <> ''),
    description text,
    level       dispatch_level NOT NULL DEFAULT 'COMMAND_OFFICE',
    status      issue_status NOT NULL DEFAULT 'OPEN',
    raised_on   date NOT NULL,
    due_date    date,
    resolved_on date,
    version     integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'RESOLVED') = (resolved_on IS NOT NULL)),
    CHECK (resolved_on IS NULL OR resolved_on >= raised_on)
);
COMMENT ON TABLE project_issue IS '问题台账: bottlenecks per project with their dispatch level (四级调度)';
CREATE INDEX project_issue_project_idx ON project_issue (project_id);

CREATE TABLE issue_escalation (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issue_id     bigint NOT NULL REFERENCES project_issue (id) ON DELETE CASCADE,
    from_level   dispatch_level NOT NULL,
    to_level     dispatch_level NOT NULL,
    escalated_on date NOT NULL,
    reason       text NOT NULL,
    CHECK (from_level < to_level)
);
CREATE INDEX issue_escalation_issue_idx ON issue_escalation (issue_id, escalated_on);

CREATE TABLE investment_report (
    project_id           bigint NOT NULL REFERENCES project (id) ON DELETE CASCADE,
    year                 smallint NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    month                smallint NOT NULL CHECK (month BETWEEN 1 AND 12),
    completed_investment numeric(14, 2) NOT NULL CHECK (completed_investment >= 0),
    reported_on          date NOT NULL,
    PRIMARY KEY (project_id, year, month)
);
COMMENT ON TABLE investment_report IS '月度投资完成: completed investment per project per month (万元)';
"""

DROP_SQL = """
DROP TABLE IF EXISTS investment_report, issue_escalation, project_issue, protected_zone,
    approval_item, land_quota_balance, land_quota_entry, project_parcel, parcel_status_event,
    parcel, project_stage_event, project, admin_area, code_label CASCADE;
DROP FUNCTION IF EXISTS land_quota_apply_entries(), land_quota_append_only(),
    land_quota_transfer_balanced(), land_quota_balance_guard();
"""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    for type_name, enum in ALL_ENUMS.items():
        labels = ", ".join(_quote(m.value) for m in enum)
        op.execute(f"CREATE TYPE {type_name} AS ENUM ({labels})")
        names = "; ".join(f"{m.value} {m.zh}" for m in enum)
        op.execute(f"COMMENT ON TYPE {type_name} IS {_quote(names)}")
    op.execute(TABLES_SQL)
    rows = ", ".join(
        f"({_quote(t)}, {_quote(m.value)}, {_quote(m.zh)}, {_quote(m.en)}, {i})"
        for t, enum in ALL_ENUMS.items()
        for i, m in enumerate(enum)
    )
    op.execute(
        f"INSERT INTO code_label (enum_type, value, name_zh, name_en, sort_order) VALUES {rows}"
    )


def downgrade() -> None:
    op.execute(DROP_SQL)
    for type_name in reversed(list(ALL_ENUMS)):
        op.execute(f"DROP TYPE IF EXISTS {type_name}")
