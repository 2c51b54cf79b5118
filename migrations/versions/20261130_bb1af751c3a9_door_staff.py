"""Door staff: members an organiser assigns to check tickets at one event (issue 16).

Revision ID: bb1af751c3a9
Revises: c0a1e5b70a11
Create Date: 2026-11-30 11:31:09.279395

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'bb1af751c3a9'
down_revision = 'c0a1e5b70a11'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('door_staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('assigned_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['users.id'], name=op.f('fk_door_staff_assigned_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_door_staff_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_door_staff_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_door_staff')),
    sa.UniqueConstraint('event_id', 'user_id', name=op.f('uq_door_staff_event_id_user_id')),
    sa.UniqueConstraint('public_id', name=op.f('uq_door_staff_public_id'))
    )
    with op.batch_alter_table('door_staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_door_staff_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('door_staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_door_staff_user_id'))

    op.drop_table('door_staff')
