"""What members tell the coop about their dividends: where the net goes, and their exemption orders.

Members manage their own; operators and the board anyone's. Someone else's member is reported as not found
(the scoping is app.members' own, through ``get_member``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.actor import Actor, Role
from app.kit.errors import Invalid
from app.kit.time import local_today
from app.members import service as members
from app.settings import Settings
from billing.dividends import repository
from billing.dividends.models import DividendChoice, DividendPreference, ExemptionOrder
from billing.dividends.schemas import ExemptionOrderCreate, PreferenceOut


async def visible_member(session: AsyncSession, *, actor: Actor, member_id: int) -> int:
    """The member's id if the actor may see them (a member only themselves); NotFound otherwise."""
    actor.require(Role.MEMBER, Role.OPERATOR, Role.BOARD)
    return (await members.get_member(session, actor=actor, member_id=member_id)).id


async def get_preference(session: AsyncSession, *, actor: Actor, member_id: int) -> PreferenceOut:
    """The member's standing choice; without one, dividends are paid out."""
    member = await visible_member(session, actor=actor, member_id=member_id)
    found = await repository.preference(session, member)
    return PreferenceOut(member_id=member, choice=found.choice if found else DividendChoice.PAYOUT)


async def set_preference(
    session: AsyncSession, *, actor: Actor, member_id: int, choice: DividendChoice
) -> PreferenceOut:
    """Where the member's future net dividends go; used by every run after the change."""
    member = await visible_member(session, actor=actor, member_id=member_id)
    found = await repository.preference(session, member)
    with action(session, "dividend.preference"):
        if found is None:
            session.add(DividendPreference(member_id=member, choice=choice))
        else:
            found.choice = choice
        await session.flush()
    return PreferenceOut(member_id=member, choice=choice)


async def exemption_orders(session: AsyncSession, *, actor: Actor, member_id: int) -> list[ExemptionOrder]:
    member = await visible_member(session, actor=actor, member_id=member_id)
    return await repository.exemption_orders_of(session, member)


async def file_exemption_order(
    session: AsyncSession, *, actor: Actor, settings: Settings, member_id: int, data: ExemptionOrderCreate
) -> ExemptionOrder:
    """File (or change) the member's exemption order for a calendar year.

    Refused: an allowance above ``exemption_order_max_cents`` (``exemption_above_maximum``) or below what
    dividends have used of it already (``exemption_below_used``).
    """
    member = await visible_member(session, actor=actor, member_id=member_id)
    if data.allowance_cents > settings.exemption_order_max_cents:
        raise Invalid(
            f"An exemption order can cover at most {settings.exemption_order_max_cents} cents.",
            code="exemption_above_maximum",
            field="allowance_cents",
        )
    filed_on: date = data.filed_on or local_today(settings.timezone)
    order = (await repository.exemption_orders(session, [member], data.calendar_year, lock=True)).get(member)
    if order is not None and data.allowance_cents < order.used_cents:
        raise Invalid(
            f"Dividends have used {order.used_cents} cents of this order already.",
            code="exemption_below_used",
            field="allowance_cents",
        )
    with action(session, "dividend.exemption_order"):
        if order is None:
            order = ExemptionOrder(
                member_id=member,
                calendar_year=data.calendar_year,
                allowance_cents=data.allowance_cents,
                used_cents=0,
                filed_on=filed_on,
            )
            session.add(order)
        else:
            order.allowance_cents = data.allowance_cents
            order.filed_on = filed_on
        await session.flush()
    return order
