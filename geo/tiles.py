"""Mapbox Vector Tiles and TileJSON metadata for the map layers (geo.layers), in SQL.

One statement per tile: the rows of the layer whose geometry intersects the tile are
found through the GiST index (the Web-Mercator tile envelope is transformed to the
stored CGCS2000 SRID, never the column to 3857), simplified by about one screen pixel
at that zoom, transformed, clipped and quantised by `ST_AsMVTGeom`, and encoded by
`ST_AsMVT` — no Python per feature. Filters are the layer's own (`Layer.select`), so a
tile shows the same rows by the same rules as GraphQL and OGC API – Features.

Nothing here knows about HTTP: bad input raises `TileRequestError` with a code; the
edge (api/tiles.py) maps codes to statuses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Boolean,
    Double,
    Integer,
    Numeric,
    Select,
    String,
    Text,
    bindparam,
    cast,
    func,
    select,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from geo.crs import STORAGE_SRID
from geo.layers import LAYERS, Layer

WEB_MERCATOR_SRID = 3857
EXTENT = 4096
"""Tile coordinate extent: ST_AsMVT's and every renderer's default."""
BUFFER = 64
"""Tile units kept beyond the edge so strokes and fills join seamlessly across tiles."""
MAX_ZOOM = 22
"""Deepest zoom served (TileJSON maxzoom); deeper requests are a 400."""
PIXELS_PER_TILE = 512
"""MapLibre draws a vector tile 512 px wide: the simplification tolerance is one of them."""
MAX_LAT = 85.0511287798066
"""Latitude limit of the Web-Mercator tile pyramid."""

MEDIA_TYPE = "application/vnd.mapbox-vector-tile"

_DIALECT = PGDialect_psycopg()
"""The tile SQL is compiled once for psycopg 3, the only driver geo.db supports."""

TILE_PROPERTIES: dict[str, tuple[str, ...]] = {
    "parcels": (
        "code",
        "name",
        "county_code",
        "project_code",
        "is_key",
        "land_class",
        "procedure_status",
        "conflict",
        "area_mu",
    ),
    "projects": (
        "code",
        "name",
        "county_code",
        "stage",
        "plan_type",
        "is_key",
        "industry",
        "total_investment",
    ),
    "protected_zones": ("code", "name", "kind", "county_code", "area_mu"),
    "admin_areas": ("code", "name", "name_en", "kind", "parent_code"),
    "warnings": (
        "code",
        "rule",
        "severity",
        "severity_rank",
        "object_type",
        "object_code",
        "name",
        "project_code",
        "county_code",
    ),
}
"""The properties a map styles and labels by, per layer (a subset of the layer's
properties: personal names and legal-area detail stay in GraphQL)."""

FIELD_LABELS: dict[str, str] = {
    "code": "编码 code",
    "name": "名称 name",
    "name_en": "English name",
    "county_code": "县级单位 county code (GB/T 2260)",
    "project_code": "项目编码 code of the active project using the parcel",
    "parent_code": "上级 parent code",
    "is_key": "重点项目 on the key-project list",
    "land_class": "地类 current land class",
    "procedure_status": "用地手续状态 land-procedure status",
    "conflict": "三区三线冲突 overlaps basic farmland or the ecological red line",
    "area_mu": "面积 area in 亩 (Gauss-Krüger legal area, 2 decimals)",
    "stage": "阶段 project stage",
    "plan_type": "类型 planned start / pre-stage / continuing",
    "industry": "行业 industry",
    "total_investment": "总投资 total investment, 万元",
    "kind": "类型 kind",
    "rule": "预警规则 warning rule code (geo/warning_rules.py)",
    "severity": "预警等级 SEVERE / WARNING / INFO",
    "severity_rank": "等级序 1 severe, 2 warning, 3 info",
    "object_type": "预警对象 PROJECT / PARCEL / APPROVAL_ITEM / ISSUE",
    "object_code": "对象编码 code of the object warned about",
}

_DIGITS = re.compile(r"[0-9]{1,8}")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
MAX_FILTER_LENGTH = 64


class TileRequestError(ValueError):
    """A request the caller can fix: an unknown layer, bad coordinates or a bad filter."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Tile:
    """An XYZ (slippy-map, y down from the north) Web-Mercator tile address."""

    z: int
    x: int
    y: int

    @property
    def center_lat(self) -> float:
        n = math.pi * (1 - 2 * (self.y + 0.5) / 2**self.z)
        return math.degrees(math.atan(math.sinh(n)))

    @property
    def simplify_tolerance_deg(self) -> float:
        """One screen pixel in degrees at this tile. A latitude degree is stretched by
        1/cos(lat) in Mercator, so the tolerance is scaled by cos(lat) to stay ≤ 1 px
        both ways."""
        pixel_lon_deg = 360.0 / 2**self.z / PIXELS_PER_TILE
        return pixel_lon_deg * math.cos(math.radians(self.center_lat))


