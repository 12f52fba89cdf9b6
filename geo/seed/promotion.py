"""Demo promotion trips (招商引资外出, migration 0005) for Jan–Oct 2024.

Its own seeded generator (derived from the demo seed), so adding trips changes nothing
else in the demo set. Leaders of most units travel about once a quarter, some pitching
fewer than the policy's 3 projects; bureaus travel one to three times a month — so the
compliance lists show both outcomes.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from geo.crs import CITY_CODE, DEV_ZONE_CODE
from geo.seed.admin import COUNTIES

COLUMNS = (
    "unit_code",
    "promoter_kind",
    "promoter",
    "trip_on",
    "destination",
    "projects_pitched",
    "actor",
)
DESTINATIONS = (
    "京津冀·北京",
    "京津冀·天津",
    "长三角·上海",
    "长三角·苏州",
    "长三角·杭州",
    "粤港澳·深圳",
    "粤港澳·广州",
    "中原城市群·郑州",
)
"""The regions the policy's 招商引资专班 targets."""
LAST_MONTH = 10  # the demo is a snapshot as of 2024-10-31


def trips(seed: int, year: int = 2024) -> Iterator[tuple[object, ...]]:
    rng = random.Random(seed * 1_000 + 6)
    units = [(c.code, c.name) for c in COUNTIES] + [(DEV_ZONE_CODE, "开发区")]
    for code, name in units:
        for quarter in range(1, 5):
            first = 3 * quarter - 2
            if first > LAST_MONTH or rng.random() < 0.2:
                continue  # no leader trip this quarter
            for _ in range(rng.choice((1, 1, 2))):
                month = rng.randint(first, min(first + 2, LAST_MONTH))
                yield (
                    code,
                    "COUNTY_LEADER",
                    f"{name}主要领导",
                    dt.date(year, month, rng.randint(1, 28)),
                    rng.choice(DESTINATIONS),
                    rng.randint(1, 6),
                    "system:seed",
                )
    for code, name in [(CITY_CODE, "市"), *units]:
        for month in range(1, LAST_MONTH + 1):
            for _ in range(rng.choice((1, 2, 2, 3))):
                yield (
                    code,
                    "BUREAU",
                    f"{name}投资促进中心",
                    dt.date(year, month, rng.randint(1, 28)),
                    rng.choice(DESTINATIONS),
                    rng.randint(1, 4),
                    "system:seed",
                )
