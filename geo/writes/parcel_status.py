"""用地手续 Land-procedure steps of a parcel: the transition rule and the dated change.

The rule (DESIGN.md §2, geo.guarantee_rules.LAND_CHAIN):
- forward: one step along the chain DEMAND → PRE_REVIEWED → DOSSIER_PREP → SUBMITTED →
  APPROVED_UNSUPPLIED → SUPPLIED → LAND_PLANNING_PERMIT → REGISTERED, no skipping; the
  side states are entered from where they apply: IDLE 闲置 from supplied land
  (IDLE_CANDIDATE_STATUSES), LAPSED 批文失效 from an approval not yet supplied;
- back: to an earlier status, only with a non-empty reason. Quota follows the approval,
  so a step back never crosses it silently: from APPROVED_UNSUPPLIED the only way back is
  the withdrawal to DOSSIER_PREP (撤回, credits the debit back, geo.ledger), and from
  later statuses (or LAPSED) back at most to APPROVED_UNSUPPLIED; IDLE goes back to a
  supplied status.
- a lapse (LAPSED) gives no quota back (the approval used it); going back from LAPSED is
  only the correction to APPROVED_UNSUPPLIED (a lapse recorded in error);
- the step to APPROVED_UNSUPPLIED debits the county's NEW_CONSTRUCTION quota
  (geo.ledger.debit_on_approval, which also records the status and its event); SUPPLIED
  needs a supply method; every step is dated, not in the future and not before the
  current status's date.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from geo import ledger
from geo.enums import LandStatus, SupplyMethod
from geo.guarantee_rules import IDLE_CANDIDATE_STATUSES, LAND_CHAIN
from geo.writes.parcels import SUPPLIED_STATUSES, LockedParcel
from geo.writes.refusals import TransitionRefused, WriteRefused

S = LandStatus
APPROVAL = S.APPROVED_UNSUPPLIED
_APPROVAL_AT = LAND_CHAIN.index(APPROVAL)


def forward_targets(status: LandStatus) -> list[LandStatus]:
    """Where a parcel may go next without a reason."""
    out: list[LandStatus] = []
    if status in LAND_CHAIN and LAND_CHAIN.index(status) + 1 < len(LAND_CHAIN):
        out.append(LAND_CHAIN[LAND_CHAIN.index(status) + 1])
    if status in IDLE_CANDIDATE_STATUSES:
        out.append(S.IDLE)
    if status is APPROVAL:
        out.append(S.LAPSED)
    return out


def back_targets(status: LandStatus) -> list[LandStatus]:
    """Where a parcel may go back to, with a reason (see the module docstring)."""
    if status is APPROVAL:
        return [ledger.WITHDRAW_TO]
    if status in LAND_CHAIN:
        k = LAND_CHAIN.index(status)
        floor = _APPROVAL_AT if k > _APPROVAL_AT else 0
        return list(LAND_CHAIN[floor:k])
    if status is S.IDLE:
        return list(IDLE_CANDIDATE_STATUSES)
    if status is S.LAPSED:
        return [APPROVAL]
    return []


def check_transition(current: LandStatus, wanted: LandStatus, reason: str | None) -> bool:
    """True for a forward step, False for an allowed step back; refuse anything else."""
    forward, back = forward_targets(current), back_targets(current)
    allowed = [s.value for s in forward] + [s.value for s in back]
    if wanted in forward:
        return True
    if wanted in back:
        if reason is None or not reason.strip():
            raise TransitionRefused(
                current.value,
                wanted.value,
                allowed,
                f"going back from {current.value} to {wanted.value} needs a reason "
                f"(退回须说明理由); forward: {[s.value for s in forward]}",
            )
        return False
    raise TransitionRefused(
        current.value,
        wanted.value,
        allowed,
        f"allowed from {current.value}: forward {[s.value for s in forward]}, "
        f"back with a reason {[s.value for s in back]}",
    )


def _check_date(parcel: LockedParcel, occurred_on: dt.date, today: dt.date) -> None:
    if occurred_on > today:
        raise WriteRefused(
            "BAD_USER_INPUT",
            f"日期不能晚于今天 occurredOn {occurred_on} is in the future (today is {today})",
            field=["input", "occurredOn"],
        )
    if occurred_on < parcel.status_date:
        raise WriteRefused(
            "BAD_USER_INPUT",
            f"日期不能早于上一节点 occurredOn {occurred_on} is before the current status "
            f"{parcel.status.value} of {parcel.status_date}",
            field=["input", "occurredOn"],
        )


_MOVE = text(
    """
    UPDATE parcel
       SET procedure_status = CAST(:to AS land_status), status_date = :on,
           supply_method = CAST(:supply AS supply_method),
           approval_doc = coalesce(:doc, approval_doc)
     WHERE id = :id AND version = :version
    RETURNING version
    """
)
_EVENT = text(
    "INSERT INTO parcel_status_event (parcel_id, status, occurred_on, actor, reason) "
    "VALUES (:id, CAST(:to AS land_status), :on, :actor, :reason)"
)


async def change_status(
    session: AsyncSession,
    parcel: LockedParcel,
    *,
    to: LandStatus,
    occurred_on: dt.date,
    today: dt.date,
    actor_sub: str,
    reason: str | None = None,
    approval_doc: str | None = None,
    supply_method: SupplyMethod | None = None,
) -> None:
    """Move a locked, version-checked parcel one step; quota moves with the approval."""
    forward = check_transition(parcel.status, to, reason)
    _check_date(parcel, occurred_on, today)
    if to is APPROVAL and parcel.status is ledger.APPROVE_FROM:
        await ledger.debit_on_approval(
            session,
            parcel_code=parcel.code,
            year=occurred_on.year,
            actor=actor_sub,
            reason=reason or f"用地批准 approval of parcel {parcel.code}",
            approved_on=occurred_on,
            document_no=approval_doc,
        )
        return
    if parcel.status is APPROVAL and to is ledger.WITHDRAW_TO:
        await ledger.credit_on_withdrawal(
            session,
            parcel_code=parcel.code,
            year=parcel.status_date.year,  # the debit's year: the approval's date
            actor=actor_sub,
            reason=reason or "",
            withdrawn_on=occurred_on,
            document_no=approval_doc,
        )
        return
    supply = supply_method or parcel.supply_method
    if to in SUPPLIED_STATUSES and supply is None:
        raise WriteRefused(
            "BAD_USER_INPUT",
            f"供地须填写供地方式 the step to {to.value} needs a supplyMethod (划拨/出让)",
            field=["input", "supplyMethod"],
        )
    if to not in SUPPLIED_STATUSES:
        if supply_method is not None:
            raise WriteRefused(
                "BAD_USER_INPUT",
                f"supplyMethod belongs to supplied land, not to {to.value}",
                field=["input", "supplyMethod"],
            )
        supply = None
    moved = await session.execute(
        _MOVE,
        {
            "id": parcel.id,
            "version": parcel.version,
            "to": to.value,
            "on": occurred_on,
            "supply": None if supply is None else supply.value,
            "doc": approval_doc,
        },
    )
    if moved.first() is None:  # cannot happen under the row lock; kept as the rule
        raise WriteRefused("STALE_VERSION", f"parcel {parcel.code} changed meanwhile")
    await session.execute(
        _EVENT,
        {
            "id": parcel.id,
            "to": to.value,
            "on": occurred_on,
            "actor": actor_sub,
            "reason": reason if (reason or not forward) else None,
        },
    )
