-- Scenario project_nested: the four statements `project(code) { code name county { name }
-- parcels { … } approvalItems { … } }` issues. The API runs the first, then the other three
-- concurrently in their own sessions (DataLoaders); pgbench runs them one after another on
-- one connection. \gset keeps the project row (p_id, p_county_code) for the next three.

-- geo/queries/projects.py project_by_code
SELECT project.id, project.code, project.name, project.county_code, project.dev_zone_code,
       project.plan_type, project.stage, project.industry, project.is_key, project.key_list_year,
       project.categories, project.total_investment, project.annual_target,
       project.progress_target, project.planned_start, project.planned_finish,
       project.actual_start, project.lead_official, project.lead_official_title,
       project.responsible_entity, project.signing_status, project.stats_status, project.version,
       ST_AsGeoJSON(project.location, 8, 0) AS location
  FROM project
 WHERE project.code = :code
\gset p_

-- geo/queries/admin.py admin_areas_by_code (Project.county)
SELECT admin_area.code, admin_area.name, admin_area.name_en, admin_area.kind,
       admin_area.parent_code, admin_area.area_m2, admin_area.source
  FROM admin_area
 WHERE admin_area.code IN (:p_county_code);

-- geo/queries/parcels.py parcels_by_project (Project.parcels)
SELECT parcel.id, parcel.code, parcel.name, parcel.county_code, parcel.land_class,
       parcel.procedure_status, parcel.status_date, parcel.area_m2, parcel.gk_srid,
       parcel.new_construction_area_m2, parcel.farmland_area_m2, parcel.supply_method,
       parcel.agreed_start_date, parcel.approval_doc, parcel.version, project_parcel.project_id
  FROM parcel
  LEFT OUTER JOIN project_parcel
    ON project_parcel.parcel_id = parcel.id AND project_parcel.unlinked_on IS NULL
 WHERE project_parcel.project_id IN (:p_id)
 ORDER BY project_parcel.project_id, parcel.code;

-- geo/queries/approvals.py approval_items_by_project (Project.approvalItems), as of :today
SELECT approval_item.id, approval_item.code, approval_item.project_id, approval_item.item_type,
       approval_item.name, approval_item.handling_level, approval_item.measures,
       approval_item.deadline, approval_item.leader, approval_item.handler,
       approval_item.handler_phone, approval_item.status, approval_item.started_on,
       approval_item.completed_on, approval_item.version,
       approval_item.status != 'COMPLETED' AND approval_item.deadline IS NOT NULL
         AND approval_item.deadline < :today::date AS overdue,
       CASE WHEN (approval_item.status != 'COMPLETED' AND approval_item.deadline IS NOT NULL
                  AND approval_item.deadline < :today::date)
            THEN :today::date - approval_item.deadline ELSE 0 END AS days_overdue
  FROM approval_item
 WHERE approval_item.project_id IN (:p_id)
 ORDER BY approval_item.project_id, approval_item.code;
