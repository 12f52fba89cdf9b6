"""Vector-tile benchmark: one dense z14 parcel tile through the API (wrk, HTTP) and the
exact ST_AsMVT statement the API runs, straight through pgbench — side by side.

    .venv/bin/python bench/tiles.py --database-url URL --api-url http://127.0.0.1:PORT

The API must be serving the same database (scripts/bench.sh starts one; or
`DATABASE_URL=… LANDGUARD_WORKERS=2 python -m api serve`). Needs `wrk` (Debian package)
and pgbench. Client, server and PostgreSQL share the machine's cores.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo.db import sync_url
from geo.layers import LAYERS
from geo.tiles import Tile, tile_query

DENSEST_Z14 = """
SELECT x, y, count(*) FROM (
    SELECT floor((ST_X(c) + 180) / 360 * 16384)::int AS x,
           floor((1 - ln(tan(radians(ST_Y(c))) + 1 / cos(radians(ST_Y(c)))) / pi()) / 2 * 16384)::int AS y
      FROM (SELECT ST_PointOnSurface(geom) AS c FROM parcel) p) t
 GROUP BY x, y ORDER BY count(*) DESC, x, y LIMIT 1"""


def pgbench(
    url: str, script: str, variables: dict[str, str], seconds: int, clients: int
) -> tuple[float, float]:
    """(tps, mean latency ms) of the script, run as the postgres user when we are root."""
    u = urlsplit(url.replace("postgresql+psycopg", "postgresql"))
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False, dir="/tmp") as f:
        f.write(script)
    os.chmod(f.name, 0o644)
    binary = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))[-1]
    cmd = [str(binary), "-n", "-M", "prepared", "-c", str(clients), "-j", "2", "-T", str(seconds),
           "-f", f.name, "-h", u.hostname or "127.0.0.1", "-p", str(u.port or 5432),
           "-U", u.username or "postgres", (u.path or "/").lstrip("/")]  # fmt: skip
    for key, value in variables.items():
        cmd += ["-D", f"{key}={value}"]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    env = {**os.environ, "PGPASSWORD": u.password or ""}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/", check=True).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))  # type: ignore[union-attr]
    return tps, lat


def wrk(url: str, seconds: int, clients: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) from wrk --latency."""
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(clients), "-d", f"{seconds}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"{p}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)  # type: ignore[union-attr]
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    if "Non-2xx" in out:
        raise RuntimeError("the API answered non-2xx responses:\n" + out)
    return rate, pct("50"), pct("99")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    ap.add_argument("--api-url", required=True)
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    url = sync_url(args.database_url).replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url) as conn:
        parcels = conn.execute("SELECT count(*) FROM parcel").fetchone()[0]  # type: ignore[index]
        x, y, n = conn.execute(DENSEST_Z14).fetchone()  # type: ignore[misc]
    tile = Tile(14, x, y)
    query, params = tile_query(LAYERS["parcels"], tile, {})
    script = re.sub(r"%\((\w+)\)s", r":\1", query.sql) + ";\n"
    raw_tps, raw_mean = pgbench(
        url, script, {k: str(v) for k, v in params.items()}, args.duration, args.clients
    )
    api_rate, api_p50, api_p99 = wrk(
        f"{args.api_url}/tiles/parcels/14/{x}/{y}.mvt", args.duration, args.clients
    )
    print(
        f"parcels: {parcels}; dense z14 tile {x}/{y} with ~{n} parcel centroids; {args.clients} clients, {args.duration} s"
    )
    print(f"{'side':8s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s}")
    print(f"{'API':8s} {api_rate:9.1f} {api_p50:8.2f} {api_p99:8.2f}")
    print(f"{'raw SQL':8s} {raw_tps:9.1f} {'(mean ' + format(raw_mean, '.2f') + ')':>17s}")
    print(f"API / raw: {100 * api_rate / raw_tps:.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
