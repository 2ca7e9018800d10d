"""Engine and session factory; the request dependency and the job wrapper own the transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.kit.errors import DomainError
from app.settings import Settings, get_settings


def make_engine(settings: Settings) -> AsyncEngine:
    kwargs: dict[str, Any] = {"echo": settings.database_echo}
    if settings.is_sqlite:
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(settings.database_url, **kwargs)
    if settings.is_sqlite:

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


ROLLBACK_ONLY = "rollback_only"


def mark_rollback_only(session: AsyncSession) -> None:
    """The caller answered an error without raising it (an error page): nothing of this unit may be kept."""
    session.info[ROLLBACK_ONLY] = True


@asynccontextmanager
async def unit_of_work(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Commit on success, roll back on any error, except a refusal that must be remembered."""
    try:
        yield session
        if session.info.pop(ROLLBACK_ONLY, False):
            await session.rollback()
        else:
            await session.commit()
    except DomainError as error:
        if error.keep_changes:
            await session.commit()
        else:
            await session.rollback()
        raise
    except BaseException:
        await session.rollback()
        raise


def load_models() -> None:
    """Register every table, so foreign keys between domains resolve whichever domain is used first,
    and the listeners by which one domain follows another's changes (the composition root)."""
    from billing.dividends.transfers import install as install_dividends
    from billing.dunning.service import install as install_dunning
    from billing.ledger.service import install as install_ledger
    from migrations import target_metadata
    from provisioning.service import install as install_provisioning
    from voip.service import install as install_voip

    target_metadata()
    install_provisioning()
    install_voip()
    install_ledger()
    install_dunning()
    install_dividends()


class Database:
    """The process's engine and session factory."""

    def __init__(self, settings: Settings):
        load_models()
        self.settings = settings
        self.engine = make_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work in a new session."""
        async with self.sessionmaker() as session, unit_of_work(session):
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


_database: Database | None = None


def get_database() -> Database:
    global _database
    if _database is None:
        _database = Database(get_settings())
    return _database


def set_database(database: Database | None) -> None:
    global _database
    _database = database
