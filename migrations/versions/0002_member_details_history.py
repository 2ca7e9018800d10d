"""member details history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('member_details',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=True),
    sa.Column('street', sa.String(length=200), nullable=False),
    sa.Column('postal_code', sa.String(length=10), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_member_details_member_id_members'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_details'))
    )
    op.create_index('ix_member_details_member_effective', 'member_details', ['member_id', 'effective_on'], unique=False)
    op.create_index(op.f('ix_member_details_member_id'), 'member_details', ['member_id'], unique=False)
    # Members recorded before this history existed start with their current name and address.
    op.execute(
        """
        INSERT INTO member_details (member_id, effective_on, first_name, last_name, organisation, street,
                                    postal_code, city, country, recorded_at)
        SELECT id, applied_on, first_name, last_name, organisation, street, postal_code, city, country, created_at
        FROM members
        """
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_member_details_member_id'), table_name='member_details')
    op.drop_index('ix_member_details_member_effective', table_name='member_details')
    op.drop_table('member_details')
