"""GraphiQL served entirely by this app (government networks are often offline).

The assets come from the npm registry at install time (scripts/bootstrap.sh) into
api/static/graphiql/ and are never committed.
"""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).parent / "static" / "graphiql"
ASSETS_PATH = "/graphiql-assets"

DEFAULT_QUERY = """# landguard — 晋城市项目建设“1355”推进机制 用地保障
{
  adminAreas(kind: COUNTY) { code name areaM2 }
  projects(filter: {isKey: true}, first: 5) {
    totalCount
    edges { node { code name stage county { name } parcels { code areaMu procedureStatus } } }
  }
}
"""

PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>landguard GraphiQL</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{assets}/graphiql.min.css">
<style>html, body, #graphiql {{ margin: 0; height: 100%; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="{assets}/react.production.min.js"></script>
<script src="{assets}/react-dom.production.min.js"></script>
<script src="{assets}/graphiql.min.js"></script>
<script>
  const fetcher = GraphiQL.createFetcher({{ url: new URL(window.location.pathname, window.location.href).href }});
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {{ fetcher: fetcher, defaultQuery: {query}, defaultEditorToolsVisibility: true }})
  );
</script>
</body>
</html>
"""

MISSING = """<!doctype html><html><head><meta charset="utf-8"><title>landguard</title></head>
<body><p>GraphiQL assets are not installed. Run <code>make run</code> (or scripts/bootstrap.sh),
which fetches them from the npm registry once.</p></body></html>"""


def page_html() -> str:
    import json

    if not (ASSETS_DIR / "graphiql.min.js").is_file():
        return MISSING
    return PAGE.format(assets=ASSETS_PATH, query=json.dumps(DEFAULT_QUERY))
