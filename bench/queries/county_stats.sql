-- Scenario county_stats: parcel count and legal area per county, the whole table.
SELECT county_code, count(*), sum(area_m2) FROM parcel GROUP BY county_code;
