"""FreeRADIUS 3.2's own tables, in our database and our migrations (DESIGN.md decision 1).

Column names, types and index names are those of FreeRADIUS's stock PostgreSQL ``schema.sql``, so the
stock rlm_sql queries run unchanged. The stock schema writes its identifiers unquoted in CamelCase,
which PostgreSQL folds to lower case; these are the names declared here.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.db import Base, UTCDateTime

# PostgreSQL's inet where FreeRADIUS uses it; text on the embedded SQLite default, where no RADIUS server reads.
Inet = sa.Text().with_variant(postgresql.INET(), "postgresql")
Serial = sa.Integer()
BigSerial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _text(default: str) -> Mapped[str]:
    return mapped_column(sa.Text, nullable=False, server_default=default)


class RadCheck(Base):
    """A check item for one RADIUS user: here the line's Cleartext-Password."""

    __tablename__ = "radcheck"

    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    username: Mapped[str] = _text("")
    attribute: Mapped[str] = _text("")
    op: Mapped[str] = mapped_column(sa.String(2), nullable=False, server_default="==")
    value: Mapped[str] = _text("")

    __table_args__ = (sa.Index("radcheck_username", "username", "attribute"),)


class RadReply(Base):
    """A reply item for one RADIUS user: the line's address and delegated prefix."""

    __tablename__ = "radreply"

    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    username: Mapped[str] = _text("")
    attribute: Mapped[str] = _text("")
    op: Mapped[str] = mapped_column(sa.String(2), nullable=False, server_default="=")
    value: Mapped[str] = _text("")

    __table_args__ = (sa.Index("radreply_username", "username", "attribute"),)


class RadGroupCheck(Base):
    """A check item shared by a RADIUS group (unused by our plans, read by the stock queries)."""

    __tablename__ = "radgroupcheck"

    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    groupname: Mapped[str] = _text("")
    attribute: Mapped[str] = _text("")
    op: Mapped[str] = mapped_column(sa.String(2), nullable=False, server_default="==")
    value: Mapped[str] = _text("")

    __table_args__ = (sa.Index("radgroupcheck_groupname", "groupname", "attribute"),)


class RadGroupReply(Base):
    """A reply item shared by a RADIUS group: a plan's rate attributes."""

    __tablename__ = "radgroupreply"

    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    groupname: Mapped[str] = _text("")
    attribute: Mapped[str] = _text("")
    op: Mapped[str] = mapped_column(sa.String(2), nullable=False, server_default="=")
    value: Mapped[str] = _text("")

    __table_args__ = (sa.Index("radgroupreply_groupname", "groupname", "attribute"),)


class RadUserGroup(Base):
    """Which RADIUS group (plan) a user belongs to."""

    __tablename__ = "radusergroup"

    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    username: Mapped[str] = _text("")
    groupname: Mapped[str] = _text("")
    priority: Mapped[int] = mapped_column(sa.Integer, nullable=False, server_default="0")

    __table_args__ = (sa.Index("radusergroup_username", "username"),)


class RadAcct(Base):
    """One accounting session as the NAS reported it (written by FreeRADIUS, read by us)."""

    __tablename__ = "radacct"

    radacctid: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    acctsessionid: Mapped[str] = mapped_column(sa.Text, nullable=False)
    acctuniqueid: Mapped[str] = mapped_column(sa.Text, nullable=False)
    username: Mapped[str | None] = mapped_column(sa.Text)
    realm: Mapped[str | None] = mapped_column(sa.Text)
    nasipaddress: Mapped[str] = mapped_column(Inet, nullable=False)
    nasportid: Mapped[str | None] = mapped_column(sa.Text)
    nasporttype: Mapped[str | None] = mapped_column(sa.Text)
    acctstarttime: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acctupdatetime: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acctstoptime: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acctinterval: Mapped[int | None] = mapped_column(sa.BigInteger)
    acctsessiontime: Mapped[int | None] = mapped_column(sa.BigInteger)
    acctauthentic: Mapped[str | None] = mapped_column(sa.Text)
    connectinfo_start: Mapped[str | None] = mapped_column(sa.Text)
    connectinfo_stop: Mapped[str | None] = mapped_column(sa.Text)
    acctinputoctets: Mapped[int | None] = mapped_column(sa.BigInteger)
    acctoutputoctets: Mapped[int | None] = mapped_column(sa.BigInteger)
    calledstationid: Mapped[str | None] = mapped_column(sa.Text)
    callingstationid: Mapped[str | None] = mapped_column(sa.Text)
    acctterminatecause: Mapped[str | None] = mapped_column(sa.Text)
    servicetype: Mapped[str | None] = mapped_column(sa.Text)
    framedprotocol: Mapped[str | None] = mapped_column(sa.Text)
    framedipaddress: Mapped[str | None] = mapped_column(Inet)
    framedipv6address: Mapped[str | None] = mapped_column(Inet)
    framedipv6prefix: Mapped[str | None] = mapped_column(Inet)
    framedinterfaceid: Mapped[str | None] = mapped_column(sa.Text)
    delegatedipv6prefix: Mapped[str | None] = mapped_column(Inet)
    class_: Mapped[str | None] = mapped_column("class", sa.Text)

    __table_args__ = (
        sa.UniqueConstraint("acctuniqueid", name="radacct_acctuniqueid_key"),
        sa.Index(
            "radacct_active_session_idx",
            "acctuniqueid",
            postgresql_where=sa.text("acctstoptime IS NULL"),
            sqlite_where=sa.text("acctstoptime IS NULL"),
        ),
        sa.Index(
            "radacct_bulk_close",
            "nasipaddress",
            "acctstarttime",
            postgresql_where=sa.text("acctstoptime IS NULL"),
            sqlite_where=sa.text("acctstoptime IS NULL"),
        ),
        sa.Index("radacct_start_user_idx", "acctstarttime", "username"),
        sa.Index("radacct_calss_idx", "class"),
    )


class RadPostAuth(Base):
    """FreeRADIUS's log of authentication outcomes."""

    __tablename__ = "radpostauth"

    id: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(sa.Text, nullable=False)
    pass_: Mapped[str | None] = mapped_column("pass", sa.Text)
    reply: Mapped[str | None] = mapped_column(sa.Text)
    calledstationid: Mapped[str | None] = mapped_column(sa.Text)
    callingstationid: Mapped[str | None] = mapped_column(sa.Text)
    authdate: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, server_default=sa.func.now())
    class_: Mapped[str | None] = mapped_column("class", sa.Text)

    __table_args__ = (
        sa.Index("radpostauth_username_idx", "username"),
        sa.Index("radpostauth_class_idx", "class"),
    )


class Nas(Base):
    """A RADIUS client (our access routers' NAS addresses and shared secrets), read by FreeRADIUS."""

    __tablename__ = "nas"

    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    nasname: Mapped[str] = mapped_column(sa.Text, nullable=False)
    shortname: Mapped[str] = mapped_column(sa.Text, nullable=False)
    type: Mapped[str] = mapped_column(sa.Text, nullable=False, server_default="other")
    ports: Mapped[int | None] = mapped_column(sa.Integer)
    secret: Mapped[str] = mapped_column(sa.Text, nullable=False)
    server: Mapped[str | None] = mapped_column(sa.Text)
    community: Mapped[str | None] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (sa.Index("nas_nasname", "nasname"),)


class NasReload(Base):
    """When a NAS last rebooted (FreeRADIUS's bulk session close)."""

    __tablename__ = "nasreload"

    nasipaddress: Mapped[str] = mapped_column(Inet, primary_key=True)
    reloadtime: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
