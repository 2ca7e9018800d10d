"""Builders for payments tests: issued invoices, mandates, and camt.053 statements, camt.054 notifications and
pain.002 status reports written the way a German bank writes them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from xml.sax.saxutils import escape

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.members.models import Member
from app.settings import Settings
from billing.invoices import repository as invoice_repository
from billing.invoices import service as invoices
from billing.invoices.models import Invoice, InvoiceKind, InvoiceLine, InvoiceSeries, InvoiceStatus, ServiceKind
from billing.payments import mandates
from billing.payments.models import Mandate
from billing.payments.pain002 import batches_of
from billing.payments.schemas import MandateCreate, PayoutInstruction
from tests.builders import BOARD

MEMBER_IBAN = "DE89370400440532013000"  # Commerzbank, the registry knows its BIC
OTHER_IBAN = "DE75512108001245126199"


async def make_invoice(
    session: AsyncSession,
    *,
    member: Member,
    number: str | None = None,
    gross_cents: int,
    issued_on: date = date(2026, 10, 1),
    due_on: date | None = None,
) -> Invoice:
    """An invoice issued and booked through ``billing.invoices`` (one internet line at 19 %, due 14 days after
    issue unless told). With ``number`` ("2026-000123") the series is moved to it first, so tests can name
    the number a payment quotes; without, the series' next number is taken."""
    bind_actor(session, BOARD)
    net = round(gross_cents / 1.19)
    invoice = Invoice(
        kind=InvoiceKind.INVOICE,
        status=InvoiceStatus.DRAFT,
        member_id=member.id,
        buyer_name=f"{member.first_name} {member.last_name}",
        buyer_street="Hauptstraße 1",
        buyer_postal_code="12345",
        buyer_city="Musterstadt",
        buyer_country="DE",
        issue_date=issued_on,
        period_start=issued_on.replace(day=1),
        period_end=issued_on,
        due_date=due_on or issued_on + timedelta(days=14),
        net_cents=net,
        vat_cents=gross_cents - net,
        gross_cents=gross_cents,
        amount_due_cents=gross_cents,
    )
    session.add(invoice)
    await session.flush()
    session.add(
        InvoiceLine(
            invoice_id=invoice.id,
            position=1,
            description="Glasfaser 250",
            quantity=Decimal(1),
            unit="MON",
            unit_price=Decimal(net) / 100,
            net_cents=net,
            vat_rate=Decimal("19.00"),
            service_kind=ServiceKind.INTERNET,
        )
    )
    await session.flush()
    series = await invoice_repository.series_id(session, InvoiceKind.INVOICE, issued_on.year)
    if number is not None:
        await session.execute(
            sa.update(InvoiceSeries).where(InvoiceSeries.id == series).values(next_number=int(number.split("-")[-1]))
        )
    where = "id = :invoice_id"
    await invoices.issue_drafts(
        session, kind=InvoiceKind.INVOICE, year=issued_on.year, where=where, params={"invoice_id": invoice.id}
    )
    await invoices.post_issued(session, actor=BOARD, where=Invoice.id == invoice.id)
    await session.refresh(invoice)
    return invoice


async def make_mandate(
    session: AsyncSession,
    settings: Settings,
    *,
    member: Member,
    iban: str = MEMBER_IBAN,
    signed_on: date = date(2026, 1, 5),
    debtor_name: str = "Erika Mustermann",
) -> Mandate:
    bind_actor(session, BOARD)
    return await mandates.give(
        session,
        actor=BOARD,
        settings=settings,
        member_id=member.id,
        data=MandateCreate(debtor_name=debtor_name, iban=iban, signed_on=signed_on),
    )


def payout_instruction(
    *, member: Member, iban: str = OTHER_IBAN, cents: int = 1234, reference: str = "DV-2025-1"
) -> PayoutInstruction:
    """A dividend of ``cents`` paid to ``member`` on 30 June 2026."""
    return PayoutInstruction(
        member_id=member.id,
        name="Erika Mustermann",
        iban=iban,
        amount_cents=cents,
        reference=reference,
        remittance="Dividende 2025",
        execution_date=date(2026, 6, 30),
        liability="dividends_payable",
    )


