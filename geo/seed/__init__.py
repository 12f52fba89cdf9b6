"""Deterministic demo and benchmark data (晋城 2024)."""
