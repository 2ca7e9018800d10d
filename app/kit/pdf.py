"""HTML -> PDF with WeasyPrint in a pool of worker processes (CPU-heavy work stays off the event loop)."""

from __future__ import annotations

import asyncio
import atexit
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

_pool: ProcessPoolExecutor | None = None


def _render(html: str, base_url: str | None) -> bytes:
    from weasyprint import HTML

    return bytes(HTML(string=html, base_url=base_url).write_pdf())


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        # spawn, not fork: the parent holds database connections and an event loop.
        _pool = ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"))
        atexit.register(shutdown)
    return _pool


def shutdown() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


async def html_to_pdf(html: str, *, base_url: str | None = None) -> bytes:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_get_pool(), _render, html, base_url)
