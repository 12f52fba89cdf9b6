"""Who may write what: the permission table, in this one place (README "Authentication").

Authentication (api/auth.py) turns a bearer token into an `Actor` (geo/actor.py); this
module decides what that actor may do. Every mutation calls `require(actor, action,
county_code)` before it opens its transaction, once per county-owned object it touches
(a parcel linked to a project: both counties). PostgreSQL's row-level security repeats
the county half of the check, so a resolver that forgot it still cannot write elsewhere.

The table (✓ = allowed; "own" = only objects of the actor's own county):

| action                 | CITY_ADMIN | LAND_BUREAU | COUNTY_OFFICER | TASK_FORCE | ANALYST |
|------------------------|:----------:|:-----------:|:--------------:|:----------:|:-------:|
| project.create         | ✓          |             | own            |            |         |
| project.update         | ✓          |             | own            |            |         |
| project.link_parcel    | ✓          | ✓           | own            |            |         |
| project.set_key        | ✓          |             |                |            |         |
| parcel.create          | ✓          | ✓           | own            |            |         |
| parcel.update          | ✓          | ✓           | own            |            |         |
| parcel.status          | ✓          | ✓           |                |            |         |
| quota.allocate         | ✓          | ✓           |                |            |         |
| quota.transfer         | ✓          | ✓           |                |            |         |
| approval_item.create   | ✓          |             | own            | ✓          |         |
| approval_item.update   | ✓          |             | own            | ✓          |         |
| issue.create           | ✓          |             |                | ✓          |         |
| issue.update           | ✓          |             |                | ✓          |         |
| issue.escalate         | ✓          |             |                | ✓          |         |
| import.parcels         | ✓          | ✓           |                |            |         |
| import.protected_zones | ✓          | ✓           |                |            |         |
| import.admin_areas     | ✓          |             |                |            |         |
| import.projects        | ✓          |             |                |            |         |
| audit.read             | ✓          |             |                |            |         |
| sensitive.read         | ✓          | ✓           | own            | ✓          |         |
| investment.report      | ✓          |             | own            |            |         |
| promotion.record_trip  | ✓          |             | own            | ✓          |         |

Decisions behind the blanks:
- Key-list membership (`project.set_key`) is the city's decision (the 300-project list is
  set by the city government), so only CITY_ADMIN, not the county that owns the project.
- Land-procedure steps (`parcel.status`: pre-review, submission, approval, supply …) are
  the land bureau's acts, and the step to APPROVED_UNSUPPLIED debits quota; a county
  officer records and edits its parcels (demand registration, geometry) but does not move
  them along the procedure chain. Quotas likewise belong to the bureau.
- Issues (问题台账) are raised and escalated through the four-level dispatch by the
  task forces and the command office (CITY_ADMIN); counties report them to the task force.
- Admin areas define the county scope itself, so only CITY_ADMIN replaces them.
- Monthly investment reports (`investment.report`) are filed by the county that owns the
  project (the county's 发改 office reports to the city) or by the city itself.
- Promotion trips (`promotion.record_trip`) are recorded by the unit's own office, the
  city, or the 招商引资 task force; the development zone and the city bureau have no county
  officer, so only city-level roles record theirs.
- ANALYST writes nothing and reads no sensitive field; anonymous callers likewise.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from strawberry.permission import BasePermission

from geo.actor import Actor, Role
from geo.seed.admin import COUNTIES
from schema.errors import ErrorCode, LandguardError

COUNTY_CODES: frozenset[str] = frozenset(c.code for c in COUNTIES)
"""The six county-level units a COUNTY_OFFICER may belong to (GB/T 2260). The development
zone (geo.crs.DEV_ZONE_CODE) is not one: projects and parcels are owned by the county
they lie in, and the zone's staff get the token of that county (or a city-level role)."""


class Action(StrEnum):
    PROJECT_CREATE = "project.create"
    PROJECT_UPDATE = "project.update"
    PROJECT_LINK_PARCEL = "project.link_parcel"
    PROJECT_SET_KEY = "project.set_key"
    PARCEL_CREATE = "parcel.create"
    PARCEL_UPDATE = "parcel.update"
    PARCEL_STATUS = "parcel.status"
    QUOTA_ALLOCATE = "quota.allocate"
    QUOTA_TRANSFER = "quota.transfer"
    APPROVAL_ITEM_CREATE = "approval_item.create"
    APPROVAL_ITEM_UPDATE = "approval_item.update"
    ISSUE_CREATE = "issue.create"
    ISSUE_UPDATE = "issue.update"
    ISSUE_ESCALATE = "issue.escalate"
    IMPORT_PARCELS = "import.parcels"
    IMPORT_PROTECTED_ZONES = "import.protected_zones"
    IMPORT_ADMIN_AREAS = "import.admin_areas"
    IMPORT_PROJECTS = "import.projects"
    AUDIT_READ = "audit.read"
    SENSITIVE_READ = "sensitive.read"
    INVESTMENT_REPORT = "investment.report"
    PROMOTION_RECORD_TRIP = "promotion.record_trip"


