"""Vector tiles and TileJSON over HTTP (mounted at /tiles); the SQL is in geo/tiles.py.

    GET /tiles                              the layers and their TileJSON URLs
    GET /tiles/{layer}.json                 TileJSON 3.0.0 (query filters carried into `tiles`)
    GET /tiles/{layer}/{z}/{x}/{y}.mvt      a Mapbox Vector Tile; ?county_code=…&procedure_status=…

Behaviour, chosen so that map clients (MapLibre, OpenLayers) and proxies do the right
thing without special handling:
- An empty tile is 204 No Content (no body), which every client draws as empty. Below
  the layer's minimum zoom the answer is also 204, marked `X-Tile-Status:
  below-min-zoom` and `X-Tile-Min-Zoom`, so a client that ignores TileJSON's minzoom
  still draws nothing instead of erroring; an empty tile is marked `X-Tile-Status: empty`.
- Freshness over long caching: the ETag is a hash of the tile bytes, so a write that
  changes a tile changes its ETag at once (no invalidation bookkeeping); `Cache-Control:
  public, max-age=60` bounds how long a browser or proxy may show an edited tile
  unrevalidated. `If-None-Match` gets a 304 (the tile is still computed to know its hash:
  this saves the transfer, not the query). A request that carried a bearer token gets
  `private` instead of `public`, and cacheable responses carry `Vary: Authorization`
  (done once for every route by api/auth.py's middleware, not here).
- CORS and `Vary: Origin` come from the app's CORSMiddleware, which adds `Vary: Origin`
  to every non-preflight response (allowed origin or not) and exposes `ETag`.
- Errors are JSON `{code, message}`: unknown layer 404; bad z/x/y, unknown filter or bad
  filter value 400. Anything unexpected is logged with the request id and answered 500
  with only that id.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import wraps
from urllib.parse import urlencode

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from geo import tiles as T
from geo.layers import LAYERS

log = logging.getLogger("landguard.tiles")

CACHE_CONTROL = "public, max-age=60"
"""Short on purpose: edits show within a minute even through caches that do not revalidate."""
MIN_ZOOM_CACHE_CONTROL = "public, max-age=3600"
"""Below-min-zoom answers depend on configuration only, not on data."""

Handler = Callable[[Request], Awaitable[Response]]


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def error(code: str, message: str, status: int) -> Response:
    return json_response({"code": code, "message": message}, status)


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))


def guarded(handler: Handler) -> Handler:
    """Expected input errors → 400/404 JSON; anything else is logged and masked as a 500
    carrying the request id, so no SQL or traceback reaches the client."""

    @wraps(handler)
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except T.TileRequestError as exc:
            return error(exc.code, exc.message, 404 if exc.code == "UNKNOWN_LAYER" else 400)
        except Exception:
            rid = _request_id(request)
            log.exception("tile request failed: %s (request %s)", request.url.path, rid)
            body = {
                "code": "INTERNAL_SERVER_ERROR",
                "message": f"Internal server error 服务器内部错误 (request id {rid})",
                "request_id": rid,
            }
            return json_response(body, 500)

    return run


@contextlib.asynccontextmanager
async def reader(request: Request) -> AsyncIterator[AsyncConnection]:
    """A pooled connection in autocommit: a tile is one read-only statement (its own
    snapshot), so BEGIN and ROLLBACK would only add two round trips per tile."""
    async with request.app.state.engine.connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


def etag_of(data: bytes) -> str:
    """A strong validator: the same bytes, and only the same bytes, give the same tag."""
    return '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'


def not_modified(request: Request, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 §13.1.2): `W/` is ignored."""
    given = request.headers.get("if-none-match")
    if given is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in given.split(",")]
    return "*" in tags or etag in tags


def cached(request: Request, body: bytes, media_type: str) -> Response:
    """200 with ETag and Cache-Control, or 304 when the client already has these bytes."""
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, 200, headers, media_type=media_type)


def _tiles_base(request: Request) -> str:
    """Absolute URL of this mount ("…/tiles/"), from the request's own base URL."""
    return str(request.url_for("tiles_index")).rstrip("/") + "/"


def _tile_template(request: Request, layer: str, query: list[tuple[str, str]]) -> str:
    url = f"{_tiles_base(request)}{layer}/{{z}}/{{x}}/{{y}}.mvt"
    return f"{url}?{urlencode(query)}" if query else url


@guarded
async def tile(request: Request) -> Response:
    p = request.path_params
    layer = T.get_layer(p["layer"])
    address = T.parse_tile(p["z"], p["x"], p["y"])
    filters = T.parse_filters(layer, request.query_params.multi_items())
    if address.z < layer.min_zoom:
        return Response(
            status_code=204,
            headers={
                "Cache-Control": MIN_ZOOM_CACHE_CONTROL,
                "X-Tile-Status": "below-min-zoom",
                "X-Tile-Min-Zoom": str(layer.min_zoom),
            },
        )
    async with reader(request) as conn:
        data = await T.render_tile(conn, layer, address, filters)
    if not data:
        return Response(
            status_code=204, headers={"Cache-Control": CACHE_CONTROL, "X-Tile-Status": "empty"}
        )
    return cached(request, data, T.MEDIA_TYPE)


@guarded
async def tilejson(request: Request) -> Response:
    layer = T.get_layer(request.path_params["layer"])
    filters = T.parse_filters(layer, request.query_params.multi_items())
    async with reader(request) as conn:
        bounds = await T.layer_bounds(conn, layer, filters)
        if bounds is None and filters:  # nothing matches: frame the whole layer instead
            bounds = await T.layer_bounds(conn, layer, {})
    template = _tile_template(request, layer.name, T.filter_query(filters))
    doc = T.tilejson(layer, tiles_url=template, bounds=bounds)
    return cached(request, orjson.dumps(doc), "application/json")


@guarded
async def index(request: Request) -> Response:
    base = _tiles_base(request)
    layers = [
        {
            "name": layer.name,
            "title": layer.title,
            "description": layer.description,
            "geometry_type": layer.geometry_type,
            "minzoom": layer.min_zoom,
            "maxzoom": T.MAX_ZOOM,
            "tilejson": f"{base}{layer.name}.json",
            "tiles": f"{base}{layer.name}/{{z}}/{{x}}/{{y}}.mvt",
        }
        for layer in LAYERS.values()
    ]
    return json_response({"layers": layers}, headers={"Cache-Control": CACHE_CONTROL})


async def not_found(request: Request) -> Response:
    return error(
        "NOT_FOUND",
        "no such tile resource: use /tiles, /tiles/{layer}.json or /tiles/{layer}/{z}/{x}/{y}.mvt",
        404,
    )


routes: list[BaseRoute] = [
    Route("/", index, methods=["GET"], name="tiles_index"),
    Route("/{layer}.json", tilejson, methods=["GET"], name="tilejson"),
    Route("/{layer}/{z}/{x}/{y}.mvt", tile, methods=["GET"], name="tile"),
    Route("/{rest:path}", not_found, methods=["GET"]),
]
