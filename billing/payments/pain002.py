"""pain.002 payment status reports (Zahlungsstatusbericht) into plain data: the bank's answer to a pain.008 or
pain.001 file we handed it, before anything is booked.

Reads pain.002.001.03 (the version of the German banks' DFÜ agreement up to November 2025) and
pain.002.001.10 (the 2019 version that replaces it); elements are found by local name, so the namespace of
either is accepted, and the upload is parsed as ``iso20022.document`` parses it (no external entities, no
expansion bombs). A report answers on three levels: the whole file (``OrgnlGrpInfAndSts/GrpSts``), a batch of
it (``OrgnlPmtInfAndSts/PmtInfSts``) and single transactions (``TxInfAndSts/TxSts``), each with optional
reasons (``StsRsnInf``: an ISO code such as AC04, AM04, MD01, MS03 or a proprietary one, and free text).

``rejections`` resolves the levels against the file: a rejected file rejects every transaction of it, a
rejected batch every transaction of that batch, otherwise the transactions reported RJCT; each rejection
carries the most specific reason given. Every other status (ACCP, ACTC, ACSC, PDNG, ...) only says how far
the bank got and changes nothing.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from app.kit.errors import Invalid
from billing.payments.iso20022 import child, children, day, document, local, text

CODE = "pain002_invalid"
REJECTED = "RJCT"
# ISO 20022 external code sets ExternalPaymentGroupStatus1Code and ExternalPaymentTransactionStatus1Code.
STATUSES = frozenset(
    {
        "ACCC",
        "ACCP",
        "ACFC",
        "ACIS",
        "ACPD",
        "ACSC",
        "ACSP",
        "ACTC",
        "ACWC",
        "ACWP",
        "BLCK",
        "CANC",
        "CPUC",
        "PART",
        "PATC",
        "PDNG",
        "PRES",
        "RCVD",
        "RJCT",
    }
)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why the bank gave a status: the reason code (ISO or proprietary) and its free text, either may be None."""

    code: str | None
    info: str | None


NO_REASON = Reason(code=None, info=None)


@dataclass(frozen=True, slots=True)
class StatusLine:
    """The status of one transaction of the original file, by its end-to-end id."""

    end_to_end_id: str
    status: str | None
    reason: Reason


@dataclass(frozen=True, slots=True)
class StatusBatch:
    """The status of one batch (``PmtInf``) of the original file and of the transactions it lists."""

    batch_id: str | None
    status: str | None
    reason: Reason
    lines: list[StatusLine]


@dataclass(frozen=True, slots=True)
class StatusReport:
    """One pain.002: its own message id and date, the file it answers, that file's status and the batches'."""

    message_id: str
    created_on: date
    original_message_id: str
    original_message_name: str | None
    group_status: str | None
    reason: Reason
    batches: list[StatusBatch]

    @property
    def lines(self) -> list[StatusLine]:
        return [line for batch in self.batches for line in batch.lines]


def _status(node: ET.Element | None, name: str) -> str | None:
    value = text(node, name)
    if value is None:
        return None
    if value not in STATUSES:
        raise Invalid(f"Not a payment status: {value!r}.", code=CODE)
    return value


def _reason(node: ET.Element | None) -> Reason:
    """The first status reason with a code (or the first at all); its free text lines joined."""
    reasons = children(node, "StsRsnInf")
    if not reasons:
        return NO_REASON
    chosen = next((r for r in reasons if text(r, "Rsn", "Cd") or text(r, "Rsn", "Prtry")), reasons[0])
    code = text(chosen, "Rsn", "Cd") or text(chosen, "Rsn", "Prtry")
    info = " ".join(t for t in (" ".join((i.text or "").split()) for i in children(chosen, "AddtlInf")) if t)
    return Reason(code=code[:35] if code else None, info=info[:500] or None)


def _line(node: ET.Element) -> StatusLine:
    end_to_end_id = text(node, "OrgnlEndToEndId") or text(node, "OrgnlTxRef", "PmtId", "EndToEndId")
    if end_to_end_id is None:
        raise Invalid("A transaction status without the original end-to-end id.", code=CODE)
    return StatusLine(end_to_end_id=end_to_end_id[:35], status=_status(node, "TxSts"), reason=_reason(node))


