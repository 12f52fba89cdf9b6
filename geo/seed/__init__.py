"""Deterministic demo and benchmark data (晋城 2024).

`geo.seed.demo.load_demo(conn, seed=2024, parcels=None)` is the entry point; the modules:
admin (city, counties, development zone), zones (三区三线), sites (grid cells and parcel
layouts), plan (projects, parcels and their dated steps, drawn in Python), ledger (the
quota ledger), workload (approval items, issues, investment reports), names (Chinese name
pools), bulk (COPY helpers).
"""
