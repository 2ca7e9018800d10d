"""Rendering invoices and credit notes: the PDF (with Factur-X) through the worker pool, the XML in process,
the hash the stored file is kept with (GoBD), and a batch for a bill run's thousands of documents."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from functools import partial

from app.kit.pdf import register_warm_up, run_in_pool, workers
from billing.documents import pdf
from billing.documents.cii import Profile, cii_xml
from billing.documents.model import InvoiceDocument

register_warm_up(pdf.warm_up)


@dataclass(frozen=True)
class RenderedDocument:
    """One rendered document of a batch: which one (its index in the batch and its number), the PDF, its hash."""

    index: int
    number: str
    pdf: bytes
    sha256: str


def sha256(data: bytes) -> str:
    """The hex SHA-256 a stored document is kept and checked with."""
    return hashlib.sha256(data).hexdigest()


def invoice_xml(doc: InvoiceDocument, *, profile: Profile = Profile.EN16931) -> bytes:
    """The document's CII XML: ``Profile.EN16931`` is what the PDF embeds, ``Profile.XRECHNUNG`` the export
    for business members (``billing.documents.xrechnung``)."""
    return cii_xml(doc, profile=profile)


async def render_invoice_pdf(doc: InvoiceDocument, *, locale: str = "de") -> bytes:
    """The PDF/A-3 with the EN 16931 XML embedded (Factur-X), rendered in a worker process."""
    return await run_in_pool(partial(pdf.invoice_pdf, locale=locale), doc)


async def render_many(
    docs: Sequence[InvoiceDocument],
    *,
    in_flight: int | None = None,
    locale: str = "de",
    progress: Callable[[int, int], None] | None = None,
) -> AsyncIterator[RenderedDocument]:
    """Render ``docs`` through the pool with at most ``in_flight`` documents sent at once (default: two per
    worker, so no worker waits), yielding each as it is done (not in order) so the caller stores it and
    memory stays bounded. ``progress(done, total)`` is called after each. If a document fails, the ones in
    flight are cancelled and the error is raised; what was yielded before is complete."""
    limit = max(in_flight or 2 * workers(), 1)
    total, done, queued = len(docs), 0, iter(enumerate(docs))
    pending: dict[asyncio.Task[bytes], tuple[int, str]] = {}

    def fill() -> None:
        while len(pending) < limit:
            try:
                index, doc = next(queued)
            except StopIteration:
                return
            pending[asyncio.ensure_future(render_invoice_pdf(doc, locale=locale))] = (index, doc.number)

    fill()
    try:
        while pending:
            finished, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                index, number = pending.pop(task)
                data = task.result()
                done += 1
                if progress:
                    progress(done, total)
                yield RenderedDocument(index=index, number=number, pdf=data, sha256=sha256(data))
            fill()
    finally:
        for task in pending:
            task.cancel()
