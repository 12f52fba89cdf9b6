"""Bulk import (批量导入) of parcels, protected zones, admin areas and project lists.

    result = run_import(connection, ImportOptions(kind=Kind.PARCELS, path=path))

One job per module: `sources` reads GeoJSON, Shapefile and GeoPackage files, `sheet`
reads an Excel project list, `fields` maps Chinese/English columns and labels onto
typed values, `staging` loads rows into a TEMP table and validates them in PostGIS in
bulk, `writers` inserts the good rows, `report` is the result and its JSON/CSV form, and
`pipeline` ties them together in the caller's single transaction.
"""

from geo.imports.pipeline import ImportOptions, run_import
from geo.imports.report import ImportResult, Kind, RowError

__all__ = ["ImportOptions", "ImportResult", "Kind", "RowError", "run_import"]
