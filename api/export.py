"""GeoJSON download of any filtered layer: `GET /export/{layer}.geojson?<filters>&bbox=…`.

The whole filtered FeatureCollection as a file QGIS opens directly: RFC 7946 (lon/lat,
no `crs` member; coordinates are the stored CGCS2000 ones, which agree with WGS84 to
centimetres), the same features, properties and filters as GraphQL and OGC API. The
body is streamed from a server-side cursor in key order, so a large export never sits
whole in memory; more than EXPORT_MAX_FEATURES matching features is a 413 asking the
user to filter (counted before the first byte is sent, so the status can still say so).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from api.ogc import (
    GEOJSON,
    OgcError,
    ogc_errors,
    parse_bbox,
    property_filters,
    single_params,
)
from geo import ogc as q
from geo.layers import LAYERS, Layer
from geo.spatial import SpatialFilter

log = logging.getLogger("landguard.export")

EXPORT_MAX_FEATURES = 200_000
"""Above this a download is refused (413): ~200 MB of GeoJSON is the most a desktop GIS
opens comfortably; the user narrows it by county, status or bbox."""
BATCH = 1000
CHINA = ZoneInfo("Asia/Shanghai")


def _filename(layer: Layer) -> str:
    """Named by the date in China, where the users are."""
    return f"{layer.name}-{dt.datetime.now(CHINA).date().isoformat()}.geojson"


async def _body(
    request: Request,
    layer: Layer,
    filters: dict[str, Any],
    spatial: SpatialFilter | None,
    limit: int,
) -> AsyncIterator[bytes]:
    """The FeatureCollection, a batch of features per chunk."""
    yield b'{"type":"FeatureCollection","name":"' + layer.name.encode() + b'","features":[\n'
    precision = int(request.app.state.settings.geojson_precision)
    first = True
    chunk: list[str] = []
    try:
        async with request.app.state.tx_sessions() as session:
            async for feature in q.stream_features(
                session, layer, filters=filters, spatial=spatial, precision=precision, limit=limit
            ):
                chunk.append(feature if first else ",\n" + feature)
                first = False
                if len(chunk) >= BATCH:
                    yield "".join(chunk).encode()
                    chunk = []
    except Exception:
        # the status line is gone: log it and end the body, which then fails to parse
        # rather than looking complete
        log.exception("export of %s failed mid-stream", layer.name)
        raise
    if chunk:
        yield "".join(chunk).encode()
    yield b"\n]}\n"


@ogc_errors
async def export_geojson(request: Request) -> Response:
    name = request.path_params["layer"]
    layer = LAYERS.get(name)
    if layer is None:
        raise OgcError(404, "NotFound", f"no layer {name!r}; offered: {sorted(LAYERS)}")
    params = single_params(request.query_params, ("bbox", *layer.filters))
    filters = property_filters(layer, params)
    spatial = SpatialFilter(bbox=parse_bbox(params["bbox"])) if "bbox" in params else None
    async with request.app.state.sessions() as session:
        matched = await q.count(session, layer, filters=filters, spatial=spatial)
    if matched > EXPORT_MAX_FEATURES:
        raise OgcError(
            413,
            "TooManyFeatures",
            f"{matched} features match; a download holds at most {EXPORT_MAX_FEATURES}. "
            f"Narrow it with bbox or a filter ({', '.join(sorted(layer.filters))}).",
        )
    return StreamingResponse(
        _body(request, layer, filters, spatial, EXPORT_MAX_FEATURES),
        media_type=GEOJSON,
        headers={
            "Content-Disposition": f'attachment; filename="{_filename(layer)}"',
            "X-Feature-Count": str(matched),
        },
    )


routes: list[BaseRoute] = [Route("/{layer}.geojson", export_geojson, name="export_geojson")]
