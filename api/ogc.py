"""OGC API – Features, read-only: Part 1 (Core, GeoJSON) and Part 2 (CRS by reference).

So the land bureau adds the map layers in QGIS or ArcGIS with no conversion. The
features are the layer registry's (geo/layers.py), with the same properties and the
same property filters as the GraphQL FeatureCollections.

Decisions (also the answer to "why is it like this"):
- Landing page at /ogc/ (a request for /ogc is redirected there by Starlette), with a
  `service-desc` link to an OpenAPI 3.0 definition at /ogc/api: QGIS and GDAL read the
  `limit` maximum from it (without it they page by 10 features) and GDAL turns its
  attribute filters into the query parameters it lists per collection.
- `limit`: default 100; above 1000 it is clamped to 1000 (Part 1 lets the server return
  fewer than asked; the `next` link carries the clamped limit); below 1 or not an
  integer → 400.
- `crs`: CRS84 (default; lon/lat) or EPSG:4490 (CGCS2000). The store is EPSG:4490 with
  lon/lat coordinates; CRS84 output is those coordinates unchanged (PostGIS's own
  4490→4326 transform is the identity; the datums agree to centimetres here). For
  EPSG:4490 the axes are swapped to EPSG's official order, lat/lon (ST_FlipCoordinates),
  which is what QGIS and ArcGIS expect for that URI. `Content-Crs` names the CRS.
- `bbox-crs`: CRS84 (default) or EPSG:4490; with EPSG:4490 the bbox is read in that
  CRS's axis order, i.e. minLat,minLon,maxLat,maxLon. 6-number bboxes drop the heights.
- Property filters: the layer's `filters` as query parameters (equality); enum values
  and booleans are checked, so a typo is a 400 and not an empty answer.
- `datetime` is accepted (Part 1 Core requires the parameter) but no layer has a
  temporal property, so it does not restrict the result; `f=json|geojson` is accepted.
- Unknown or repeated query parameters → 400. Errors are JSON `{code, description}`.
- Collections carry `geometryType` (the OGC Simple Features type name: Point,
  MultiPolygon) and `x-propertyFilters` (the filter parameters and their values).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy import Boolean, Enum, String
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import URL, QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from geo import ogc as q
from geo.geometry_input import GeometryInputError
from geo.layers import LAYERS, Layer, UnknownFilter
from geo.spatial import SpatialFilter, check_bbox

log = logging.getLogger("landguard.ogc")

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
SUPPORTED_CRS = [CRS84, EPSG4490]
_CRS_ALIASES = {
    CRS84: CRS84,
    "urn:ogc:def:crs:OGC:1.3:CRS84": CRS84,
    "urn:ogc:def:crs:OGC::CRS84": CRS84,
    "[OGC:CRS84]": CRS84,
    "OGC:CRS84": CRS84,
    "CRS84": CRS84,
    EPSG4490: EPSG4490,
    "urn:ogc:def:crs:EPSG::4490": EPSG4490,
    "[EPSG:4490]": EPSG4490,
    "EPSG:4490": EPSG4490,
}

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 2**31 - 1

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"

TITLE = "landguard — 晋城市“1355”用地保障 OGC API – Features"
DESCRIPTION = (
    "晋城市项目建设用地保障：地块、项目、三区三线、行政区（CGCS2000）。"
    " Jincheng land-guarantee map layers: parcels, projects, protected zones, admin areas."
)
ZH_DESCRIPTIONS = {
    "parcels": "地块：地类、用地手续状态、重点项目标记、三区三线冲突标记；面积为所在高斯-克吕格3度带的平面面积（法定面积）",
    "projects": "项目（代表点）：建设阶段、重点项目标记、计划类型、投资额（万元）",
    "protected_zones": "三区三线：永久基本农田、生态保护红线、城镇开发边界",
    "admin_areas": "行政区：晋城市、六个县级单位及晋城经济技术开发区（GB/T 2260 代码）",
}

_DATETIME = re.compile(
    r"^(\.\.|\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?)?"
    r"(/(\.\.|\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?)?)?$",
    re.I,
)


class OgcError(Exception):
    """An error the client can fix (or a missing resource); its description is safe to show."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description