def parse(data: bytes) -> StatusReport:
    """The status report in a pain.002 file; ``Invalid`` (``pain002_invalid``) if the file is not a pain.002
    customer payment status report or a status in it is no ISO status code."""
    report = child(document(data, code=CODE), "CstmrPmtStsRpt")
    if report is None:
        raise Invalid("The file is not a pain.002 payment status report.", code=CODE)
    group = child(report, "OrgnlGrpInfAndSts")
    message_id = text(report, "GrpHdr", "MsgId")
    created_on = day(text(report, "GrpHdr", "CreDtTm"), code=CODE)
    original = text(group, "OrgnlMsgId")
    if message_id is None or created_on is None or original is None:
        raise Invalid("A status report without its message id, date or the original message id.", code=CODE)
    batches = [
        StatusBatch(
            batch_id=text(batch, "OrgnlPmtInfId"),
            status=_status(batch, "PmtInfSts"),
            reason=_reason(batch),
            lines=[_line(line) for line in children(batch, "TxInfAndSts")],
        )
        for batch in children(report, "OrgnlPmtInfAndSts")
    ]
    # pain.002.001.03 may also list transactions right under the group (TxInfAndSts there is deprecated).
    loose = [_line(line) for line in children(report, "TxInfAndSts")]
    if loose:
        batches.append(StatusBatch(batch_id=None, status=None, reason=NO_REASON, lines=loose))
    return StatusReport(
        message_id=message_id[:35],
        created_on=created_on,
        original_message_id=original[:35],
        original_message_name=text(group, "OrgnlMsgNmId"),
        group_status=_status(group, "GrpSts"),
        reason=_reason(group),
        batches=batches,
    )


def batches_of(content: bytes) -> dict[str, list[str]]:
    """Our own pain.008 or pain.001 file's batches: each ``PmtInfId`` with the end-to-end ids in it."""
    root = ET.fromstring(content)  # noqa: S314 - a file we made and stored
    found: dict[str, list[str]] = {}
    for message in root:
        for batch in children(message, "PmtInf"):
            ids = [e.text or "" for e in batch.iter() if local(e.tag) == "EndToEndId"]
            found[text(batch, "PmtInfId") or ""] = ids
    return found


@dataclass(frozen=True, slots=True)
class Rejection:
    """A transaction of the original file the bank refused, with the most specific reason it gave."""

    end_to_end_id: str
    reason: Reason


def rejections(
    report: StatusReport, *, batches: Mapping[str, Sequence[str]], end_to_end_ids: Collection[str]
) -> list[Rejection]:
    """The transactions of the original file that ``report`` rejects, in the file's order (module docstring).
    ``batches`` are the file's batches (``batches_of``), ``end_to_end_ids`` its transactions. A report naming a
    transaction or a batch the file does not hold is refused (``pain002_unknown_transaction``)."""
    unknown = sorted(
        {line.end_to_end_id for line in report.lines if line.end_to_end_id not in end_to_end_ids}
        | {b.batch_id for b in report.batches if b.batch_id is not None and b.batch_id not in batches}
    )
    if unknown:
        raise Invalid(
            f"The report names what the file does not hold: {', '.join(unknown)}.", code="pain002_unknown_transaction"
        )
    listed = {line.end_to_end_id: (line, batch) for batch in report.batches for line in batch.lines}
    batch_of = {e2e: batch_id for batch_id, ids in batches.items() for e2e in ids}
    by_id = {batch.batch_id: batch for batch in report.batches if batch.batch_id is not None}
    found = []
    for e2e in [e for ids in batches.values() for e in ids if e in end_to_end_ids]:
        line, listing = listed.get(e2e, (None, None))
        batch = by_id.get(batch_of[e2e]) or listing
        statuses = (report.group_status, batch.status if batch else None, line.status if line else None)
        if REJECTED in statuses:
            reasons = (line.reason if line else NO_REASON, batch.reason if batch else NO_REASON, report.reason)
            found.append(Rejection(e2e, next((r for r in reasons if r.code or r.info), NO_REASON)))
    return found
