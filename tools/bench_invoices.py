"""Benchmark: invoice PDFs (one page, PDF/A-3 with the Factur-X XML embedded) rendered through the worker pool
as a bill run would (``billing.documents.service.render_many``), after the workers are warm.

Figures: documents per second of wall time with one worker per core (``invoice_pdf_per_s``, goal: at least
10 on 2 cores), the workers' CPU per document and their peak RSS, and, measured in this process, where one
document's time goes (HTML, WeasyPrint's layout, writing the PDF, the XML, the Factur-X embedding), which
says what limits the figure. Every loop is bounded in count.

    python tools/bench_invoices.py [COUNT]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.kit import pdf as pool  # noqa: E402
from billing.documents import pdf, service  # noqa: E402
from billing.documents.cii import cii_xml  # noqa: E402
from billing.documents.model import InvoiceDocument  # noqa: E402
from tests.billing.documents.builders import make_buyer, make_invoice_document  # noqa: E402
from tools.processes import peak_rss_mib  # noqa: E402

COUNT = 300
PROFILE_ROUNDS = 20


def documents(count: int) -> list[InvoiceDocument]:
    """``count`` invoices of different members (names, numbers), each the realistic five-line month."""
    base = make_invoice_document()
    buyer = make_buyer()
    return [
        replace(
            base,
            number=f"RE-2026-{n:06d}",
            buyer=replace(buyer, name=f"Mitglied Nr. {10_000 + n}", member_number=10_000 + n),
        )
        for n in range(1, count + 1)
    ]


def _cpu_s(pid: int) -> float:
    """A process's user + system CPU seconds so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker_pids() -> list[int]:
    executor = pool._get_pool()
    return list(executor._processes or {})


async def _run_pool(docs: list[InvoiceDocument]) -> dict[str, float]:
    warm = documents(2 * pool.workers())
    _ = [r async for r in service.render_many(warm)]  # spawns the workers and warms them
    pids = _worker_pids()
    cpu_before = sum(_cpu_s(pid) for pid in pids)
    sizes: list[int] = []
    started = time.perf_counter()
    async for rendered in service.render_many(docs):
        sizes.append(len(rendered.pdf))
    wall = time.perf_counter() - started
    cpu = sum(_cpu_s(pid) for pid in pids) - cpu_before
    return {
        "invoice_pdf_per_s": round(len(docs) / wall, 2),
        # What the workers' CPU per document allows with every core free for them: on a machine that
        # runs other work meanwhile (see the load average), the wall-time figure above is lower.
        "invoice_pdf_per_s_cpu_bound": round(len(pids) * len(docs) / cpu, 2),
        "invoice_pdf_load_average_1m": round(os.getloadavg()[0], 2),
        "invoice_pdf_workers": len(pids),
        "invoice_pdf_worker_cpu_ms": round(cpu * 1000 / len(docs), 1),
        "invoice_pdf_worker_peak_rss_mib": round(max(peak_rss_mib(pid) for pid in pids), 1),
        "invoice_pdf_kib": round(statistics.mean(sizes) / 1024, 1),
    }


def _timed(function: Callable[[], object]) -> float:
    started = time.process_time()
    for _ in range(PROFILE_ROUNDS):
        function()
    return (time.process_time() - started) * 1000 / PROFILE_ROUNDS


def breakdown() -> dict[str, float]:
    """Where one document's CPU goes, each step measured on its own in this (warm) process."""
    from facturx import generate_from_binary
    from weasyprint import HTML

    doc = documents(1)[0]
    pdf.warm_up()
    pdf.invoice_pdf(doc)
    html = pdf.invoice_html(doc)
    css, fonts = pdf._resources()
    plain = pdf.plain_pdf(html)
    xml = cii_xml(doc)
    return {
        "invoice_html_ms": round(_timed(lambda: pdf.invoice_html(doc)), 2),
        "invoice_layout_ms": round(_timed(lambda: HTML(string=html).render(stylesheets=[css], font_config=fonts)), 2),
        "invoice_layout_and_write_ms": round(_timed(lambda: pdf.plain_pdf(html)), 2),
        "invoice_xml_and_xsd_ms": round(_timed(lambda: pdf.check_xml(cii_xml(doc))), 2),
        "invoice_facturx_embed_ms": round(
            _timed(lambda: generate_from_binary(plain, xml, flavor="factur-x", level="en16931", check_xsd=False)), 2
        ),
        "invoice_total_ms": round(_timed(lambda: pdf.invoice_pdf(doc)), 2),
    }


def bench_invoices(count: int = COUNT) -> dict[str, float]:
    figures = asyncio.run(_run_pool(documents(count)))
    pool.shutdown()
    figures.update(breakdown())
    return figures


def print_table(figures: dict[str, float]) -> None:
    print(f"{'invoice PDFs (Factur-X, PDF/A-3)':<40} {'value':>10}")
    for key, value in figures.items():
        print(f"{key:<40} {value:>10}")
    print("goal: invoice_pdf_per_s at least 10 on 2 cores")


def main() -> None:
    import json

    count = int(sys.argv[1]) if len(sys.argv) > 1 else COUNT
    figures = bench_invoices(count)
    print_table(figures)
    out = ROOT / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing.update(figures)
    out.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
