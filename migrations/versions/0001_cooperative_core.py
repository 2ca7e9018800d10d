"""cooperative core

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('actor_label', sa.String(length=254), nullable=False),
    sa.Column('actor_role', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=80), nullable=False),
    sa.Column('entity_type', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('before', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('after', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    op.create_index(op.f('ix_audit_events_action'), 'audit_events', ['action'], unique=False)
    op.create_index(op.f('ix_audit_events_actor_user_id'), 'audit_events', ['actor_user_id'], unique=False)
    op.create_index(op.f('ix_audit_events_at'), 'audit_events', ['at'], unique=False)
    op.create_index('ix_audit_events_entity', 'audit_events', ['entity_type', 'entity_id'], unique=False)
    op.create_table('login_attempts',
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempts'))
    )
    op.create_index('ix_login_attempts_email_at', 'login_attempts', ['email', 'at'], unique=False)
    op.create_table('members',
    sa.Column('number', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('applicant', 'member', 'rejected', 'left', 'customer', name='member_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=True),
    sa.Column('street', sa.String(length=200), nullable=False),
    sa.Column('postal_code', sa.String(length=10), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('applied_on', sa.Date(), nullable=False),
    sa.Column('shares_applied', sa.Integer(), nullable=False),
    sa.Column('admitted_on', sa.Date(), nullable=True),
    sa.Column('rejected_on', sa.Date(), nullable=True),
    sa.Column('notice_given_on', sa.Date(), nullable=True),
    sa.Column('leaving_on', sa.Date(), nullable=True),
    sa.Column('leaving_reason', sa.Enum('notice', 'transfer', 'death', 'exclusion', name='leaving_reason', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(leaving_on IS NULL) = (leaving_reason IS NULL)', name=op.f('ck_members_leaving_date_with_reason')),
    sa.CheckConstraint('shares_applied > 0', name=op.f('ck_members_shares_applied_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members')),
    sa.UniqueConstraint('number', name=op.f('uq_members_number'))
    )
    op.create_index(op.f('ix_members_email'), 'members', ['email'], unique=False)
    op.create_index(op.f('ix_members_last_name'), 'members', ['last_name'], unique=False)
    op.create_index(op.f('ix_members_leaving_on'), 'members', ['leaving_on'], unique=False)
    op.create_index(op.f('ix_members_status'), 'members', ['status'], unique=False)
    op.create_table('plans',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('down_kbps', sa.Integer(), nullable=False),
    sa.Column('up_kbps', sa.Integer(), nullable=False),
    sa.Column('monthly_fee_cents', sa.BigInteger(), nullable=False),
    sa.Column('setup_fee_cents', sa.BigInteger(), nullable=False),
    sa.Column('min_term_months', sa.Integer(), nullable=False),
    sa.Column('notice_months', sa.Integer(), nullable=False),
    sa.Column('includes_phone', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('down_kbps > 0 AND up_kbps > 0', name=op.f('ck_plans_rates_positive')),
    sa.CheckConstraint('min_term_months BETWEEN 0 AND 24', name=op.f('ck_plans_min_term_range')),
    sa.CheckConstraint('monthly_fee_cents >= 0 AND setup_fee_cents >= 0', name=op.f('ck_plans_fees_not_negative')),
    sa.CheckConstraint('notice_months BETWEEN 0 AND 3', name=op.f('ck_plans_notice_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans')),
    sa.UniqueConstraint('code', name=op.f('uq_plans_code'))
    )
    op.create_table('premises',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('street', sa.String(length=200), nullable=False),
    sa.Column('postal_code', sa.String(length=10), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('unit', sa.String(length=60), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_premises_member_id_members'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_premises'))
    )
    op.create_index(op.f('ix_premises_member_id'), 'premises', ['member_id'], unique=False)
    op.create_table('share_subscriptions',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shares', sa.Integer(), nullable=False),
    sa.Column('nominal_cents', sa.BigInteger(), nullable=False),
    sa.Column('instalments', sa.Integer(), nullable=False),
    sa.Column('subscribed_on', sa.Date(), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'effective', 'rejected', name='subscription_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('instalments BETWEEN 1 AND 60', name=op.f('ck_share_subscriptions_instalments_range')),
    sa.CheckConstraint('nominal_cents > 0', name=op.f('ck_share_subscriptions_nominal_positive')),
    sa.CheckConstraint('shares > 0', name=op.f('ck_share_subscriptions_shares_positive')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_share_subscriptions_member_id_members'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_share_subscriptions'))
    )
    op.create_index(op.f('ix_share_subscriptions_member_id'), 'share_subscriptions', ['member_id'], unique=False)
    op.create_table('share_transfers',
    sa.Column('from_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('to_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shares', sa.Integer(), nullable=False),
    sa.Column('capital_cents', sa.BigInteger(), nullable=False),
    sa.Column('agreed_on', sa.Date(), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('capital_cents >= 0', name=op.f('ck_share_transfers_capital_not_negative')),
    sa.CheckConstraint('from_member_id <> to_member_id', name=op.f('ck_share_transfers_distinct_members')),
    sa.CheckConstraint('shares > 0', name=op.f('ck_share_transfers_shares_positive')),
    sa.ForeignKeyConstraint(['from_member_id'], ['members.id'], name=op.f('fk_share_transfers_from_member_id_members'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['to_member_id'], ['members.id'], name=op.f('fk_share_transfers_to_member_id_members'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_share_transfers'))
    )
    op.create_index(op.f('ix_share_transfers_from_member_id'), 'share_transfers', ['from_member_id'], unique=False)
    op.create_index(op.f('ix_share_transfers_to_member_id'), 'share_transfers', ['to_member_id'], unique=False)
    op.create_table('users',
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.Enum('member', 'operator', 'board', 'admin', name='role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('locale', sa.String(length=5), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role <> 'member' OR member_id IS NOT NULL", name=op.f('ck_users_member_role_has_member')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_users_member_id_members'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email')),
    sa.UniqueConstraint('member_id', name=op.f('uq_users_member_id'))
    )
    op.create_table('auth_tokens',
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.Enum('api', 'session', name='token_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auth_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_auth_tokens_token_hash'))
    )
    op.create_index(op.f('ix_auth_tokens_expires_at'), 'auth_tokens', ['expires_at'], unique=False)
    op.create_index(op.f('ix_auth_tokens_user_id'), 'auth_tokens', ['user_id'], unique=False)
    op.create_table('capital_movements',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('kind', sa.Enum('payment', 'transfer_in', 'transfer_out', 'dividend_credit', 'loss', 'payout', name='capital_movement_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('reference', sa.String(length=140), nullable=True),
    sa.Column('transfer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint('amount_cents <> 0', name=op.f('ck_capital_movements_amount_nonzero')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_capital_movements_member_id_members'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['transfer_id'], ['share_transfers.id'], name=op.f('fk_capital_movements_transfer_id_share_transfers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_capital_movements'))
    )
    op.create_index(op.f('ix_capital_movements_effective_on'), 'capital_movements', ['effective_on'], unique=False)
    op.create_index(op.f('ix_capital_movements_member_id'), 'capital_movements', ['member_id'], unique=False)
    op.create_table('contracts',
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('premises_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('plan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.Enum('ordered', 'active', 'suspended', 'terminated', name='contract_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('ordered_on', sa.Date(), nullable=False),
    sa.Column('start_on', sa.Date(), nullable=True),
    sa.Column('min_term_months', sa.Integer(), nullable=False),
    sa.Column('notice_months', sa.Integer(), nullable=False),
    sa.Column('cancellation_received_on', sa.Date(), nullable=True),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('terminated_on', sa.Date(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status = 'ordered' OR status = 'terminated' OR start_on IS NOT NULL", name=op.f('ck_contracts_running_has_start')),
    sa.CheckConstraint('min_term_months BETWEEN 0 AND 24', name=op.f('ck_contracts_min_term_range')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_contracts_member_id_members'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_contracts_plan_id_plans'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['premises_id'], ['premises.id'], name=op.f('fk_contracts_premises_id_premises'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contracts')),
    sa.UniqueConstraint('number', name=op.f('uq_contracts_number'))
    )
    op.create_index(op.f('ix_contracts_member_id'), 'contracts', ['member_id'], unique=False)
    op.create_index(op.f('ix_contracts_plan_id'), 'contracts', ['plan_id'], unique=False)
    op.create_index(op.f('ix_contracts_premises_id'), 'contracts', ['premises_id'], unique=False)
    op.create_index(op.f('ix_contracts_status'), 'contracts', ['status'], unique=False)
    op.create_table('share_movements',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('kind', sa.Enum('subscription', 'cancellation', 'transfer_in', 'transfer_out', name='share_movement_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('transfer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint('delta <> 0', name=op.f('ck_share_movements_delta_nonzero')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_share_movements_member_id_members'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['subscription_id'], ['share_subscriptions.id'], name=op.f('fk_share_movements_subscription_id_share_subscriptions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['transfer_id'], ['share_transfers.id'], name=op.f('fk_share_movements_transfer_id_share_transfers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_share_movements'))
    )
    op.create_index(op.f('ix_share_movements_effective_on'), 'share_movements', ['effective_on'], unique=False)
    op.create_index(op.f('ix_share_movements_member_id'), 'share_movements', ['member_id'], unique=False)
    op.create_table('contract_events',
    sa.Column('contract_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('from_status', sa.Enum('ordered', 'active', 'suspended', 'terminated', name='from_status', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('to_status', sa.Enum('ordered', 'active', 'suspended', 'terminated', name='to_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('actor_label', sa.String(length=254), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_contract_events_actor_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_contract_events_contract_id_contracts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_events'))
    )
    op.create_index(op.f('ix_contract_events_contract_id'), 'contract_events', ['contract_id'], unique=False)
    _protect_audit_log()


def _protect_audit_log() -> None:
    """The audit log is append-only: PostgreSQL refuses UPDATE and DELETE on it."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    op.drop_index(op.f('ix_contract_events_contract_id'), table_name='contract_events')
    op.drop_table('contract_events')
    op.drop_index(op.f('ix_share_movements_member_id'), table_name='share_movements')
    op.drop_index(op.f('ix_share_movements_effective_on'), table_name='share_movements')
    op.drop_table('share_movements')
    op.drop_index(op.f('ix_contracts_status'), table_name='contracts')
    op.drop_index(op.f('ix_contracts_premises_id'), table_name='contracts')
    op.drop_index(op.f('ix_contracts_plan_id'), table_name='contracts')
    op.drop_index(op.f('ix_contracts_member_id'), table_name='contracts')
    op.drop_table('contracts')
    op.drop_index(op.f('ix_capital_movements_member_id'), table_name='capital_movements')
    op.drop_index(op.f('ix_capital_movements_effective_on'), table_name='capital_movements')
    op.drop_table('capital_movements')
    op.drop_index(op.f('ix_auth_tokens_user_id'), table_name='auth_tokens')
    op.drop_index(op.f('ix_auth_tokens_expires_at'), table_name='auth_tokens')
    op.drop_table('auth_tokens')
    op.drop_table('users')
    op.drop_index(op.f('ix_share_transfers_to_member_id'), table_name='share_transfers')
    op.drop_index(op.f('ix_share_transfers_from_member_id'), table_name='share_transfers')
    op.drop_table('share_transfers')
    op.drop_index(op.f('ix_share_subscriptions_member_id'), table_name='share_subscriptions')
    op.drop_table('share_subscriptions')
    op.drop_index(op.f('ix_premises_member_id'), table_name='premises')
    op.drop_table('premises')
    op.drop_table('plans')
    op.drop_index(op.f('ix_members_status'), table_name='members')
    op.drop_index(op.f('ix_members_leaving_on'), table_name='members')
    op.drop_index(op.f('ix_members_last_name'), table_name='members')
    op.drop_index(op.f('ix_members_email'), table_name='members')
    op.drop_table('members')
    op.drop_index('ix_login_attempts_email_at', table_name='login_attempts')
    op.drop_table('login_attempts')
    op.drop_index('ix_audit_events_entity', table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_at'), table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_actor_user_id'), table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_action'), table_name='audit_events')
    op.drop_table('audit_events')
