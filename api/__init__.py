"""HTTP edge: Starlette app, settings, routes, CLI."""