def error_response(status: int, code: str, description: str) -> Response:
    return Response(
        orjson.dumps({"code": code, "description": description}),
        status_code=status,
        media_type=JSON,
    )


def bad_param(description: str) -> OgcError:
    return OgcError(400, "InvalidParameterValue", description)


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))


Handler = Callable[[Request], Awaitable[Response]]


def ogc_errors(handler: Handler) -> Handler:
    """Every failure becomes a JSON `{code, description}`; SQL text and tracebacks stay
    in the log (with the request id), never in the response."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except OgcError as exc:
            return error_response(exc.status, exc.code, exc.description)
        except (UnknownFilter, GeometryInputError) as exc:
            return error_response(400, "InvalidParameterValue", str(exc))
        except DBAPIError as exc:
            rid = _request_id(request)
            if type(exc.orig).__name__ == "QueryCanceled":
                log.warning("query timed out (request %s): %s", rid, request.url.path)
                return error_response(
                    503,
                    "Timeout",
                    f"the query took too long; narrow it with bbox or filters (request {rid})",
                )
            log.exception("database error (request %s)", rid)
            return error_response(500, "ServerError", f"internal error (request {rid})")
        except Exception:
            rid = _request_id(request)
            log.exception("unexpected error (request %s)", rid)
            return error_response(500, "ServerError", f"internal error (request {rid})")

    return wrapped


# ---------------------------------------------------------------- parameters


def single_params(params: QueryParams, allowed: Iterable[str]) -> dict[str, str]:
    """Query parameters as a dict; a repeated or unknown name is a 400 (Part 1 asks a
    server to refuse parameters it does not know rather than silently ignore them)."""
    allowed_set = set(allowed)
    out: dict[str, str] = {}
    for name in params:
        values = params.getlist(name)
        if len(values) != 1:
            raise bad_param(f"parameter {name!r} is given {len(values)} times; give it once")
        if name not in allowed_set:
            raise OgcError(
                400,
                "InvalidParameterValue",
                f"unknown parameter {name!r}; accepted here: {sorted(allowed_set)}",
            )
        out[name] = values[0]
    return out


def _filter_value(layer: Layer, name: str, raw: str) -> Any:
    """Check a property-filter value against the column's type, so a wrong enum value
    or boolean is refused instead of matching nothing (or reaching SQL as an error)."""
    col_type = layer.filters[name].type
    if isinstance(col_type, Enum):
        if raw not in col_type.enums:
            raise bad_param(f"{name}={raw!r} is not one of {list(col_type.enums)}")
        return col_type.enum_class(raw) if col_type.enum_class else raw
    if isinstance(col_type, Boolean):
        lowered = raw.lower()  # GDAL's OAPIF driver sends its Boolean fields as 1/0
        if lowered not in ("true", "false", "1", "0"):
            raise bad_param(f"{name} must be true or false, not {raw!r}")
        return lowered in ("true", "1")
    if isinstance(col_type, String):
        if not raw or (col_type.length is not None and len(raw) > col_type.length):
            raise bad_param(f"{name} must be 1–{col_type.length} characters")
        return raw
    return raw


def property_filters(layer: Layer, params: Mapping[str, str]) -> dict[str, Any]:
    return {n: _filter_value(layer, n, v) for n, v in params.items() if n in layer.filters}


def filter_description(layer: Layer) -> dict[str, Any]:
    """The filter parameters of a layer, for the collection metadata."""
    out: dict[str, Any] = {}
    for name, column in layer.filters.items():
        col_type = column.type
        if isinstance(col_type, Enum):
            out[name] = {"type": "string", "enum": list(col_type.enums)}
        elif isinstance(col_type, Boolean):
            out[name] = {"type": "boolean"}
        else:
            out[name] = {"type": "string"}
    return out


def parse_crs(raw: str | None, name: str) -> str:
    if raw is None:
        return CRS84
    crs = _CRS_ALIASES.get(raw.strip())
    if crs is None:
        raise bad_param(f"{name} {raw!r} is not supported; use one of {SUPPORTED_CRS}")
    return crs


def parse_bbox(raw: str, bbox_crs: str = CRS84) -> tuple[float, float, float, float]:
    """bbox as 4 (or 6, heights ignored) numbers in the axis order of bbox-crs,
    returned as lon/lat (minLon, minLat, maxLon, maxLat)."""
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        raise bad_param(f"bbox {raw!r} must be 4 comma-separated numbers") from None
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4:
        raise bad_param(f"bbox {raw!r} must be 4 (or 6) comma-separated numbers")
    if bbox_crs == EPSG4490:  # EPSG axis order: latitude first
        values = [values[1], values[0], values[3], values[2]]
    try:
        return check_bbox(values)
    except GeometryInputError as exc:
        order = (
            "minLat,minLon,maxLat,maxLon" if bbox_crs == EPSG4490 else "minLon,minLat,maxLon,maxLat"
        )
        raise bad_param(f"{exc.reason} (bbox in {bbox_crs} is {order})") from None


def parse_int(raw: str | None, name: str, default: int, minimum: int, maximum: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_param(f"{name} must be an integer, not {raw!r}") from None
    if not minimum <= value <= maximum:
        raise bad_param(f"{name} must be between {minimum} and {maximum}")
    return value


def check_format(raw: str | None, allowed: tuple[str, ...]) -> None:
    if raw is not None and raw.lower() not in allowed:
        raise bad_param(f"f={raw!r} is not offered; use one of {list(allowed)}")


def collection(request: Request) -> Layer:
    name = request.path_params["collection_id"]
    layer = LAYERS.get(name)
    if layer is None:
        raise OgcError(404, "NotFound", f"no collection {name!r}; offered: {sorted(LAYERS)}")
    return layer


# ---------------------------------------------------------------- documents


def json_response(
    body: Any, media_type: str = JSON, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), media_type=media_type, headers=headers)


def link(href: URL | str, rel: str, media_type: str, title: str | None = None) -> dict[str, str]:
    out = {"href": str(href), "rel": rel, "type": media_type}
    if title:
        out["title"] = title
    return out


def collection_doc(request: Request, layer: Layer, bbox: q.Bbox | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": layer.name,
        "title": layer.title,
        "description": f"{ZH_DESCRIPTIONS.get(layer.name, '')} / {layer.description}",
        "itemType": "feature",
        "geometryType": layer.geometry_type,
        "crs": SUPPORTED_CRS,
        "storageCrs": EPSG4490,
        "x-propertyFilters": filter_description(layer),
        "links": [
            link(
                request.url_for("ogc_collection", collection_id=layer.name),
                "self",
                JSON,
                layer.title,
            ),
            link(
                request.url_for("ogc_items", collection_id=layer.name),
                "items",
                GEOJSON,
                f"{layer.title} (GeoJSON)",
            ),
        ],
    }
    if bbox is not None:
        doc["extent"] = {"spatial": {"bbox": [list(bbox)], "crs": CRS84}}
    return doc


@ogc_errors
async def landing(request: Request) -> Response:
    check_format(single_params(request.query_params, ["f"]).get("f"), ("json",))
    return json_response(
        {
            "title": TITLE,
            "description": DESCRIPTION,
            "links": [
                link(request.url_for("ogc_landing"), "self", JSON, "This document"),
                link(request.url_for("ogc_api"), "service-desc", OPENAPI, "API definition"),
                link(request.url_for("ogc_conformance"), "conformance", JSON, "Conformance"),
                link(request.url_for("ogc_collections"), "data", JSON, "Collections"),
            ],
        }
    )


def _param(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
        "style": "form",
        "explode": False,
        **extra,
    }


def _responses(media_type: str, what: str) -> dict[str, Any]:
    error = {"content": {JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}}
    return {
        "200": {"description": what, "content": {media_type: {}}},
        "400": {"description": "invalid or unknown parameter", **error},
        "404": {"description": "not found", **error},
        "500": {"description": "server error", **error},
    }


def _get(summary: str, op: str, media_type: str, params: list[Any] | None = None) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "operationId": op,
            "parameters": [{"$ref": "#/components/parameters/f"}, *(params or [])],
            "responses": _responses(media_type, summary),
        }
    }


def openapi_doc(server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.0 definition. QGIS and GDAL read it for the `limit` maximum (their
    page size: without it they page by 10) and, per collection, for the query
    parameters they may send as attribute filters."""
    crs_schema = {"type": "string", "format": "uri", "enum": SUPPORTED_CRS, "default": CRS84}
    components = {
        "f": _param("f", "Encoding (JSON only)", {"type": "string", "enum": ["json", "geojson"]}),
        "bbox": _param(
            "bbox",
            "minLon,minLat,maxLon,maxLat (CRS84) or minLat,minLon,maxLat,maxLon with "
            "bbox-crs=EPSG:4490; features whose geometry intersects the box",
            {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        ),
        "bbox-crs": _param("bbox-crs", "CRS of bbox", crs_schema),
        "crs": _param("crs", "CRS of the response geometries (EPSG:4490 is lat/lon)", crs_schema),
        "limit": _param(
            "limit",
            f"page size; larger values are clamped to {MAX_LIMIT}",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        ),
        "offset": _param(
            "offset",
            "features to skip (follow the next link rather than computing it)",
            {"type": "integer", "minimum": 0, "default": 0},
        ),
        "datetime": _param(
            "datetime", "accepted; the layers have no temporal property", {"type": "string"}
        ),
        "collectionId": {
            "name": "collectionId",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": list(LAYERS)},
        },
        "featureId": {
            "name": "featureId",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
        },
    }
    item_params = [
        {"$ref": f"#/components/parameters/{n}"}
        for n in ("bbox", "bbox-crs", "limit", "offset", "crs", "datetime")
    ]
    paths: dict[str, Any] = {
        "/": _get("Landing page", "getLandingPage", JSON),
        "/api": _get("This API definition", "getApi", OPENAPI),
        "/conformance": _get("Conformance classes", "getConformance", JSON),
        "/collections": _get("Feature collections", "getCollections", JSON),
    }
    for layer in LAYERS.values():
        base = f"/collections/{layer.name}"
        filters = [
            _param(n, f"{layer.name} with {n} equal to this value", schema)
            for n, schema in filter_description(layer).items()
        ]
        paths[base] = _get(f"{layer.title}: metadata", f"describe_{layer.name}", JSON)
        paths[f"{base}/items"] = _get(
            f"{layer.title}: features", f"items_{layer.name}", GEOJSON, item_params + filters
        )
        paths[f"{base}/items/{{featureId}}"] = _get(
            f"{layer.title}: one feature by code",
            f"item_{layer.name}",
            GEOJSON,
            [
                {"$ref": "#/components/parameters/featureId"},
                {"$ref": "#/components/parameters/crs"},
            ],
        )
    return {
        "openapi": "3.0.3",
        "info": {"title": TITLE, "description": DESCRIPTION, "version": "1.0.0"},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "parameters": components,
            "schemas": {
                "exception": {
                    "type": "object",
                    "required": ["code"],
                    "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
                }
            },
        },
    }


