"""HTML -> PDF with WeasyPrint in a pool of worker processes (CPU-heavy work stays off the event loop).

The workers are spawned once and kept (warm): each imports WeasyPrint when it starts, and work sent to it
(``run_in_pool``) may keep parsed stylesheets and fonts in module-level caches for the next job.
"""

from __future__ import annotations

import asyncio
import atexit
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_pool: ProcessPoolExecutor | None = None
_warmers: list[Callable[[], object]] = []


def register_warm_up(function: Callable[[], object]) -> None:
    """Have every worker call ``function`` (module-level) when it starts, e.g. to parse a stylesheet once;
    it applies to workers of a pool started after this call."""
    if function not in _warmers:
        _warmers.append(function)


def _warm(warmers: tuple[Callable[[], object], ...]) -> None:
    import weasyprint  # noqa: F401 - paid once per worker at its start, not by its first document

    for function in warmers:
        function()


def _render(html: str, base_url: str | None) -> bytes:
    from weasyprint import HTML

    return bytes(HTML(string=html, base_url=base_url).write_pdf())


def workers() -> int:
    """One worker per core this process may run on: rendering is CPU-bound."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 2


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        # spawn, not fork: the parent holds database connections and an event loop.
        _pool = ProcessPoolExecutor(
            max_workers=workers(),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_warm,
            initargs=(tuple(_warmers),),
        )
        atexit.register(shutdown)
    return _pool


def shutdown() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


async def run_in_pool(function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` in a worker; function and arguments must pickle (module-level, plain data)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_get_pool(), function, *args)


async def html_to_pdf(html: str, *, base_url: str | None = None) -> bytes:
    return await run_in_pool(_render, html, base_url)
