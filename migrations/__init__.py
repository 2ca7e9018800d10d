"""One Alembic history for every table, including the ones FreeRADIUS and Asterisk read."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

MIGRATIONS_DIR = Path(__file__).resolve().parent


def target_metadata() -> sa.MetaData:
    """The metadata of every model; importing the model modules registers their tables."""
    import app.audit.models
    import app.auth.models
    import app.contracts.models
    import app.members.models  # noqa: F401
    import billing.dividends.models
    import billing.dunning.models
    import billing.invoices.models
    import billing.ledger.models
    import billing.payments.models  # noqa: F401
    import network.health.models
    import network.models  # noqa: F401
    import provisioning.models
    import provisioning.radius.models  # noqa: F401
    import voip.lines
    import voip.models
    import voip.numbers
    import voip.rates  # noqa: F401
    from app.kit.db import Base

    return Base.metadata
