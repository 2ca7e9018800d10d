"""Builders for payments tests: invoices in the books (until the invoice tables exist), mandates, and
camt.053 statements written the way a German bank writes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.members.models import Member
from app.settings import Settings
from billing.ledger import service as ledger
from billing.ledger.models import JournalEntry, SourceKind
from billing.payments import mandates
from billing.payments.models import Mandate
from billing.payments.schemas import MandateCreate, PayoutInstruction
from tests.builders import BOARD, credit, debit, entry_draft

MEMBER_IBAN = "DE89370400440532013000"  # Commerzbank, the registry knows its BIC
OTHER_IBAN = "DE75512108001245126199"


async def make_invoice(
    session: AsyncSession, *, member: Member, number: str, gross_cents: int, issued_on: date = date(2026, 10, 1)
) -> JournalEntry:
    """An issued invoice as the books show it: receivables (member) to revenue and 19 % VAT."""
    bind_actor(session, BOARD)
    net = round(gross_cents / 1.19)
    vat = [credit("1776", gross_cents - net)] if gross_cents > net else []
    draft = entry_draft(
        debit("1400", gross_cents, member=member),
        credit("8401", net),
        *vat,
        entry_date=issued_on,
        text=f"Rechnung {number}",
        source_kind=SourceKind.INVOICE,
        source_id=number,
    )
    return await ledger.post(session, actor=BOARD, entry=draft)


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
    """One entry of a camt.053 statement."""

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


def _details(b: Booking, own_iban: str) -> str:
    member_party = f"<Nm>{escape(b.name)}</Nm>"
    own_party = "<Nm>openTelecom eG</Nm>"
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
    return (
        f"<TxDtls><Refs>{refs}</Refs>"
        f'<AmtDtls><TxAmt><Amt Ccy="EUR">{b.amount}</Amt></TxAmt></AmtDtls>'
        f"<RltdPties><Dbtr>{debtor}</Dbtr><DbtrAcct><Id><IBAN>{debtor_iban}</IBAN></Id></DbtrAcct>"
        f"<Cdtr>{creditor}</Cdtr><CdtrAcct><Id><IBAN>{creditor_iban}</IBAN></Id></CdtrAcct></RltdPties>"
        f"{ustrd}{ret}</TxDtls>"
    )


def camt053(
    *bookings: Booking,
    own_iban: str = "DE91100000000123456789",
    statement_id: str = "2026-11-03-00001",
    batches: list[list[Booking]] | None = None,
) -> bytes:
    """A camt.053.001.02 statement of ``bookings`` (one entry each) and ``batches`` (one entry of several
    transaction details each, as a bank books a direct debit file)."""
    entries = []
    for b in bookings:
        reference = f"<AcctSvcrRef>{b.bank_reference}</AcctSvcrRef>" if b.bank_reference else ""
        entries.append(
            f'<Ntry><Amt Ccy="EUR">{b.amount}</Amt><CdtDbtInd>{"CRDT" if b.credit else "DBIT"}</CdtDbtInd>'
            f"<Sts>{b.status}</Sts><BookgDt><Dt>{b.booked_on.isoformat()}</Dt></BookgDt>"
            f"<ValDt><Dt>{b.booked_on.isoformat()}</Dt></ValDt>{reference}"
            f"<BkTxCd><Prtry><Cd>NTRF+{b.gvc}+0000</Cd><Issr>DK</Issr></Prtry></BkTxCd>"
            f"<NtryDtls>{_details(b, own_iban)}</NtryDtls></Ntry>"
        )
    for batch in batches or []:
        total = sum(int(b.amount.replace(".", "")) for b in batch)
        first = batch[0]
        entries.append(
            f'<Ntry><Amt Ccy="EUR">{total // 100}.{total % 100:02d}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
            f"<Sts>BOOK</Sts><BookgDt><Dt>{first.booked_on.isoformat()}</Dt></BookgDt>"
            f"<ValDt><Dt>{first.booked_on.isoformat()}</Dt></ValDt>"
            f"<BkTxCd><Prtry><Cd>NTRF+192+0000</Cd><Issr>DK</Issr></Prtry></BkTxCd>"
            f"<NtryDtls><Btch><NbOfTxs>{len(batch)}</NbOfTxs></Btch>"
            + "".join(_details(b, own_iban) for b in batch)
            + "</NtryDtls><AddtlNtryInf>SAMMEL-LS-GUTSCHRIFT</AddtlNtryInf></Ntry>"
        )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<BkToCstmrStmt><GrpHdr><MsgId>camt53-20261103-1</MsgId><CreDtTm>2026-11-03T22:10:00+01:00</CreDtTm>"
        "</GrpHdr>"
        f"<Stmt><Id>{statement_id}</Id><ElctrncSeqNb>214</ElctrncSeqNb><CreDtTm>2026-11-03T22:10:00+01:00</CreDtTm>"
        f"<Acct><Id><IBAN>{own_iban}</IBAN></Id><Ccy>EUR</Ccy><Svcr><FinInstnId><BIC>MARKDEF1100</BIC>"
        "</FinInstnId></Svcr></Acct>"
        '<Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">10000.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-02</Dt></Dt></Bal>"
        + "".join(entries)
        + "</Stmt></BkToCstmrStmt></Document>"
    )
    return xml.encode()
