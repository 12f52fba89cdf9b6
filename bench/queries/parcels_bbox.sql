-- Scenario parcels_bbox: what `parcels(filter: {spatial: {bbox: $bbox}}, first: 500)` runs
-- when the selection includes `geometry` (geo/queries/parcels.py list_parcels with
-- geo/spatial.py apply_spatial → paging.fetch_page): every parcel column, the active
-- project link, the outline as GeoJSON, ST_Intersects with the envelope (GiST index),
-- ordered by code, one extra row (LIMIT first + 1) that tells whether a next page exists.
SELECT parcel.id, parcel.code, parcel.name, parcel.county_code, parcel.land_class,
       parcel.procedure_status, parcel.status_date, parcel.area_m2, parcel.gk_srid,
       parcel.new_construction_area_m2, parcel.farmland_area_m2, parcel.supply_method,
       parcel.agreed_start_date, parcel.approval_doc, parcel.version, project_parcel.project_id,
       ST_AsGeoJSON(parcel.geom, 8, 0) AS geojson
  FROM parcel
  LEFT OUTER JOIN project_parcel
    ON project_parcel.parcel_id = parcel.id AND project_parcel.unlinked_on IS NULL
 WHERE ST_Intersects(parcel.geom, ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, 4490))
 ORDER BY parcel.code
 LIMIT 501;
