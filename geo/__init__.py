"""The PostGIS store: models, sessions, spatial SQL, CRS and units (no GraphQL, no HTTP)."""
