"""Vouched admission: hubs.vouches_required and the vouches members give (issue 16).

Revision ID: 054104a49fe3
Revises: e6f463dd5d29
Create Date: 2026-11-30 12:03:32.716622

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '054104a49fe3'
down_revision = 'e6f463dd5d29'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('vouches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=False),
    sa.Column('voucher_id', sa.Integer(), nullable=False),
    sa.Column('vouched', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], name=op.f('fk_vouches_membership_id_memberships'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['voucher_id'], ['users.id'], name=op.f('fk_vouches_voucher_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vouches')),
    sa.UniqueConstraint('membership_id', 'voucher_id', name=op.f('uq_vouches_membership_id_voucher_id'))
    )
    with op.batch_alter_table('vouches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vouches_membership_id'), ['membership_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vouches_voucher_id'), ['voucher_id'], unique=False)

    with op.batch_alter_table('hubs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vouches_required', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(op.f('ck_hubs_vouches_required_range'),
                                         'vouches_required BETWEEN 0 AND 3')



def downgrade():
    with op.batch_alter_table('hubs', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_hubs_vouches_required_range'), type_='check')
        batch_op.drop_column('vouches_required')

    with op.batch_alter_table('vouches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vouches_voucher_id'))
        batch_op.drop_index(batch_op.f('ix_vouches_membership_id'))

    op.drop_table('vouches')