@dataclass(frozen=True)
class Booking:
    """One entry of a camt.053 statement, or one transaction of a batch entry."""

    amount: str
    credit: bool = True
    booked_on: date = date(2026, 11, 3)
    name: str = "Erika Mustermann"
    iban: str = MEMBER_IBAN
    remittance: str = ""
    end_to_end_id: str = "NOTPROVIDED"
    mandate_id: str | None = None
    bank_reference: str | None = None
    return_reason: str | None = None
    # German banks' proprietary code (GVC): 166 transfer in, 105 direct debit, 109 return of a direct debit.
    gvc: str = "166"
    status: str = "BOOK"


@dataclass(frozen=True)
class Batch:
    """A batch entry (Sammlerbuchung): one booking of a whole direct debit file (GVC 192; a credit transfer file
    with ``credit=False``, GVC 191). With ``details`` it carries its ``bookings`` as transaction details;
    without, only the total (``amount``, else the bookings' sum) and what ``Btch`` says: our file's
    ``message_id``, our batch's ``batch_id``, ``count`` (NbOfTxs, else the bookings', if any) and the total."""

    bookings: tuple[Booking, ...] = ()
    details: bool = True
    amount: str | None = None
    message_id: str | None = None
    batch_id: str | None = None
    count: int | None = None
    credit: bool = True
    booked_on: date = date(2026, 11, 3)
    bank_reference: str | None = None
    # The bank transaction code: the ISO domain (PMNT/IDDT/ESDD for collections) as well, or only the GVC
    # (default 192 for collections, 191 for credit transfers).
    iso_code: bool = True
    gvc: str | None = None


