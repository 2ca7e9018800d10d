"""SEPA files: pain.008 per collection date and sequence type and pain.001 for payouts, each valid against
its XSD (checked here again, independently of sepaxml), stored once with hash and totals; the
pre-notification date of an invoice; payouts booked off the liability they settle."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from datetime import date
from pathlib import Path

import pytest
import sepaxml
import xmlschema
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.errors import DomainError, Invalid
from app.settings import Settings
from billing.ledger import service as ledger
from billing.ledger.models import SourceKind
from billing.ledger.repository import EntryFilter
from billing.payments import repository, sepa
from billing.payments.models import ItemStatus, SequenceType
from billing.payments.pain002 import batches_of
from billing.payments.schemas import CollectionRequest
from tests.billing.payments.builders import MEMBER_IBAN, OTHER_IBAN, make_mandate, payout_instruction
from tests.builders import BOARD, make_member

SCHEMAS = Path(sepaxml.__file__).parent / "schemas"
CREDITOR = sepa.Creditor(
    name="openTelecom eG", iban="DE02120300000000202051", bic="BYLADEM1001", creditor_id="DE98ZZZ09999999999"
)


def debit_line(**overrides: object) -> sepa.DebitLine:
    values: dict[str, object] = {
        "debtor_name": "Jürgen Weiß",
        "iban": MEMBER_IBAN,
        "bic": None,
        "mandate_reference": "OT-00000001-01",
        "mandate_signed_on": date(2026, 1, 5),
        "sequence": SequenceType.FRST,
        "amount_cents": 4990,
        "end_to_end_id": "2026-000123",
        "remittance": "Rechnung 2026-000123 Glasfaser 250",
        "collection_date": date(2026, 11, 3),
    }
    values.update(overrides)
    return sepa.DebitLine(**values)  # type: ignore[arg-type]


def request(member_id: int, number: str, cents: int = 4990, on: date = date(2026, 11, 3)) -> CollectionRequest:
    return CollectionRequest(
        member_id=member_id,
        amount_cents=cents,
        end_to_end_id=number,
        remittance=f"Rechnung {number}",
        collection_date=on,
    )


def test_a_direct_debit_file_is_valid_pain_008_with_its_totals() -> None:
    built = sepa.build_direct_debits(
        [debit_line(), debit_line(end_to_end_id="2026-000124", amount_cents=1010)], CREDITOR
    )

    schema = xmlschema.XMLSchema(str(SCHEMAS / f"{sepa.DIRECT_DEBIT_SCHEMA}.xsd"))
    assert schema.is_valid(built.content.decode())
    decoded = schema.to_dict(built.content.decode())["CstmrDrctDbtInitn"]
    assert decoded["GrpHdr"]["NbOfTxs"] == "2"
    assert str(decoded["GrpHdr"]["CtrlSum"]) == "60.00"
    [batch] = decoded["PmtInf"]
    assert batch["PmtTpInf"]["SeqTp"] == "FRST"
    assert batch["CdtrSchmeId"]["Id"]["PrvtId"]["Othr"][0]["Id"] == "DE98ZZZ09999999999"
    assert [t["PmtId"]["EndToEndId"] for t in batch["DrctDbtTxInf"]] == ["2026-000123", "2026-000124"]
    assert batch["DrctDbtTxInf"][0]["Dbtr"]["Nm"] == "Jurgen Weiss"  # SEPA's Latin character set
    assert (built.total_cents, built.item_count) == (6000, 2)
    assert built.sha256 == hashlib.sha256(built.content).hexdigest()


def test_an_item_the_schema_refuses_fails_the_file() -> None:
    with pytest.raises(Invalid) as refused:
        sepa.build_direct_debits([debit_line(), debit_line(end_to_end_id="X" * 36)], CREDITOR)

    assert refused.value.code == "sepa_schema"


def test_a_credit_transfer_file_is_valid_pain_001() -> None:
    line = sepa.TransferLine(
        name="Erika Mustermann",
        iban=OTHER_IBAN,
        bic=None,
        amount_cents=1234,
        end_to_end_id="DV-2025-7",
        remittance="Dividende 2025",
        execution_date=date(2026, 6, 30),
    )

    built = sepa.build_transfers([line], CREDITOR)

    schema = xmlschema.XMLSchema(str(SCHEMAS / f"{sepa.CREDIT_TRANSFER_SCHEMA}.xsd"))
    assert schema.is_valid(built.content.decode())
    with pytest.raises(Invalid):
        sepa.build_transfers([dataclasses.replace(line, iban="DE00")], CREDITOR)


@pytest.mark.parametrize(
    ("issued_on", "due_on", "collected_on"),
    [
        (date(2026, 10, 1), date(2026, 10, 5), date(2026, 10, 15)),  # 14 days after issue win
        (date(2026, 10, 1), date(2026, 10, 30), date(2026, 10, 30)),  # the due date is later
        (date(2026, 10, 4), date(2026, 10, 4), date(2026, 10, 19)),  # the 18th is a Sunday
        (date(2027, 3, 12), date(2027, 3, 26), date(2027, 3, 30)),  # Good Friday 26, Easter Monday 29 March
        (date(2026, 12, 11), date(2026, 12, 25), date(2026, 12, 28)),  # Christmas and the weekend
    ],
)
def test_the_collection_date_announced_on_the_invoice(
    issued_on: date, due_on: date, collected_on: date, settings: Settings
) -> None:
    assert sepa.collection_date(issued_on=issued_on, due_on=due_on, settings=settings) == collected_on


@pytest.mark.postgres
async def test_collections_make_one_file_per_date_and_sequence_and_store_their_items(
    db_session: AsyncSession, settings: Settings
) -> None:
    new, known, later = [await make_member(db_session, settings) for _ in range(3)]
    for member in (new, known, later):
        await make_mandate(db_session, settings, member=member)
    known_mandate = await make_mandate(db_session, settings, member=known, iban=OTHER_IBAN)
    known_mandate.sequence = SequenceType.RCUR

    files = await sepa.collect(
        db_session,
        actor=BOARD,
        settings=settings,
        requests=[
            request(new.id, "2026-000001"),
            request(known.id, "2026-000002", 1500),
            request(later.id, "2026-000003", on=date(2026, 11, 16)),
        ],
    )

    assert [(f.due_on, f.sequence, f.item_count, f.total_cents) for f in files] == [
        (date(2026, 11, 3), SequenceType.FRST, 1, 4990),
        (date(2026, 11, 3), SequenceType.RCUR, 1, 1500),
        (date(2026, 11, 16), SequenceType.FRST, 1, 4990),
    ]
    assert all(f.sha256 == hashlib.sha256(f.content).hexdigest() for f in files)
    from billing.payments import repository

    items = await repository.collection_items(db_session, files[0].id)
    assert [(i.end_to_end_id, i.status) for i in items] == [("2026-000001", ItemStatus.SUBMITTED)]
    with pytest.raises(DomainError) as again:
        await sepa.collect(db_session, actor=BOARD, settings=settings, requests=[request(new.id, "2026-000001")])
    assert again.value.code == "collection_duplicate"


@pytest.mark.postgres
async def test_a_payout_file_books_each_payout_off_its_liability(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings)
    instruction = payout_instruction(member=member, iban="de75 5121 0800 1245 1261 99")

    stored = await sepa.pay_out(db_session, actor=BOARD, settings=settings, instructions=[instruction])

    assert (stored.item_count, stored.total_cents, stored.schema) == (1, 1234, "pain.001.001.09")
    entries, _ = await ledger.search_entries(
        db_session, actor=BOARD, filters=EntryFilter(source_kind=SourceKind.PAYOUT), limit=10, offset=0
    )
    [entry] = entries
    assert [(line.account, line.debit_cents, line.credit_cents, line.member_id) for line in entry.lines] == [
        ("1795", 1234, 0, member.id),
        ("1200", 0, 1234, None),
    ]
    with pytest.raises(DomainError) as again:
        await sepa.pay_out(db_session, actor=BOARD, settings=settings, instructions=[instruction])
    assert again.value.code == "payout_duplicate"


@pytest.mark.postgres
async def test_each_collection_item_keeps_the_batch_its_file_holds_it_in(
    db_session: AsyncSession, settings: Settings
) -> None:
    members = [await make_member(db_session, settings) for _ in range(2)]
    for member in members:
        await make_mandate(db_session, settings, member=member)
    [made] = await sepa.collect(
        db_session,
        actor=BOARD,
        settings=settings,
        requests=[request(members[0].id, "2026-000123"), request(members[1].id, "2026-000124", cents=1999)],
    )

    [(batch_id, end_to_end_ids)] = batches_of(made.content).items()
    items = await repository.collection_items(db_session, made.id)

    assert re.fullmatch(r"[A-Za-z0-9]{1,22}-[0-9a-f]{12}", batch_id)
    assert [(i.end_to_end_id, i.batch_id) for i in items] == [(e2e, batch_id) for e2e in end_to_end_ids]