@ogc_errors
async def api(request: Request) -> Response:
    check_format(single_params(request.query_params, ["f"]).get("f"), ("json",))
    server = str(request.url_for("ogc_landing")).rstrip("/")
    return json_response(openapi_doc(server), media_type=OPENAPI)


@ogc_errors
async def conformance(request: Request) -> Response:
    check_format(single_params(request.query_params, ["f"]).get("f"), ("json",))
    return json_response({"conformsTo": CONFORMANCE})


@ogc_errors
async def collections(request: Request) -> Response:
    check_format(single_params(request.query_params, ["f"]).get("f"), ("json",))
    layers = list(LAYERS.values())
    async with request.app.state.sessions() as session:
        boxes = await q.extents(session, layers)
    return json_response(
        {
            "links": [link(request.url_for("ogc_collections"), "self", JSON, "Collections")],
            "collections": [collection_doc(request, lay, boxes[lay.name]) for lay in layers],
        }
    )


@ogc_errors
async def collection_one(request: Request) -> Response:
    check_format(single_params(request.query_params, ["f"]).get("f"), ("json",))
    layer = collection(request)
    async with request.app.state.sessions() as session:
        boxes = await q.extents(session, [layer])
    return json_response(collection_doc(request, layer, boxes[layer.name]))


ITEMS_PARAMS = ("bbox", "bbox-crs", "limit", "offset", "crs", "datetime", "f")