@dataclass(frozen=True)
class Field:
    """One tile property: its SQL value (as ST_AsMVT should encode it) and its type."""

    name: str
    expr: Any
    kind: str  # String | Number | Boolean (TileJSON/MVT vocabulary)
    values: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        text = f"{self.kind} — {FIELD_LABELS.get(self.name, self.name)}"
        return f"{text}; one of {', '.join(self.values)}" if self.values else text


def get_layer(name: str) -> Layer:
    layer = LAYERS.get(name)
    if layer is None:
        raise TileRequestError(
            "UNKNOWN_LAYER", f"no layer {name!r}; layers are {', '.join(sorted(LAYERS))}"
        )
    return layer


def parse_tile(z: str, x: str, y: str) -> Tile:
    """z/x/y from the URL, each checked: 0 ≤ z ≤ MAX_ZOOM and 0 ≤ x, y < 2^z."""
    if not all(_DIGITS.fullmatch(v) for v in (z, x, y)):
        raise TileRequestError("INVALID_TILE", "z, x and y must be non-negative integers")
    zi, xi, yi = int(z), int(x), int(y)
    if zi > MAX_ZOOM:
        raise TileRequestError("INVALID_TILE", f"zoom {zi} is out of range 0–{MAX_ZOOM}")
    if xi >= 2**zi or yi >= 2**zi:
        raise TileRequestError(
            "INVALID_TILE", f"tile {zi}/{xi}/{yi} does not exist: x and y must be < 2^{zi}"
        )
    return Tile(zi, xi, yi)


def _field(name: str, expr: Any) -> Field:
    """Normalise a property for ST_AsMVT: enums as their string value, exact numerics
    as doubles rounded to 2 decimals (tiles draw; exact values come from GraphQL)."""
    t = expr.type
    if isinstance(t, SAEnum):
        values = tuple(t.enums)
        return Field(name, cast(expr, Text), "String", values)
    if isinstance(t, Boolean):
        return Field(name, expr, "Boolean")
    if isinstance(t, Integer):
        return Field(name, expr, "Number")
    if isinstance(t, Numeric | Double):
        return Field(name, cast(func.round(cast(expr, Numeric), 2), Double), "Number")
    if isinstance(t, String):
        return Field(name, expr, "String")
    raise TypeError(f"property {name} of type {t!r} has no tile encoding")


def tile_fields(layer: Layer) -> list[Field]:
    return [_field(name, layer.properties[name]) for name in TILE_PROPERTIES[layer.name]]


