"""Background work for invoices: the loop that renders and stores the PDFs of issued invoices after the
issuing transaction committed (the board's issue action leaves them to it)."""

from __future__ import annotations

from app.db import Database
from app.kit.loops import LoopRunner
from app.settings import Settings
from billing.invoices import documents

LOOP_NAME = "invoice-pdfs"
INTERVAL_S = 15.0
PER_ROUND = 400


def register(runner: LoopRunner, settings: Settings, database: Database) -> None:
    """Render up to ``PER_ROUND`` pending PDFs every ``INTERVAL_S`` seconds. It opens its own transactions
    (none stays open while the workers render); a PDF another process stored first is kept, not replaced."""

    async def round_() -> int:
        report = await documents.render_pending(database, settings=settings, limit=PER_ROUND)
        return report.rendered

    runner.register_self_managed(LOOP_NAME, INTERVAL_S, round_)