def _precision(request: Request) -> int:
    return int(request.app.state.settings.geojson_precision)


def _timestamp() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@ogc_errors
async def items(request: Request) -> Response:
    layer = collection(request)
    params = single_params(request.query_params, (*ITEMS_PARAMS, *layer.filters))
    check_format(params.get("f"), ("json", "geojson"))
    dt_raw = params.get("datetime")
    if dt_raw is not None and (not dt_raw or not _DATETIME.match(dt_raw)):
        raise bad_param(f"datetime {dt_raw!r} must be an RFC 3339 instant or interval")
    crs = parse_crs(params.get("crs"), "crs")
    bbox_crs = parse_crs(params.get("bbox-crs"), "bbox-crs")
    if "bbox-crs" in params and "bbox" not in params:
        raise bad_param("bbox-crs is given without bbox")
    spatial = SpatialFilter(bbox=parse_bbox(params["bbox"], bbox_crs)) if "bbox" in params else None
    limit = min(parse_int(params.get("limit"), "limit", DEFAULT_LIMIT, 1, 2**31 - 1), MAX_LIMIT)
    offset = parse_int(params.get("offset"), "offset", 0, 0, MAX_OFFSET)
    filters = property_filters(layer, params)

    async with request.app.state.sessions() as session:
        page = await q.items_page(
            session,
            layer,
            filters=filters,
            spatial=spatial,
            precision=_precision(request),
            lat_first=crs == EPSG4490,
            limit=limit,
            offset=offset,
        )

    url = request.url
    links = [
        link(url, "self", GEOJSON, "This page"),
        link(request.url_for("ogc_collection", collection_id=layer.name), "collection", JSON),
    ]
    if offset + page.returned < page.matched:
        nxt = url.include_query_params(offset=offset + limit, limit=limit)
        links.append(link(nxt, "next", GEOJSON, "Next page"))
    if offset > 0:
        prev = url.include_query_params(offset=max(0, offset - limit), limit=limit)
        links.append(link(prev, "prev", GEOJSON, "Previous page"))
    head = orjson.dumps(
        {
            "type": "FeatureCollection",
            "numberMatched": page.matched,
            "numberReturned": page.returned,
            "timeStamp": _timestamp(),
            "links": links,
        }
    )
    body = b"".join((head[:-1], b',"features":[', page.features.encode(), b"]}"))
    return Response(body, media_type=GEOJSON, headers={"Content-Crs": f"<{crs}>"})


