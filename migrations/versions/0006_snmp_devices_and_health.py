"""The SNMP side: devices with sealed credentials, which line runs over which port, what the poller last
saw of each device and interface, health conditions and incidents, interface history for graphs, and the
outage compensation days (§58 TKG) contracts are owed

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "router",
                "dslam",
                "olt",
                "switch",
                "cpe",
                name="device_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("host", sa.String(length=45), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("router_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "snmp_version",
            sa.Enum("v2c", "v3", name="snmp_version", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("community_sealed", sa.Text(), nullable=True),
        sa.Column("v3_user", sa.String(length=64), nullable=True),
        sa.Column(
            "auth_protocol",
            sa.Enum("sha", "sha256", name="snmp_auth_protocol", native_enum=False, create_constraint=True, length=32),
            nullable=True,
        ),
        sa.Column("auth_key_sealed", sa.Text(), nullable=True),
        sa.Column(
            "priv_protocol",
            sa.Enum("aes", name="snmp_priv_protocol", native_enum=False, create_constraint=True, length=32),
            nullable=True,
        ),
        sa.Column("priv_key_sealed", sa.Text(), nullable=True),
        sa.Column("poll_interval_s", sa.Integer(), nullable=False),
        sa.Column("timeout_ms", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(snmp_version = 'v2c' AND community_sealed IS NOT NULL) OR (snmp_version = 'v3' AND v3_user IS NOT NULL AND auth_protocol IS NOT NULL AND auth_key_sealed IS NOT NULL AND priv_protocol IS NOT NULL AND priv_key_sealed IS NOT NULL)",
            name=op.f("ck_devices_credentials_complete"),
        ),
        sa.CheckConstraint("poll_interval_s BETWEEN 10 AND 86400", name=op.f("ck_devices_poll_interval_range")),
        sa.CheckConstraint("port BETWEEN 1 AND 65535", name=op.f("ck_devices_port_range")),
        sa.CheckConstraint(
            "timeout_ms BETWEEN 100 AND 60000 AND retries BETWEEN 0 AND 5", name=op.f("ck_devices_timeout_range")
        ),
        sa.ForeignKeyConstraint(
            ["router_id"], ["access_routers.id"], name=op.f("fk_devices_router_id_access_routers"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("host", "port", name=op.f("uq_devices_host_port")),
        sa.UniqueConstraint("name", name=op.f("uq_devices_name")),
    )
    op.create_index(op.f("ix_devices_router_id"), "devices", ["router_id"], unique=False)
    op.create_table(
        "device_interfaces",
        sa.Column("device_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("if_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("admin_up", sa.Boolean(), nullable=True),
        sa.Column("oper_up", sa.Boolean(), nullable=True),
        sa.Column("speed_mbps", sa.BigInteger(), nullable=True),
        sa.Column("in_octets", sa.Numeric(precision=20, scale=0).with_variant(sa.String(length=20), "sqlite"), nullable=True),
        sa.Column("out_octets", sa.Numeric(precision=20, scale=0).with_variant(sa.String(length=20), "sqlite"), nullable=True),
        sa.Column("in_errors", sa.Numeric(precision=20, scale=0).with_variant(sa.String(length=20), "sqlite"), nullable=True),
        sa.Column("out_errors", sa.Numeric(precision=20, scale=0).with_variant(sa.String(length=20), "sqlite"), nullable=True),
        sa.Column("counter_bits", sa.SmallInteger(), nullable=False),
        sa.Column("in_bps", sa.BigInteger(), nullable=True),
        sa.Column("out_bps", sa.BigInteger(), nullable=True),
        sa.Column("errors_per_s", sa.Float(), nullable=True),
        sa.Column("actual_down_kbps", sa.Integer(), nullable=True),
        sa.Column("actual_up_kbps", sa.Integer(), nullable=True),
        sa.Column("attainable_down_kbps", sa.Integer(), nullable=True),
        sa.Column("attainable_up_kbps", sa.Integer(), nullable=True),
        sa.Column("snr_margin_down_tenth_db", sa.Integer(), nullable=True),
        sa.Column("snr_margin_up_tenth_db", sa.Integer(), nullable=True),
        sa.Column("attenuation_down_tenth_db", sa.Integer(), nullable=True),
        sa.Column("attenuation_up_tenth_db", sa.Integer(), nullable=True),
        sa.Column("sampled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "ok",
                "degraded",
                "down",
                "unknown",
                name="health_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("state_since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_interfaces_device_id_devices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("device_id", "if_index", name=op.f("pk_device_interfaces")),
    )
    op.create_table(
        "device_status",
        sa.Column("device_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("failures_in_a_row", sa.Integer(), nullable=False),
        sa.Column("uptime_cs", sa.BigInteger(), nullable=True),
        sa.Column("cpu_percent", sa.SmallInteger(), nullable=True),
        sa.Column("memory_percent", sa.SmallInteger(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "ok",
                "degraded",
                "down",
                "unknown",
                name="health_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("state_since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_status_device_id_devices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_status")),
    )
    op.create_index(op.f("ix_device_status_next_poll_at"), "device_status", ["next_poll_at"], unique=False)
    op.create_table(
        "incidents",
        sa.Column(
            "kind",
            sa.Enum(
                "device_unreachable",
                "interface_down",
                "snr_margin_low",
                "error_rate",
                "cpu_high",
                name="condition_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "severity",
            sa.Enum(
                "ok",
                "degraded",
                "down",
                "unknown",
                name="health_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("device_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("if_index", sa.Integer(), nullable=False),
        sa.Column("summary", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=255), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name=op.f("ck_incidents_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_incidents_device_id_devices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(op.f("ix_incidents_device_id"), "incidents", ["device_id"], unique=False)
    op.create_index(op.f("ix_incidents_ended_at"), "incidents", ["ended_at"], unique=False)
    op.create_index(op.f("ix_incidents_started_at"), "incidents", ["started_at"], unique=False)
    op.create_table(
        "interface_history",
        sa.Column("device_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("if_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("resolution_s", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("in_bps_sum", sa.BigInteger(), nullable=False),
        sa.Column("out_bps_sum", sa.BigInteger(), nullable=False),
        sa.Column("in_bps_max", sa.BigInteger(), nullable=False),
        sa.Column("out_bps_max", sa.BigInteger(), nullable=False),
        sa.Column("up_samples", sa.Integer(), nullable=False),
        sa.Column("snr_margin_down_min_tenth_db", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_interface_history_device_id_devices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(
            "device_id", "if_index", "resolution_s", "bucket_start", name=op.f("pk_interface_history")
        ),
    )
    op.create_table(
        "health_conditions",
        sa.Column("device_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("if_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "device_unreachable",
                "interface_down",
                "snr_margin_low",
                "error_rate",
                "cpu_high",
                name="condition_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.String(length=255), nullable=False),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_health_conditions_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_health_conditions_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("device_id", "if_index", "kind", name=op.f("pk_health_conditions")),
    )
    op.create_table(
        "incident_comments",
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("author_label", sa.String(length=255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name=op.f("fk_incident_comments_author_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_comments_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_comments")),
    )
    op.create_index(op.f("ix_incident_comments_incident_id"), "incident_comments", ["incident_id"], unique=False)
    op.create_table(
        "incident_lines",
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_lines_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_incident_lines_line_id_lines"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("incident_id", "line_id", name=op.f("pk_incident_lines")),
    )
    op.create_index(op.f("ix_incident_lines_line_id"), "incident_lines", ["line_id"], unique=False)
    op.create_table(
        "line_ports",
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("device_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("if_index", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("if_index > 0", name=op.f("ck_line_ports_if_index_positive")),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_line_ports_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_line_ports_line_id_lines"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("line_id", name=op.f("pk_line_ports")),
        sa.UniqueConstraint("device_id", "if_index", name=op.f("uq_line_ports_device_id_if_index")),
    )
    op.create_index(op.f("ix_line_ports_device_id"), "line_ports", ["device_id"], unique=False)
    op.create_table(
        "outage_compensations",
        sa.Column("contract_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("outage_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outage_ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lower_rate_days", sa.Integer(), nullable=False),
        sa.Column("higher_rate_days", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "lower_rate_days BETWEEN 0 AND 2 AND higher_rate_days >= 0", name=op.f("ck_outage_compensations_days_range")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_outage_compensations_contract_id_contracts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_outage_compensations_incident_id_incidents"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_outage_compensations_line_id_lines"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("contract_id", "incident_id", "period", name=op.f("pk_outage_compensations")),
    )
    op.create_index(op.f("ix_outage_compensations_line_id"), "outage_compensations", ["line_id"], unique=False)
    op.create_index("ix_outage_compensations_period", "outage_compensations", ["period"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outage_compensations_period", table_name="outage_compensations")
    op.drop_index(op.f("ix_outage_compensations_line_id"), table_name="outage_compensations")
    op.drop_table("outage_compensations")
    op.drop_index(op.f("ix_line_ports_device_id"), table_name="line_ports")
    op.drop_table("line_ports")
    op.drop_index(op.f("ix_incident_lines_line_id"), table_name="incident_lines")
    op.drop_table("incident_lines")
    op.drop_index(op.f("ix_incident_comments_incident_id"), table_name="incident_comments")
    op.drop_table("incident_comments")
    op.drop_table("health_conditions")
    op.drop_table("interface_history")
    op.drop_index(op.f("ix_incidents_started_at"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_ended_at"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_device_id"), table_name="incidents")
    op.drop_table("incidents")
    op.drop_index(op.f("ix_device_status_next_poll_at"), table_name="device_status")
    op.drop_table("device_status")
    op.drop_table("device_interfaces")
    op.drop_index(op.f("ix_devices_router_id"), table_name="devices")
    op.drop_table("devices")
