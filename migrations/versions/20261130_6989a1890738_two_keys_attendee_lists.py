"""Two organisers to open an attendee list: the hub switch and the requests (issue 16).

Revision ID: 6989a1890738
Revises: 054104a49fe3
Create Date: 2026-11-30 12:09:55.619574

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6989a1890738'
down_revision = '054104a49fe3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('attendee_list_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('approver_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['approver_id'], ['users.id'], name=op.f('fk_attendee_list_requests_approver_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_attendee_list_requests_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], name=op.f('fk_attendee_list_requests_requester_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendee_list_requests')),
    sa.UniqueConstraint('public_id', name=op.f('uq_attendee_list_requests_public_id'))
    )
    with op.batch_alter_table('attendee_list_requests', schema=None) as batch_op:
        batch_op.create_index('ix_attendee_list_requests_event', ['event_id', 'created_at'], unique=False)

    with op.batch_alter_table('hubs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attendee_list_two_keys', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade():
    with op.batch_alter_table('hubs', schema=None) as batch_op:
        batch_op.drop_column('attendee_list_two_keys')

    with op.batch_alter_table('attendee_list_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_attendee_list_requests_event')

    op.drop_table('attendee_list_requests')
