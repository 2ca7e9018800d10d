"""Rendering through the worker pool: one document, and a batch with bounded work in flight and progress."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace

import pytest
from facturx import get_facturx_xml_from_pdf

from app.kit.errors import Invalid
from billing.documents import service
from billing.documents.pdf import invoice_pdf
from tests.billing.documents.builders import make_credit_note, make_invoice_document


def test_sha256_is_the_hex_digest_of_the_bytes() -> None:
    assert service.sha256(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


async def test_pool_renders_the_same_document_as_in_process() -> None:
    doc = make_invoice_document()

    pdf = await service.render_invoice_pdf(doc)

    assert pdf.startswith(b"%PDF-")
    _, xml = get_facturx_xml_from_pdf(pdf)
    assert xml == service.invoice_xml(doc)
    # The PDF's dates differ from one rendering to the next; the invoice XML inside does not.
    assert get_facturx_xml_from_pdf(invoice_pdf(doc))[1] == xml


async def test_batch_renders_every_document_once_and_reports_progress() -> None:
    docs = [make_invoice_document(number=f"RE-2026-{n:06d}") for n in range(1, 6)] + [make_credit_note()]
    progress: list[tuple[int, int]] = []

    rendered = [r async for r in service.render_many(docs, in_flight=2, progress=lambda d, t: progress.append((d, t)))]

    assert sorted(r.index for r in rendered) == list(range(len(docs)))
    assert {r.number for r in rendered} == {d.number for d in docs}
    assert all(r.sha256 == hashlib.sha256(r.pdf).hexdigest() for r in rendered)
    for r in rendered:
        assert docs[r.index].number.encode() in get_facturx_xml_from_pdf(r.pdf)[1]
    assert progress == [(n, len(docs)) for n in range(1, len(docs) + 1)]


async def test_batch_stops_at_a_document_that_does_not_add_up() -> None:
    good = make_invoice_document()
    bad = replace(good, number="RE-2026-999999", amount_due_cents=good.amount_due_cents + 1)

    with pytest.raises(Invalid) as refused:
        _ = [r async for r in service.render_many([good, bad, good], in_flight=1)]

    assert refused.value.code == "document_amount_due"


async def test_batch_keeps_at_most_in_flight_documents_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = [make_invoice_document(number=f"RE-2026-{n:06d}") for n in range(1, 11)]
    state = {"now": 0, "most": 0}

    async def counting(doc: object, *, locale: str = "de") -> bytes:
        state["now"] += 1
        state["most"] = max(state["most"], state["now"])
        await asyncio.sleep(0.01)
        state["now"] -= 1
        return b"%PDF-"

    monkeypatch.setattr(service, "render_invoice_pdf", counting)

    rendered = [r async for r in service.render_many(docs, in_flight=3)]

    assert len(rendered) == 10
    assert state["most"] == 3