_FEATURE_PREFIX = '{"type":"Feature",'


@ogc_errors
async def item(request: Request) -> Response:
    layer = collection(request)
    params = single_params(request.query_params, ("crs", "f"))
    check_format(params.get("f"), ("json", "geojson"))
    crs = parse_crs(params.get("crs"), "crs")
    feature_id = request.path_params["feature_id"]
    text_: str | None = None
    if len(feature_id) <= 64:
        async with request.app.state.sessions() as session:
            text_ = await q.item(
                session,
                layer,
                feature_id,
                precision=_precision(request),
                lat_first=crs == EPSG4490,
            )
    if text_ is None:
        raise OgcError(404, "NotFound", f"no feature {feature_id!r} in collection {layer.name!r}")
    assert text_.startswith(_FEATURE_PREFIX)
    links = [
        link(request.url, "self", GEOJSON, "This feature"),
        link(request.url_for("ogc_collection", collection_id=layer.name), "collection", JSON),
    ]
    body = (
        _FEATURE_PREFIX.encode()
        + b'"links":'
        + orjson.dumps(links)
        + b","
        + text_[len(_FEATURE_PREFIX) :].encode()
    )
    return Response(body, media_type=GEOJSON, headers={"Content-Crs": f"<{crs}>"})


@ogc_errors
async def not_found(request: Request) -> Response:
    raise OgcError(404, "NotFound", f"no resource at {request.url.path}")


routes: list[BaseRoute] = [
    Route("/", landing, name="ogc_landing"),
    Route("/api", api, name="ogc_api"),
    Route("/conformance", conformance, name="ogc_conformance"),
    Route("/collections", collections, name="ogc_collections"),
    Route("/collections/{collection_id}", collection_one, name="ogc_collection"),
    Route("/collections/{collection_id}/items", items, name="ogc_items"),
    Route("/collections/{collection_id}/items/{feature_id}", item, name="ogc_item"),
    Route("/{rest:path}", not_found),
]
