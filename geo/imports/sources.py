"""Spatial files → features: GeoJSON (read here, strictly), ESRI Shapefile and GeoPackage
(read with pyogrio, whose wheels bundle GDAL).

The CRS comes from the file: a GeoJSON `crs` member (none means EPSG:4326, RFC 7946), a
Shapefile's .prj, a GeoPackage layer's srs. Accepted are CGCS2000 (4490), WGS84 (4326;
numerically the same as 4490 here, transformed by PostGIS so the SRID is right) and the
CGCS2000 Gauss-Krüger projections (4491–4554, 3- and 6-degree zones), which PostGIS
transforms to 4490. Anything else (3857, Xi'an 1980, Beijing 1954 …) is refused: those
need a datum shift with parameters the bureau must choose, not a guess of ours.

Shapefile attribute text honours the .cpg file (GBK is common); `encoding` overrides it
for files without one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from geo.geometry_input import GeometryInputError, parse_geojson_geometry
from geo.imports.report import ImportFileError

DEGREE_SRIDS = frozenset({4490, 4326})
GK_SRIDS = frozenset(range(4491, 4555))
"""CGCS2000 Gauss-Krüger: 4491–4512 6-degree, 4513–4554 3-degree (with/without zone prefix)."""
ACCEPTED_FILE_SRIDS = DEGREE_SRIDS | GK_SRIDS


@dataclass
class Feature:
    row: int
    fid: str | None
    properties: dict[str, Any]
    geometry: BaseGeometry | None
    error: GeometryInputError | None = None


@dataclass
class SpatialSource:
    path: Path
    srid: int
    columns: list[str]
    count: int
    features: Iterator[Feature]
    layer: str | None = None

    @property
    def degrees(self) -> bool:
        return self.srid in DEGREE_SRIDS


def open_spatial(
    path: Path, *, layer: str | None = None, encoding: str | None = None, srid: int | None = None
) -> SpatialSource:
    """Open a GeoJSON, Shapefile or GeoPackage; `srid` declares the CRS of a file without one."""
    if not path.exists():
        raise ImportFileError("UNSUPPORTED_FORMAT", f"{path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        source = _open_geojson(path, srid)
    elif suffix in (".shp", ".gpkg"):
        source = _open_ogr(path, layer=layer, encoding=encoding, srid=srid)
    else:
        raise ImportFileError(
            "UNSUPPORTED_FORMAT",
            f"{path.name}: use GeoJSON (.geojson), ESRI Shapefile (.shp) or GeoPackage (.gpkg)",
        )
    if source.srid not in ACCEPTED_FILE_SRIDS:
        raise ImportFileError(
            "UNSUPPORTED_SRID",
            f"{path.name} is in EPSG:{source.srid}; accepted are EPSG:4490 (CGCS2000), "
            "EPSG:4326 (WGS84) and the CGCS2000 Gauss-Krüger zones EPSG:4491–4554",
        )
    return source


_EPSG = re.compile(r"(?:EPSG:+|EPSG::)(\d+)$", re.I)


def _crs_srid(name: str | None, fallback: int | None, where: str) -> int:
    if not name:
        if fallback is None:
            raise ImportFileError(
                "UNSUPPORTED_SRID", f"{where} does not say its CRS (.prj missing?): pass --srid"
            )
        return fallback
    if "CRS84" in name.upper():
        return 4326
    m = _EPSG.search(name.strip())
    if not m:
        raise ImportFileError(
            "UNSUPPORTED_SRID",
            f"{where}: the CRS is not an EPSG code GDAL recognises ({name[:80]}…); "
            "re-project to EPSG:4490 or pass --srid if you know it",
        )
    return int(m.group(1))


def _open_geojson(path: Path, srid: int | None) -> SpatialSource:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ImportFileError("INVALID_GEOJSON", f"{path.name}: not a JSON file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ImportFileError("INVALID_GEOJSON", f"{path.name}: expected a FeatureCollection")
    crs = doc.get("crs")
    name = (crs.get("properties") or {}).get("name") if isinstance(crs, dict) else None
    if crs is not None and not isinstance(name, str):
        raise ImportFileError("UNSUPPORTED_SRID", f"{path.name}: unreadable crs member {crs!r}")
    # RFC 7946: no crs member means WGS84 lon/lat; --srid may say otherwise.
    file_srid = _crs_srid(name, srid if srid is not None else 4326, path.name)
    if srid is not None and name and srid != file_srid:
        raise ImportFileError(
            "UNSUPPORTED_SRID", f"{path.name} says EPSG:{file_srid} but --srid {srid} was given"
        )
    features = doc.get("features")
    if not isinstance(features, list):
        raise ImportFileError("INVALID_GEOJSON", f"{path.name}: 'features' must be a list")
    columns: list[str] = []
    for feat in features:
        props = feat.get("properties") if isinstance(feat, dict) else None
        for key in props or {}:
            if key not in columns:
                columns.append(key)
    return SpatialSource(path, file_srid, columns, len(features), _geojson_features(features))


def _geojson_features(features: list[Any]) -> Iterator[Feature]:
    for i, feat in enumerate(features, start=1):
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            err = GeometryInputError("INVALID_GEOJSON", "not a GeoJSON Feature object")
            yield Feature(i, None, {}, None, err)
            continue
        fid = feat.get("id")
        props = feat.get("properties") or {}
        if not isinstance(props, dict):
            props = {}
        geometry, error = None, None
        if feat.get("geometry") is None:
            error = GeometryInputError("EMPTY_GEOMETRY", "the feature has no geometry")
        else:
            try:
                geometry = parse_geojson_geometry(feat["geometry"])
            except GeometryInputError as exc:
                error = exc
        yield Feature(i, None if fid is None else str(fid), props, geometry, error)


def _open_ogr(
    path: Path, *, layer: str | None, encoding: str | None, srid: int | None
) -> SpatialSource:
    import pyogrio
    from pyogrio import errors as ogr_errors
    from pyogrio import raw

    unreadable = (
        ogr_errors.DataSourceError,
        ogr_errors.DataLayerError,
        ogr_errors.FeatureError,
        ogr_errors.FieldError,
        ogr_errors.GeometryError,
        ogr_errors.CRSError,
        LookupError,  # an unknown --encoding
        UnicodeError,
    )

    try:
        if layer is None and path.suffix.lower() == ".gpkg":
            layers = pyogrio.list_layers(path)
            if len(layers) > 1:
                names = ", ".join(str(n) for n, _ in layers)
                raise ImportFileError(
                    "UNSUPPORTED_FORMAT", f"{path.name} has layers {names}: choose one with --layer"
                )
        meta, fids, wkbs, values = raw.read(path, layer=layer, encoding=encoding, return_fids=True)
    except unreadable as exc:
        raise ImportFileError("UNSUPPORTED_FORMAT", f"{path.name}: {exc}") from None
    file_srid = _crs_srid(meta.get("crs"), srid, path.name)
    if srid is not None and meta.get("crs") and srid != file_srid:
        raise ImportFileError(
            "UNSUPPORTED_SRID", f"{path.name} says EPSG:{file_srid} but --srid {srid} was given"
        )
    columns = [str(c) for c in meta["fields"]]
    n = len(wkbs) if wkbs is not None else 0

    def features() -> Iterator[Feature]:
        for i in range(n):
            props = {c: _plain(values[j][i]) for j, c in enumerate(columns)}
            fid = None if fids is None else str(fids[i])
            wkb = wkbs[i]
            if wkb is None:
                err = GeometryInputError("EMPTY_GEOMETRY", "the feature has no geometry")
                yield Feature(i + 1, fid, props, None, err)
                continue
            try:
                geometry = shapely.from_wkb(wkb)
            except shapely.errors.GEOSException as exc:
                yield Feature(
                    i + 1, fid, props, None, GeometryInputError("INVALID_GEOMETRY", str(exc))
                )
                continue
            yield Feature(i + 1, fid, props, geometry)

    return SpatialSource(path, file_srid, columns, n, features(), layer)


def _plain(value: Any) -> Any:
    """numpy scalars → Python values; NaN/NaT (GDAL's null) → None."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
