"""Who is writing (the authenticated principal as the store sees it).

The API turns a verified bearer token into an `Actor`; every write transaction hands it to
`geo` so that PostgreSQL knows it too: `bind_actor` sets transaction-local settings that the
row-level-security policies (county scope) and the audit triggers read. CLI jobs (seed,
import) use `Actor.system(...)`.

Settings read by the database (all transaction-local, `set_config(..., true)`):
- `landguard.sub`       the token's `sub` (or `system:<job>`)
- `landguard.role`      one of `Role` below
- `landguard.counties`  `*` for every county, else comma-separated GB/T 2260 codes
- `landguard.request_id` the HTTP request id, for correlating audit rows with logs
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from geo.enums import DomainEnum

API_DB_ROLE = "landguard_api"
"""The non-owner database role the API's connections switch to (SET ROLE); RLS applies."""


class Role(DomainEnum):
    CITY_ADMIN = "CITY_ADMIN", "市级管理员", "city administrator (everything)"
    LAND_BUREAU = "LAND_BUREAU", "自然资源和规划局", "land bureau (parcels, quotas, zones)"
    COUNTY_OFFICER = "COUNTY_OFFICER", "县级专员", "county officer (own county only)"
    TASK_FORCE = "TASK_FORCE", "专班人员", "task-force staff (approval items, issues)"
    ANALYST = "ANALYST", "分析员", "analyst (read-only)"


@dataclass(frozen=True)
class Actor:
    sub: str
    role: Role
    counties: frozenset[str] | None = None
    """None = every county (city-level roles); county officers carry their own code(s)."""
    request_id: str = "-"

    @classmethod
    def system(cls, job: str) -> Actor:
        return cls(sub=f"system:{job}", role=Role.CITY_ADMIN, counties=None)

    @property
    def counties_setting(self) -> str:
        return "*" if self.counties is None else ",".join(sorted(self.counties))

    def may_touch_county(self, county_code: str | None) -> bool:
        return self.counties is None or (county_code is not None and county_code in self.counties)


async def bind_actor(conn: object, actor: Actor) -> None:
    """Tell PostgreSQL who writes, for the rest of the current transaction.

    `conn` is an AsyncSession or AsyncConnection inside a transaction."""
    await conn.execute(  # type: ignore[attr-defined]
        text(
            "SELECT set_config('landguard.sub', :sub, true), "
            "set_config('landguard.role', :role, true), "
            "set_config('landguard.counties', :counties, true), "
            "set_config('landguard.request_id', :rid, true)"
        ),
        {
            "sub": actor.sub,
            "role": actor.role.value,
            "counties": actor.counties_setting,
            "rid": actor.request_id,
        },
    )
