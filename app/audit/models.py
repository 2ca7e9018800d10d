"""The audit log: one row per changed record, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.db import Base, IdMixin, IdType, UTCDateTime

JsonType = sa.JSON().with_variant(JSONB(), "postgresql")


class AuditEvent(IdMixin, Base):
    """Who changed what, when, through which channel, with the values before and after."""

    __tablename__ = "audit_events"

    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(IdType, index=True)
    actor_label: Mapped[str] = mapped_column(sa.String(254))
    actor_role: Mapped[str] = mapped_column(sa.String(16))
    channel: Mapped[str] = mapped_column(sa.String(16))
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(80), index=True)
    entity_type: Mapped[str] = mapped_column(sa.String(64))
    entity_id: Mapped[str] = mapped_column(sa.String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonType)

    __table_args__ = (sa.Index("ix_audit_events_entity", "entity_type", "entity_id"),)