def _amount(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _details(b: Booking, own_iban: str, v08: bool) -> str:
    member_party = f"<Nm>{escape(b.name)}</Nm>"
    own_party = "<Nm>openTelecom eG</Nm>"
    if v08:
        member_party, own_party = f"<Pty>{member_party}</Pty>", f"<Pty>{own_party}</Pty>"
    # The original parties: the member pays us (transfer, direct debit and its return) or we pay them.
    if b.credit or b.return_reason:
        debtor, debtor_iban, creditor, creditor_iban = member_party, b.iban, own_party, own_iban
    else:
        debtor, debtor_iban, creditor, creditor_iban = own_party, own_iban, member_party, b.iban
    refs = f"<EndToEndId>{escape(b.end_to_end_id)}</EndToEndId>"
    if b.mandate_id:
        refs += f"<MndtId>{escape(b.mandate_id)}</MndtId>"
    ret = (
        f"<RtrInf><Rsn><Cd>{b.return_reason}</Cd></Rsn><AddtlInf>Rueckgabe</AddtlInf></RtrInf>"
        if b.return_reason
        else ""
    )
    ustrd = f"<RmtInf><Ustrd>{escape(b.remittance)}</Ustrd></RmtInf>" if b.remittance else ""
    amount = f'<Amt Ccy="EUR">{b.amount}</Amt>'
    return (
        f"<TxDtls><Refs>{refs}</Refs>"
        + (amount if v08 else f"<AmtDtls><TxAmt>{amount}</TxAmt></AmtDtls>")
        + f"<RltdPties><Dbtr>{debtor}</Dbtr><DbtrAcct><Id><IBAN>{debtor_iban}</IBAN></Id></DbtrAcct>"
        f"<Cdtr>{creditor}</Cdtr><CdtrAcct><Id><IBAN>{creditor_iban}</IBAN></Id></CdtrAcct></RltdPties>"
        f"{ustrd}{ret}</TxDtls>"
    )


def _entry(
    *,
    amount: str,
    credit: bool,
    booked_on: date,
    status: str,
    reference: str | None,
    code: str,
    details: str,
    info: str = "",
    v08: bool,
) -> str:
    return (
        f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{"CRDT" if credit else "DBIT"}</CdtDbtInd>'
        + (f"<Sts><Cd>{status}</Cd></Sts>" if v08 else f"<Sts>{status}</Sts>")
        + f"<BookgDt><Dt>{booked_on.isoformat()}</Dt></BookgDt><ValDt><Dt>{booked_on.isoformat()}</Dt></ValDt>"
        + (f"<AcctSvcrRef>{escape(reference)}</AcctSvcrRef>" if reference else "")
        + f"<BkTxCd>{code}</BkTxCd>{details}"
        + (f"<AddtlNtryInf>{info}</AddtlNtryInf>" if info else "")
        + "</Ntry>"
    )


def _booking_entry(b: Booking, own_iban: str, v08: bool) -> str:
    return _entry(
        amount=b.amount,
        credit=b.credit,
        booked_on=b.booked_on,
        status=b.status,
        reference=b.bank_reference,
        code=f"<Prtry><Cd>NTRF+{b.gvc}+0000</Cd><Issr>DK</Issr></Prtry>",
        details=f"<NtryDtls>{_details(b, own_iban, v08)}</NtryDtls>",
        v08=v08,
    )


def _batch_entry(batch: Batch, own_iban: str, v08: bool) -> str:
    cents = sum(int(b.amount.replace(".", "")) for b in batch.bookings)
    total = batch.amount or _amount(cents)
    side = "CRDT" if batch.credit else "DBIT"
    count = batch.count if batch.count is not None else (len(batch.bookings) or None)
    btch = (
        (f"<MsgId>{escape(batch.message_id)}</MsgId>" if batch.message_id else "")
        + (f"<PmtInfId>{escape(batch.batch_id)}</PmtInfId>" if batch.batch_id else "")
        + (f"<NbOfTxs>{count}</NbOfTxs>" if count is not None else "")
        + f'<TtlAmt Ccy="EUR">{total}</TtlAmt><CdtDbtInd>{side}</CdtDbtInd>'
    )
    transactions = "".join(_details(b, own_iban, v08) for b in batch.bookings) if batch.details else ""
    iso = "<Domn><Cd>PMNT</Cd><Fmly><Cd>{}</Cd><SubFmlyCd>{}</SubFmlyCd></Fmly></Domn>".format(
        *(("IDDT", "ESDD") if batch.credit else ("ICDT", "ESCT"))
    )
    gvc = f"NDDT+{batch.gvc or '192'}+00931" if batch.credit else f"NMSC+{batch.gvc or '191'}+00931"
    return _entry(
        amount=total,
        credit=batch.credit,
        booked_on=batch.booked_on,
        status="BOOK",
        reference=batch.bank_reference,
        code=(iso if batch.iso_code else "") + f"<Prtry><Cd>{gvc}</Cd><Issr>DK</Issr></Prtry>",
        details=f"<NtryDtls><Btch>{btch}</Btch>{transactions}</NtryDtls>",
        info="SAMMEL-LS-GUTSCHRIFT" if batch.credit else "SAMMEL-UEBERWEISUNG",
        v08=v08,
    )


def _account(own_iban: str) -> str:
    return (
        f"<Acct><Id><IBAN>{own_iban}</IBAN></Id><Ccy>EUR</Ccy><Svcr><FinInstnId><BIC>MARKDEF1100</BIC>"
        "</FinInstnId></Svcr></Acct>"
    )


def camt053(
    *bookings: Booking,
    own_iban: str = "DE91100000000123456789",
    statement_id: str = "2026-11-03-00001",
    batches: Sequence[list[Booking] | Batch] = (),
) -> bytes:
    """A camt.053.001.02 statement of ``bookings`` (one entry each) and ``batches`` (one entry each, as a bank
    books a direct debit file: a list of bookings is a batch with its details and only ``NbOfTxs``)."""
    entries = [_booking_entry(b, own_iban, False) for b in bookings]
    for batch in batches:
        if isinstance(batch, list):
            batch = Batch(bookings=tuple(batch), booked_on=batch[0].booked_on, iso_code=False)
        entries.append(_batch_entry(batch, own_iban, False))
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<BkToCstmrStmt><GrpHdr><MsgId>camt53-20261103-1</MsgId><CreDtTm>2026-11-03T22:10:00+01:00</CreDtTm>"
        "</GrpHdr>"
        f"<Stmt><Id>{statement_id}</Id><ElctrncSeqNb>214</ElctrncSeqNb><CreDtTm>2026-11-03T22:10:00+01:00</CreDtTm>"
        + _account(own_iban)
        + '<Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">10000.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-02</Dt></Dt></Bal>"
        + "".join(entries)
        + "</Stmt></BkToCstmrStmt></Document>"
    )
    return xml.encode()


def camt054(
    *batches: Batch,
    own_iban: str = "DE91100000000123456789",
    notification_id: str = "054-2026-11-03-00001",
    version: str = "001.02",
) -> bytes:
    """A camt.054 debit/credit notification (``version`` 001.02 or 001.08) as a German bank sends it to resolve
    batch bookings (Sammlerauflösung): one notification with one entry per batch, each with its ``Btch`` and its
    transactions."""
    v08 = version == "001.08"
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.{version}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>camt54-20261103-1</MsgId>"
        "<CreDtTm>2026-11-03T06:30:00+01:00</CreDtTm><MsgPgntn><PgNb>1</PgNb><LastPgInd>true</LastPgInd></MsgPgntn>"
        f"</GrpHdr><Ntfctn><Id>{notification_id}</Id><CreDtTm>2026-11-03T06:30:00+01:00</CreDtTm>"
        + _account(own_iban)
        + "".join(_batch_entry(batch, own_iban, v08) for batch in batches)
        + "</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
    )
    return xml.encode()