A = Action
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.CITY_ADMIN: frozenset(Action),
    Role.LAND_BUREAU: frozenset(
        {
            A.PROJECT_LINK_PARCEL,
            A.PARCEL_CREATE,
            A.PARCEL_UPDATE,
            A.PARCEL_STATUS,
            A.QUOTA_ALLOCATE,
            A.QUOTA_TRANSFER,
            A.IMPORT_PARCELS,
            A.IMPORT_PROTECTED_ZONES,
            A.SENSITIVE_READ,
        }
    ),
    Role.COUNTY_OFFICER: frozenset(
        {
            A.PROJECT_CREATE,
            A.PROJECT_UPDATE,
            A.PROJECT_LINK_PARCEL,
            A.PARCEL_CREATE,
            A.PARCEL_UPDATE,
            A.APPROVAL_ITEM_CREATE,
            A.APPROVAL_ITEM_UPDATE,
            A.SENSITIVE_READ,
            A.INVESTMENT_REPORT,
            A.PROMOTION_RECORD_TRIP,
        }
    ),
    Role.TASK_FORCE: frozenset(
        {
            A.APPROVAL_ITEM_CREATE,
            A.APPROVAL_ITEM_UPDATE,
            A.ISSUE_CREATE,
            A.ISSUE_UPDATE,
            A.ISSUE_ESCALATE,
            A.SENSITIVE_READ,
            A.PROMOTION_RECORD_TRIP,
        }
    ),
    Role.ANALYST: frozenset(),
}
"""Role → the actions it may perform. County scope comes on top (COUNTY_SCOPED)."""

COUNTY_SCOPED: frozenset[Action] = frozenset(
    a
    for a in Action
    if a.value.split(".")[0]
    in {"project", "parcel", "quota", "approval_item", "issue", "investment", "promotion"}
) | {A.SENSITIVE_READ}
"""Actions on a county-owned object: an actor with a county set (COUNTY_OFFICER) may only
perform them on objects of its counties, and must name the county (fail closed)."""


def allowed_actions(actor: Actor | None) -> list[Action]:
    """What the actor may do at all (county scope aside), in table order; for `me`."""
    if actor is None:
        return []
    granted = PERMISSIONS.get(actor.role, frozenset())
    return [a for a in Action if a in granted]


def is_allowed(actor: Actor | None, action: Action, county_code: str | None = None) -> bool:
    if actor is None or action not in PERMISSIONS.get(actor.role, frozenset()):
        return False
    if action in COUNTY_SCOPED and actor.counties is not None:
        return actor.may_touch_county(county_code)
    return True


def require(actor: Actor | None, action: Action, county_code: str | None = None) -> None:
    """Raise UNAUTHENTICATED (no actor) or FORBIDDEN unless `actor` may do `action` on an
    object of `county_code`. Call it before any write; the message is safe to show."""
    if actor is None:
        raise LandguardError(
            ErrorCode.UNAUTHENTICATED,
            f"需要登录 Authentication required for {action.value}: send a bearer token",
            action=action.value,
        )
    if is_allowed(actor, action, county_code):
        return
    role_allows = action in PERMISSIONS.get(actor.role, frozenset())
    if role_allows:
        where = county_code or "an unnamed county"
        message = (
            f"无权操作其他县（市、区）的数据 {actor.role.zh}只能操作本县数据; "
            f"role {actor.role.value} may do {action.value} only in its own county, not in {where}"
        )
    else:
        message = (
            f"无此操作权限 {actor.role.zh}不能执行 {action.value}; "
            f"role {actor.role.value} may not do {action.value}"
        )
    raise LandguardError(
        ErrorCode.FORBIDDEN,
        message,
        role=actor.role.value,
        action=action.value,
        county=county_code,
    )


def sensitive_read_allowed(actor: Actor | None, county_code: str | None = None) -> bool:
    """May the actor read sensitive fields (handler phone numbers) of an object in
    `county_code`? Anonymous callers and analysts may not; county officers only in their
    own county (pass None when the object has no county: then only city-level roles)."""
    return is_allowed(actor, Action.SENSITIVE_READ, county_code)


class RequireAction(BasePermission):
    """Field permission: `extensions=[PermissionExtension([RequireAction(A.AUDIT_READ)])]`.

    Raises the same UNAUTHENTICATED/FORBIDDEN error as `require` (with role and action in
    `extensions`), so a refused field reads like a refused mutation. Stateless: one
    instance serves every request."""

    message = "Forbidden 无权访问"

    def __init__(self, action: Action) -> None:
        self.action = action

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        require(info.context.actor, self.action)
        return True


class SensitiveRead(BasePermission):
    """Field permission for sensitive reads, meant for `fail_silently=True` (the field
    is null for callers who may not see it, instead of failing the whole list); the
    county check needs the object, so resolvers with a county call
    `sensitive_read_allowed(actor, county)` directly (see ApprovalItem.handlerPhone)."""

    message = "敏感字段仅限授权角色 Sensitive field: not readable with this role"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return sensitive_read_allowed(info.context.actor, getattr(source, "county_code", None))

    def on_unauthorized(self) -> None:
        raise LandguardError(ErrorCode.FORBIDDEN, self.message or "", action="sensitive.read")