def parse_filters(layer: Layer, params: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Query-string filters → typed values for `Layer.select`. Every parameter must be a
    filter the layer offers, given once, with a value of the column's type."""
    out: dict[str, Any] = {}
    for name, raw in params:
        column = layer.filters.get(name)
        if column is None:
            offered = ", ".join(sorted(layer.filters))
            raise TileRequestError(
                "UNKNOWN_FILTER", f"layer {layer.name} has no filter {name!r}; offered: {offered}"
            )
        if name in out:
            raise TileRequestError("INVALID_FILTER", f"filter {name!r} is given more than once")
        out[name] = _filter_value(name, column.type, raw)
    return out


def _filter_value(name: str, t: Any, raw: str) -> Any:
    if not raw or len(raw) > MAX_FILTER_LENGTH or not raw.isprintable():
        raise TileRequestError(
            "INVALID_FILTER",
            f"filter {name!r} needs a printable value of 1–{MAX_FILTER_LENGTH} characters",
        )
    if isinstance(t, SAEnum) and t.enum_class is not None:
        try:
            return t.enum_class(raw)
        except ValueError:
            raise TileRequestError(
                "INVALID_FILTER",
                f"{raw!r} is not a valid {name}; one of {', '.join(t.enums)}",
            ) from None
    if isinstance(t, Boolean):
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise TileRequestError("INVALID_FILTER", f"filter {name!r} is true or false")
    return raw


def filter_query(filters: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Parsed filters back to canonical query parameters (sorted; enums by value;
    booleans as true/false), for URLs in TileJSON."""
    return [
        (k, ("true" if v else "false") if isinstance(v, bool) else str(v))
        for k, v in sorted(filters.items())
    ]


def _tile_statement(layer_name: str, filter_names: tuple[str, ...]) -> Select[Any]:
    """The tile statement of a layer and a set of filter names: z, x, y, the tolerance
    and the filter values are bound parameters, so the SQL text is the same for every
    tile (psycopg prepares it after a few executions on each connection)."""
    layer = LAYERS[layer_name]
    z = bindparam("z", type_=Integer)
    x = bindparam("x", type_=Integer)
    y = bindparam("y", type_=Integer)
    envelope = func.ST_TileEnvelope(z, x, y)
    geom: Any = layer.geom
    if layer.geometry_type != "Point":
        geom = func.ST_SimplifyPreserveTopology(geom, bindparam("tolerance", type_=Double))
    mvt_geom = func.ST_AsMVTGeom(
        func.ST_Transform(geom, WEB_MERCATOR_SRID), envelope, EXTENT, BUFFER, True
    )
    filters = {
        name: bindparam(f"f_{name}", type_=layer.filters[name].type) for name in filter_names
    }
    rows = (
        layer.select(
            mvt_geom.label("geom"),
            *[f.expr.label(f.name) for f in tile_fields(layer)],
            filters=filters,
        )
        .where(func.ST_Intersects(layer.geom, func.ST_Transform(envelope, STORAGE_SRID)))
        .subquery("mvt")
    )
    # No `WHERE geom IS NOT NULL` outside: ST_AsMVT skips rows whose geometry clipped to
    # nothing, and PostgreSQL would push that test into the scan and run ST_AsMVTGeom twice.
    # Ordered by code so the same rows always give the same bytes (and ETag).
    mvt = func.ST_AsMVT(rows.table_valued(), layer.name, EXTENT, "geom").aggregate_order_by(
        rows.c.code
    )
    return select(mvt)


@dataclass(frozen=True)
class TileQuery:
    """A tile statement compiled once to the driver's SQL text: the constants are bound
    already, the request's values go through the same bind processors SQLAlchemy would
    apply. Executing the text skips SQLAlchemy's per-execution cache-key and parameter
    work on this large statement: ~0.5 ms a tile on the 2-core machine, where a dense
    z14 parcel tile takes ~1.2 ms in PostgreSQL."""

    sql: str
    constants: Mapping[str, Any]
    processors: Mapping[str, Callable[[Any], Any]]

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(self.constants)
        for key, value in values.items():
            process = self.processors.get(key)
            out[key] = process(value) if process is not None else value
        return out


@lru_cache(maxsize=256)
def _tile_query(layer_name: str, filter_names: tuple[str, ...]) -> TileQuery:
    stmt = _tile_statement(layer_name, filter_names)
    compiled = stmt.compile(dialect=_DIALECT)
    request_keys = {"z", "x", "y", "tolerance", *(f"f_{n}" for n in filter_names)}
    state = compiled.construct_expanded_state(dict.fromkeys(request_keys))
    processors: dict[str, Callable[[Any], Any]] = {}
    for bind, name in compiled.bind_names.items():
        process = bind.type.bind_processor(_DIALECT)
        if process is not None:
            processors[name] = process
    processors.update(state.processors)  # the elements of expanded IN lists
    constants = {
        key: processors[key](value) if key in processors else value
        for key, value in state.parameters.items()
        if key not in request_keys
    }
    return TileQuery(state.statement, constants, processors)


def tile_query(
    layer: Layer, tile: Tile, filters: Mapping[str, Any]
) -> tuple[TileQuery, dict[str, Any]]:
    """The compiled statement and its parameters for one tile (filters already parsed)."""
    query = _tile_query(layer.name, tuple(sorted(filters)))
    values: dict[str, Any] = {"z": tile.z, "x": tile.x, "y": tile.y}
    if layer.geometry_type != "Point":
        values["tolerance"] = tile.simplify_tolerance_deg
    values.update({f"f_{name}": value for name, value in filters.items()})
    return query, query.parameters(values)


async def render_tile(
    conn: AsyncConnection, layer: Layer, tile: Tile, filters: Mapping[str, Any]
) -> bytes:
    """The MVT bytes of one tile; b"" when no feature falls in it (ST_AsMVT of no rows
    is an empty bytea)."""
    query, params = tile_query(layer, tile, filters)
    data = (await conn.exec_driver_sql(query.sql, params)).scalar()
    return bytes(data) if data else b""


async def layer_bounds(
    db: AsyncConnection | AsyncSession, layer: Layer, filters: Mapping[str, Any]
) -> tuple[float, float, float, float] | None:
    """[west, south, east, north] of the (filtered) layer from ST_Extent, in degrees,
    clamped to the Web-Mercator latitudes; None when the layer has no rows."""
    extent = func.ST_Extent(layer.geom)
    stmt = layer.select(
        func.ST_XMin(extent),
        func.ST_YMin(extent),
        func.ST_XMax(extent),
        func.ST_YMax(extent),
        filters=filters,
    )
    row = (await db.execute(stmt)).one()
    if row[0] is None:
        return None
    west, south, east, north = (float(v) for v in row)
    return west, max(south, -MAX_LAT), east, min(north, MAX_LAT)


def _fit_zoom(bounds: tuple[float, float, float, float]) -> int:
    """The zoom at which the bounds fill about one 512-px tile."""
    span = max(bounds[2] - bounds[0], bounds[3] - bounds[1], 1e-9)
    return max(0, min(MAX_ZOOM, math.floor(math.log2(360.0 / span))))


def tilejson(
    layer: Layer,
    *,
    tiles_url: str,
    bounds: tuple[float, float, float, float] | None,
) -> dict[str, Any]:
    """TileJSON 3.0.0 for a layer; the caller supplies the absolute tile URL template."""
    box = bounds or (-180.0, -MAX_LAT, 180.0, MAX_LAT)
    zoom = max(layer.min_zoom, _fit_zoom(box)) if bounds else layer.min_zoom
    fields = {f.name: f.description for f in tile_fields(layer)}
    return {
        "tilejson": "3.0.0",
        "name": layer.name,
        "description": f"{layer.title}: {layer.description}",
        "version": "1.0.0",
        "attribution": "晋城市 landguard",
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": layer.min_zoom,
        "maxzoom": MAX_ZOOM,
        "bounds": list(box),
        "center": [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, zoom],
        "vector_layers": [
            {
                "id": layer.name,
                "description": layer.title,
                "minzoom": layer.min_zoom,
                "maxzoom": MAX_ZOOM,
                "fields": fields,
            }
        ],
    }