@dataclass(frozen=True)
class TxStatus:
    """One transaction's status in a pain.002 report."""

    end_to_end_id: str
    status: str | None = "RJCT"
    reason: str | None = None
    info: str | None = None


def _reason(code: str | None, info: str | None, version: str) -> str:
    if code is None and info is None:
        return ""
    origin = "AnyBIC" if version == "001.10" else "BICOrBEI"
    return (
        f"<StsRsnInf><Orgtr><Id><OrgId><{origin}>MARKDEF1100</{origin}></OrgId></Id></Orgtr>"
        + (f"<Rsn><Cd>{code}</Cd></Rsn>" if code else "")
        + (f"<AddtlInf>{escape(info)}</AddtlInf>" if info else "")
        + "</StsRsnInf>"
    )


def pain002(
    *statuses: TxStatus,
    of: bytes,
    original_message_id: str | None = None,
    group_status: str | None = None,
    group_reason: str | None = None,
    batch_statuses: dict[str, str] | None = None,
    message_id: str = "STS-20261102-1",
    created: str = "2026-11-02T08:15:00+01:00",
    version: str = "001.03",
) -> bytes:
    """A pain.002 (``version`` 001.03 or 001.10) as a German bank writes it for our file ``of`` (its content): the
    file's status and reason, and per batch of the file (by ``PmtInfId``) its status from ``batch_statuses`` and
    the ``statuses`` of its transactions. ``original_message_id`` overrides the file's message id."""
    root = ET.fromstring(of)  # noqa: S314 - a file the code under test made
    message_name = root.tag.split("}")[0].rsplit(":", 1)[-1]  # "{urn:...:xsd:pain.008.001.08}Document"
    original = original_message_id or next(e.text for e in root.iter() if e.tag.endswith("MsgId"))
    batches = batches_of(of)
    blocks = []
    for batch_id, ids in batches.items():
        status = (batch_statuses or {}).get(batch_id)
        lines = [s for s in statuses if s.end_to_end_id in ids]
        if status is None and not lines:
            continue
        blocks.append(_batch(batch_id, status, lines, version))
    strangers = [s for s in statuses if not any(s.end_to_end_id in ids for ids in batches.values())]
    if strangers:
        blocks.append(_batch("FREMD-1", None, strangers, version))
    bic = "BICFI" if version == "001.10" else "BIC"
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.{version}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<CstmrPmtStsRpt><GrpHdr><MsgId>{escape(message_id)}</MsgId><CreDtTm>{created}</CreDtTm>"
        f"<DbtrAgt><FinInstnId><{bic}>MARKDEF1100</{bic}></FinInstnId></DbtrAgt></GrpHdr>"
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{escape(str(original))}</OrgnlMsgId>"
        f"<OrgnlMsgNmId>{message_name}</OrgnlMsgNmId>"
        + (f"<GrpSts>{group_status}</GrpSts>" if group_status else "")
        + _reason(group_reason, None, version)
        + "</OrgnlGrpInfAndSts>"
        + "".join(blocks)
        + "</CstmrPmtStsRpt></Document>"
    )
    return xml.encode()


def _batch(batch_id: str, status: str | None, lines: list[TxStatus], version: str) -> str:
    return (
        "<OrgnlPmtInfAndSts>"
        + f"<OrgnlPmtInfId>{escape(batch_id)}</OrgnlPmtInfId>"
        + (f"<PmtInfSts>{status}</PmtInfSts>" if status else "")
        + "".join(
            f"<TxInfAndSts><StsId>S{n}</StsId><OrgnlEndToEndId>{escape(s.end_to_end_id)}</OrgnlEndToEndId>"
            + (f"<TxSts>{s.status}</TxSts>" if s.status else "")
            + _reason(s.reason, s.info, version)
            + "</TxInfAndSts>"
            for n, s in enumerate(lines, 1)
        )
        + "</OrgnlPmtInfAndSts>"
    )
