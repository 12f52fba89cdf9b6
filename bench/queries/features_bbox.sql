-- Scenario features_bbox: the one statement `featureCollection(layer: PARCELS, filter:
-- {spatial: {bbox: $bbox}}, first: 1000)` runs (geo/layers.py feature_collection): each
-- feature's JSON text built in SQL (id, GeoJSON geometry, the layer's properties including
-- the 三区三线 `conflict` flag, an ST_Relate test against basic farmland and the ecological
-- red line), joined into one FeatureCollection text by string_agg, plus the feature count.
SELECT concat('{"type":"FeatureCollection","features":[', coalesce(string_agg(anon_1.f, ','), ''), ']}') AS concat_1,
       count(*) AS count_1
  FROM (SELECT concat('{"type":"Feature","id":', CAST(to_json(parcel.code) AS TEXT), ',"geometry":',
                      ST_AsGeoJSON(parcel.geom, 8, 0), ',"properties":',
                      CAST(json_build_object(
                        'code', parcel.code, 'name', parcel.name, 'county_code', parcel.county_code,
                        'project_code', project.code, 'is_key', coalesce(project.is_key, false),
                        'land_class', parcel.land_class, 'procedure_status', parcel.procedure_status,
                        'area_m2', parcel.area_m2,
                        'area_mu', parcel.area_m2 / CAST(666.6666666666666 AS DOUBLE PRECISION),
                        'area_ha', parcel.area_m2 / CAST(10000 AS DOUBLE PRECISION),
                        'gk_srid', parcel.gk_srid,
                        'conflict', EXISTS (SELECT * FROM protected_zone
                                             WHERE protected_zone.kind IN ('BASIC_FARMLAND', 'ECOLOGICAL_REDLINE')
                                               AND (protected_zone.geom && parcel.geom)
                                               AND ST_Relate(protected_zone.geom, parcel.geom, '2********'))
                      ) AS TEXT), '}') AS f
          FROM parcel
          LEFT OUTER JOIN project_parcel
            ON project_parcel.parcel_id = parcel.id AND project_parcel.unlinked_on IS NULL
          LEFT OUTER JOIN project ON project.id = project_parcel.project_id
         WHERE ST_Intersects(parcel.geom, ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, 4490))
         ORDER BY parcel.code
         LIMIT 1000 OFFSET 0) AS anon_1;
