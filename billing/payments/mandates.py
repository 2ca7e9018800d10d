"""SEPA direct debit mandates: IBANs checked with schwifty, one active mandate per member, FRST then RCUR,
lapsed after 36 months without a collection (DOMAIN.md), revoked by the member or replaced by a new one."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from schwifty import BIC, IBAN
from schwifty.exceptions import InvalidChecksumDigits, InvalidLength, SchwiftyException
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.actor import Actor, Role
from app.kit.errors import Conflict, Invalid, NotFound
from app.kit.time import add_months, local_today
from app.members import service as members
from app.settings import Settings
from billing.payments import repository
from billing.payments.models import Mandate, SequenceType
from billing.payments.schemas import MandateCreate, MandateOut

# A mandate that is not used for 36 months expires (EPC SDD Core rulebook, DOMAIN.md).
LAPSE_MONTHS = 36


@dataclass(frozen=True, slots=True)
class Account:
    """An IBAN in its compact form with the bank schwifty's registry knows for it."""

    iban: str
    bic: str | None
    bank_name: str | None


def check_iban(value: str, *, bic: str | None = None, field: str = "iban") -> Account:
    """The IBAN normalised (no spaces, upper case) with its BIC: the one entered (checked), else the one the
    bank registry derives. Refusals: ``iban_checksum``, ``iban_length``, ``iban_invalid``, ``bic_invalid``."""
    try:
        iban = IBAN(value)
    except InvalidChecksumDigits as error:
        raise Invalid(
            "The IBAN's check digits are wrong; please check it.", code="iban_checksum", field=field
        ) from error
    except InvalidLength as error:
        raise Invalid("The IBAN is too long or too short for its country.", code="iban_length", field=field) from error
    except SchwiftyException as error:
        raise Invalid(f"This is not an IBAN: {error}.", code="iban_invalid", field=field) from error
    derived = iban.bic
    if bic:
        try:
            entered = BIC(bic)
        except SchwiftyException as error:
            raise Invalid(f"This is not a BIC: {error}.", code="bic_invalid", field="bic") from error
        return Account(iban=iban.compact, bic=str(entered.compact), bank_name=iban.bank_name)
    return Account(iban=iban.compact, bic=str(derived.compact) if derived else None, bank_name=iban.bank_name)


def mask_iban(iban: str) -> str:
    """Country, check digits and the last four characters; the rest starred, in groups of four."""
    compact = iban.replace(" ", "")
    masked = compact[:4] + "*" * max(len(compact) - 8, 0) + compact[-4:]
    return " ".join(masked[i : i + 4] for i in range(0, len(masked), 4))


def lapses_on(mandate: Mandate) -> date:
    """The day a mandate expires unless it is used before: 36 months after its last collection (or, never
    used, after it was signed)."""
    return add_months(mandate.last_collected_on or mandate.signed_on, LAPSE_MONTHS)


def state(mandate: Mandate, on: date) -> str:
    """``revoked``, ``lapsed`` (36 months unused) or ``active`` on day ``on``."""
    if mandate.revoked_on is not None and mandate.revoked_on <= on:
        return "revoked"
    if lapses_on(mandate) <= on:
        return "lapsed"
    return "active"


def out(mandate: Mandate, on: date) -> MandateOut:
    current = state(mandate, on)
    return MandateOut(
        id=mandate.id,
        member_id=mandate.member_id,
        reference=mandate.reference,
        debtor_name=mandate.debtor_name,
        iban_masked=mandate.iban_masked,
        bic=mandate.bic,
        signed_on=mandate.signed_on,
        sequence=mandate.sequence,
        last_collected_on=mandate.last_collected_on,
        revoked_on=mandate.revoked_on,
        state=current,  # type: ignore[arg-type]
        lapses_on=None if current == "revoked" else lapses_on(mandate),
    )


def mandate_reference(member_id: int, n: int) -> str:
    """The unique mandate reference: ``OT`` + member number + the member's mandate count (SEPA characters)."""
    return f"OT-{member_id:08d}-{n:02d}"


def self_or_staff(actor: Actor, member_id: int) -> None:
    """A member may act for themselves only (anyone else is not found); staff for anyone."""
    if actor.is_member:
        if actor.member_id != member_id:
            raise NotFound(f"Member {member_id} not found.")
        return
    actor.require(Role.OPERATOR, Role.BOARD)


async def give(
    session: AsyncSession, *, actor: Actor, settings: Settings, member_id: int, data: MandateCreate
) -> Mandate:
    """A new mandate for the member (the member on their page, or staff recording a signed form); the active
    one, if any, is revoked on the new one's signature date."""
    self_or_staff(actor, member_id)
    # The member's row is locked, so two mandates given at once are given one after the other.
    await members.get_member(session, actor=actor, member_id=member_id, lock=True)
    account = check_iban(data.iban, bic=data.bic)
    today = local_today(settings.timezone)
    signed_on = data.signed_on or today
    if signed_on > today:
        raise Invalid("A mandate cannot be signed in the future.", code="mandate_signed_future", field="signed_on")
    with action(session, "payments.mandate_give"):
        previous = await repository.active_mandate(session, member_id, lock=True)
        if previous is not None:
            previous.revoked_on = max(signed_on, previous.signed_on)
            await session.flush()
        mandate = Mandate(
            member_id=member_id,
            reference=mandate_reference(member_id, await repository.mandate_count(session, member_id) + 1),
            debtor_name=data.debtor_name,
            iban=account.iban,
            iban_masked=mask_iban(account.iban),
            bic=account.bic,
            signed_on=signed_on,
            sequence=SequenceType.FRST,
        )
        session.add(mandate)
        await session.flush()
    return mandate


async def revoke(session: AsyncSession, *, actor: Actor, settings: Settings, member_id: int) -> Mandate:
    """The member withdraws their mandate (from today on); invoices are then paid by transfer."""
    self_or_staff(actor, member_id)
    mandate = await repository.active_mandate(session, member_id, lock=True)
    if mandate is None:
        raise Conflict("There is no active mandate to revoke.", code="mandate_none")
    with action(session, "payments.mandate_revoke"):
        mandate.revoked_on = max(local_today(settings.timezone), mandate.signed_on)
        await session.flush()
    return mandate


async def current(session: AsyncSession, *, actor: Actor, member_id: int) -> Mandate | None:
    """The member's mandate that is not revoked (it may have lapsed; see ``state``)."""
    self_or_staff(actor, member_id)
    return await repository.active_mandate(session, member_id)


async def active_for(session: AsyncSession, *, member_ids: Collection[int]) -> dict[int, Mandate]:
    """The members' mandates that are not revoked, by member, read without locking (an invoice's payment
    block; see ``state`` for whether one has lapsed)."""
    return await repository.active_mandates(session, member_ids, lock=False)


async def history(session: AsyncSession, *, actor: Actor, member_id: int) -> list[Mandate]:
    self_or_staff(actor, member_id)
    return await repository.mandates_of(session, member_id)


def require_collectable(mandate: Mandate | None, *, member_id: int, on: date) -> Mandate:
    """The mandate a collection on ``on`` may use; ``mandate_none``, ``mandate_revoked``, ``mandate_lapsed``."""
    if mandate is None:
        raise Invalid(f"Member {member_id} has no mandate.", code="mandate_none", field="member_id")
    current_state = state(mandate, on)
    if current_state != "active":
        raise Invalid(
            f"Mandate {mandate.reference} is {current_state} on {on.isoformat()}.",
            code=f"mandate_{current_state}",
            field="member_id",
        )
    return mandate
