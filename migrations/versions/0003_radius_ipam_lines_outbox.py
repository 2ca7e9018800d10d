"""FreeRADIUS tables (stock names), access routers and address pools, lines, provisioning outbox and history

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('access_routers',
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('netns', sa.String(length=63), nullable=True),
    sa.Column('uplink', sa.String(length=15), nullable=True),
    sa.Column('nas_ip', sa.String(length=45), nullable=False),
    sa.Column('coa_port', sa.Integer(), nullable=False),
    sa.Column('radius_secret', sa.String(length=128), nullable=False),
    sa.Column('portal_ipv4', sa.String(length=15), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('coa_port BETWEEN 1 AND 65535', name=op.f('ck_access_routers_coa_port_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_routers')),
    sa.UniqueConstraint('name', name=op.f('uq_access_routers_name')),
    sa.UniqueConstraint('nas_ip', name=op.f('uq_access_routers_nas_ip'))
    )
    op.create_table('nas',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('nasname', sa.Text(), nullable=False),
    sa.Column('shortname', sa.Text(), nullable=False),
    sa.Column('type', sa.Text(), server_default='other', nullable=False),
    sa.Column('ports', sa.Integer(), nullable=True),
    sa.Column('secret', sa.Text(), nullable=False),
    sa.Column('server', sa.Text(), nullable=True),
    sa.Column('community', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nas'))
    )
    op.create_index('nas_nasname', 'nas', ['nasname'], unique=False)
    op.create_table('nasreload',
    sa.Column('nasipaddress', sa.Text().with_variant(postgresql.INET(), 'postgresql'), nullable=False),
    sa.Column('reloadtime', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('nasipaddress', name=op.f('pk_nasreload'))
    )
    op.create_table('radacct',
    sa.Column('radacctid', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('acctsessionid', sa.Text(), nullable=False),
    sa.Column('acctuniqueid', sa.Text(), nullable=False),
    sa.Column('username', sa.Text(), nullable=True),
    sa.Column('realm', sa.Text(), nullable=True),
    sa.Column('nasipaddress', sa.Text().with_variant(postgresql.INET(), 'postgresql'), nullable=False),
    sa.Column('nasportid', sa.Text(), nullable=True),
    sa.Column('nasporttype', sa.Text(), nullable=True),
    sa.Column('acctstarttime', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acctupdatetime', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acctstoptime', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acctinterval', sa.BigInteger(), nullable=True),
    sa.Column('acctsessiontime', sa.BigInteger(), nullable=True),
    sa.Column('acctauthentic', sa.Text(), nullable=True),
    sa.Column('connectinfo_start', sa.Text(), nullable=True),
    sa.Column('connectinfo_stop', sa.Text(), nullable=True),
    sa.Column('acctinputoctets', sa.BigInteger(), nullable=True),
    sa.Column('acctoutputoctets', sa.BigInteger(), nullable=True),
    sa.Column('calledstationid', sa.Text(), nullable=True),
    sa.Column('callingstationid', sa.Text(), nullable=True),
    sa.Column('acctterminatecause', sa.Text(), nullable=True),
    sa.Column('servicetype', sa.Text(), nullable=True),
    sa.Column('framedprotocol', sa.Text(), nullable=True),
    sa.Column('framedipaddress', sa.Text().with_variant(postgresql.INET(), 'postgresql'), nullable=True),
    sa.Column('framedipv6address', sa.Text().with_variant(postgresql.INET(), 'postgresql'), nullable=True),
    sa.Column('framedipv6prefix', sa.Text().with_variant(postgresql.INET(), 'postgresql'), nullable=True),
    sa.Column('framedinterfaceid', sa.Text(), nullable=True),
    sa.Column('delegatedipv6prefix', sa.Text().with_variant(postgresql.INET(), 'postgresql'), nullable=True),
    sa.Column('class', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('radacctid', name=op.f('pk_radacct')),
    sa.UniqueConstraint('acctuniqueid', name='radacct_acctuniqueid_key')
    )
    op.create_index('radacct_active_session_idx', 'radacct', ['acctuniqueid'], unique=False, postgresql_where=sa.text('acctstoptime IS NULL'), sqlite_where=sa.text('acctstoptime IS NULL'))
    op.create_index('radacct_bulk_close', 'radacct', ['nasipaddress', 'acctstarttime'], unique=False, postgresql_where=sa.text('acctstoptime IS NULL'), sqlite_where=sa.text('acctstoptime IS NULL'))
    op.create_index('radacct_calss_idx', 'radacct', ['class'], unique=False)
    op.create_index('radacct_start_user_idx', 'radacct', ['acctstarttime', 'username'], unique=False)
    op.create_table('radcheck',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.Text(), server_default='', nullable=False),
    sa.Column('attribute', sa.Text(), server_default='', nullable=False),
    sa.Column('op', sa.String(length=2), server_default='==', nullable=False),
    sa.Column('value', sa.Text(), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_radcheck'))
    )
    op.create_index('radcheck_username', 'radcheck', ['username', 'attribute'], unique=False)
    op.create_table('radgroupcheck',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('groupname', sa.Text(), server_default='', nullable=False),
    sa.Column('attribute', sa.Text(), server_default='', nullable=False),
    sa.Column('op', sa.String(length=2), server_default='==', nullable=False),
    sa.Column('value', sa.Text(), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_radgroupcheck'))
    )
    op.create_index('radgroupcheck_groupname', 'radgroupcheck', ['groupname', 'attribute'], unique=False)
    op.create_table('radgroupreply',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('groupname', sa.Text(), server_default='', nullable=False),
    sa.Column('attribute', sa.Text(), server_default='', nullable=False),
    sa.Column('op', sa.String(length=2), server_default='=', nullable=False),
    sa.Column('value', sa.Text(), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_radgroupreply'))
    )
    op.create_index('radgroupreply_groupname', 'radgroupreply', ['groupname', 'attribute'], unique=False)
    op.create_table('radpostauth',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('username', sa.Text(), nullable=False),
    sa.Column('pass', sa.Text(), nullable=True),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('calledstationid', sa.Text(), nullable=True),
    sa.Column('callingstationid', sa.Text(), nullable=True),
    sa.Column('authdate', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('class', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_radpostauth'))
    )
    op.create_index('radpostauth_class_idx', 'radpostauth', ['class'], unique=False)
    op.create_index('radpostauth_username_idx', 'radpostauth', ['username'], unique=False)
    op.create_table('radreply',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.Text(), server_default='', nullable=False),
    sa.Column('attribute', sa.Text(), server_default='', nullable=False),
    sa.Column('op', sa.String(length=2), server_default='=', nullable=False),
    sa.Column('value', sa.Text(), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_radreply'))
    )
    op.create_index('radreply_username', 'radreply', ['username', 'attribute'], unique=False)
    op.create_table('radusergroup',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.Text(), server_default='', nullable=False),
    sa.Column('groupname', sa.Text(), server_default='', nullable=False),
    sa.Column('priority', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_radusergroup'))
    )
    op.create_index('radusergroup_username', 'radusergroup', ['username'], unique=False)
    op.create_table('address_pools',
    sa.Column('router_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('family', sa.Enum('ipv4', 'ipv6', name='pool_family', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('cidr', sa.String(length=49), nullable=False),
    sa.Column('gateway', sa.String(length=15), nullable=True),
    sa.Column('delegated_length', sa.Integer(), nullable=True),
    sa.Column('quarantine_days', sa.Integer(), nullable=False),
    sa.Column('next_slot', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(family = 'ipv4' AND gateway IS NOT NULL AND delegated_length IS NULL) OR (family = 'ipv6' AND gateway IS NULL AND delegated_length BETWEEN 48 AND 64)", name=op.f('ck_address_pools_family_fields')),
    sa.CheckConstraint('quarantine_days BETWEEN 0 AND 365', name=op.f('ck_address_pools_quarantine_range')),
    sa.ForeignKeyConstraint(['router_id'], ['access_routers.id'], name=op.f('fk_address_pools_router_id_access_routers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_address_pools')),
    sa.UniqueConstraint('cidr', name=op.f('uq_address_pools_cidr'))
    )
    op.create_index(op.f('ix_address_pools_router_id'), 'address_pools', ['router_id'], unique=False)
    op.create_table('address_assignments',
    sa.Column('pool_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('slot', sa.BigInteger(), nullable=False),
    sa.Column('value', sa.String(length=49), nullable=False),
    sa.Column('line_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.Enum('assigned', 'quarantined', name='assignment_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('is_static', sa.Boolean(), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('quarantine_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("(status = 'assigned' AND line_id IS NOT NULL) OR (status = 'quarantined' AND line_id IS NULL)", name=op.f('ck_address_assignments_holder_matches_status')),
    sa.ForeignKeyConstraint(['pool_id'], ['address_pools.id'], name=op.f('fk_address_assignments_pool_id_address_pools'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_address_assignments')),
    sa.UniqueConstraint('pool_id', 'slot', name=op.f('uq_address_assignments_pool_id_slot'))
    )
    op.create_index(op.f('ix_address_assignments_line_id'), 'address_assignments', ['line_id'], unique=False)
    op.create_table('lines',
    sa.Column('contract_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('router_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password', sa.String(length=64), nullable=False),
    sa.Column('ifname', sa.String(length=15), nullable=True),
    sa.Column('port_kind', sa.Enum('veth', 'vxlan', 'vlan', name='port_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('port_peer', sa.String(length=63), nullable=True),
    sa.Column('port_tag', sa.Integer(), nullable=True),
    sa.Column('port_remote', sa.String(length=45), nullable=True),
    sa.Column('ipv4', sa.String(length=15), nullable=True),
    sa.Column('ipv6_prefix', sa.String(length=49), nullable=True),
    sa.Column('state', sa.Enum('pending', 'active', 'walled', 'removed', name='line_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("port_kind = 'veth' OR (port_peer IS NOT NULL AND port_tag IS NOT NULL)", name=op.f('ck_lines_port_complete')),
    sa.CheckConstraint("state IN ('pending', 'removed') OR ipv4 IS NOT NULL", name=op.f('ck_lines_live_line_has_address')),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_lines_contract_id_contracts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['router_id'], ['access_routers.id'], name=op.f('fk_lines_router_id_access_routers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lines')),
    sa.UniqueConstraint('contract_id', name=op.f('uq_lines_contract_id')),
    sa.UniqueConstraint('ifname', name=op.f('uq_lines_ifname')),
    sa.UniqueConstraint('username', name=op.f('uq_lines_username'))
    )
    op.create_index(op.f('ix_lines_router_id'), 'lines', ['router_id'], unique=False)
    op.create_index(op.f('ix_lines_state'), 'lines', ['state'], unique=False)
    op.create_table('provisioning_jobs',
    sa.Column('kind', sa.Enum('router_sync', 'disconnect', 'coa', name='job_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('line_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('router_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.Enum('pending', 'done', 'failed', name='job_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('run_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('requested_by', sa.String(length=254), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_provisioning_jobs_line_id_lines'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['router_id'], ['access_routers.id'], name=op.f('fk_provisioning_jobs_router_id_access_routers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provisioning_jobs'))
    )
    op.create_index('ix_provisioning_jobs_due', 'provisioning_jobs', ['status', 'run_after'], unique=False)
    op.create_index(op.f('ix_provisioning_jobs_line_id'), 'provisioning_jobs', ['line_id'], unique=False)
    op.create_table('provisioning_events',
    sa.Column('line_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('job_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('step', sa.String(length=40), nullable=False),
    sa.Column('outcome', sa.Enum('ok', 'ack', 'nak', 'timeout', 'error', 'gave_up', name='event_outcome', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('detail', sa.String(length=1000), nullable=False),
    sa.Column('error_cause', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['provisioning_jobs.id'], name=op.f('fk_provisioning_events_job_id_provisioning_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_provisioning_events_line_id_lines'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provisioning_events'))
    )
    op.create_index(op.f('ix_provisioning_events_line_id'), 'provisioning_events', ['line_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_provisioning_events_line_id'), table_name='provisioning_events')
    op.drop_table('provisioning_events')
    op.drop_index(op.f('ix_provisioning_jobs_line_id'), table_name='provisioning_jobs')
    op.drop_index('ix_provisioning_jobs_due', table_name='provisioning_jobs')
    op.drop_table('provisioning_jobs')
    op.drop_index(op.f('ix_lines_state'), table_name='lines')
    op.drop_index(op.f('ix_lines_router_id'), table_name='lines')
    op.drop_table('lines')
    op.drop_index(op.f('ix_address_assignments_line_id'), table_name='address_assignments')
    op.drop_table('address_assignments')
    op.drop_index(op.f('ix_address_pools_router_id'), table_name='address_pools')
    op.drop_table('address_pools')
    op.drop_index('radusergroup_username', table_name='radusergroup')
    op.drop_table('radusergroup')
    op.drop_index('radreply_username', table_name='radreply')
    op.drop_table('radreply')
    op.drop_index('radpostauth_username_idx', table_name='radpostauth')
    op.drop_index('radpostauth_class_idx', table_name='radpostauth')
    op.drop_table('radpostauth')
    op.drop_index('radgroupreply_groupname', table_name='radgroupreply')
    op.drop_table('radgroupreply')
    op.drop_index('radgroupcheck_groupname', table_name='radgroupcheck')
    op.drop_table('radgroupcheck')
    op.drop_index('radcheck_username', table_name='radcheck')
    op.drop_table('radcheck')
    op.drop_index('radacct_start_user_idx', table_name='radacct')
    op.drop_index('radacct_calss_idx', table_name='radacct')
    op.drop_index('radacct_bulk_close', table_name='radacct', postgresql_where=sa.text('acctstoptime IS NULL'), sqlite_where=sa.text('acctstoptime IS NULL'))
    op.drop_index('radacct_active_session_idx', table_name='radacct', postgresql_where=sa.text('acctstoptime IS NULL'), sqlite_where=sa.text('acctstoptime IS NULL'))
    op.drop_table('radacct')
    op.drop_table('nasreload')
    op.drop_index('nas_nasname', table_name='nas')
    op.drop_table('nas')
    op.drop_table('access_routers')
